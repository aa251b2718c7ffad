#include "reconbench/recon/params.hpp"

#include <charconv>
#include <cmath>

#include "reconbench/core/error.hpp"

namespace rb::recon {

Params::Params(const std::map<std::string, std::string>& params, std::string method)
    : params_(params), method_(std::move(method)) {}

const std::string* Params::find(const std::string& key) {
  known_.insert(key);
  auto it = params_.find(key);
  return it == params_.end() ? nullptr : &it->second;
}

double Params::get(const std::string& key, double def) {
  const std::string* v = find(key);
  if (!v) return def;
  double out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  RB_CHECK(ec == std::errc() && ptr == v->data() + v->size() && std::isfinite(out),
           "--param ", key, "=", *v, ": not a number (method ", method_, ")");
  return out;
}

float Params::get(const std::string& key, float def) {
  return static_cast<float>(get(key, static_cast<double>(def)));
}

int64_t Params::get(const std::string& key, int64_t def) {
  const std::string* v = find(key);
  if (!v) return def;
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(v->data(), v->data() + v->size(), out);
  RB_CHECK(ec == std::errc() && ptr == v->data() + v->size(), "--param ", key, "=", *v,
           ": not an integer (method ", method_, ")");
  return out;
}

int Params::get(const std::string& key, int def) {
  return static_cast<int>(get(key, static_cast<int64_t>(def)));
}

bool Params::get(const std::string& key, bool def) {
  const std::string* v = find(key);
  if (!v) return def;
  if (*v == "1" || *v == "true" || *v == "yes" || *v == "on") return true;
  if (*v == "0" || *v == "false" || *v == "no" || *v == "off") return false;
  throw UserError(cat("--param ", key, "=", *v, ": expected 0/1/true/false (method ", method_, ")"));
}

void Params::finish() const {
  std::string unknown, known;
  for (const auto& [k, v] : params_)
    if (!known_.count(k)) unknown += (unknown.empty() ? "" : ", ") + k;
  for (const auto& k : known_) known += (known.empty() ? "" : ", ") + k;
  RB_CHECK(unknown.empty(), "--param: unknown key(s) ", unknown, " for method ", method_,
           " (known: ", known.empty() ? "none" : known, ")");
}

}  // namespace rb::recon
