// `--param key=value` parsing for reconstruction methods: each method reads its keys once,
// into its Options structs, at construction; unknown keys and bad values are UserErrors
// naming the option.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>

namespace rb::recon {

class Params {
 public:
  Params(const std::map<std::string, std::string>& params, std::string method);
  double get(const std::string& key, double def);
  float get(const std::string& key, float def);
  int64_t get(const std::string& key, int64_t def);
  int get(const std::string& key, int def);
  bool get(const std::string& key, bool def);
  // UserError listing unknown keys and the known ones.
  void finish() const;

 private:
  const std::string* find(const std::string& key);
  std::map<std::string, std::string> params_;
  std::string method_;
  std::set<std::string> known_;
};

}  // namespace rb::recon
