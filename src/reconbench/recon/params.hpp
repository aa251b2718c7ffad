// Method parameters, declared once per method: a table of rows (key, field, help) over a
// plain options struct whose value in the table (`defaults`) holds the documented defaults.
// The same table parses `--param key=value` maps into the struct, rejects unknown keys
// (UserError naming the key and the known ones), and describes the method's parameters for
// `reconbench recon --list-methods` and docs/commands.md (recon/method.hpp registry).
//
// One grammar for every method, classical (recon/) and learned (ml/):
//   int     decimal integer, e.g. iter=30
//   float   finite decimal or exponent notation, e.g. lambda=5e-3
//   bool    1 | true | yes | on   and   0 | false | no | off
//   string  the text after '=' as it is, e.g. device=cuda:0
//
// Declaring a table (the struct member may be nested):
//   struct SenseParams { EspiritOptions espirit; SenseOptions sense; };
//   ParamTable<SenseParams> t({RB_PARAM(SenseParams, "iter", sense.max_iter, "CG iterations"),
//                              RB_PARAM(SenseParams, "maps", espirit.maps, "ESPIRiT maps")});
#pragma once

#include <cstdint>
#include <limits>
#include <map>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include "reconbench/core/error.hpp"

namespace rb::recon {

// One parameter as documented: key, type ("int", "float", "bool", "string"), default value
// as text, help.
struct ParamDoc {
  std::string key, type, default_value, help;
};

// The grammar above; `what` names the parameter in the UserError ("--param iter=x (method
// sense)").
int64_t parse_int_param(const std::string& value, const std::string& what);
double parse_float_param(const std::string& value, const std::string& what);
bool parse_bool_param(const std::string& value, const std::string& what);
// Shortest text that parses back to the same value (defaults in the docs).
std::string format_param(double v);
std::string format_param(float v);

template <class O>
struct Param {
  using Field = std::variant<int64_t& (*)(O&), int& (*)(O&), uint32_t& (*)(O&), double& (*)(O&),
                             float& (*)(O&), bool& (*)(O&), std::string& (*)(O&)>;
  std::string key;
  Field field;  // accessor of the member the key sets
  std::string help;
};

// A Param<O> row for member `member` of O (a nested member path such as espirit.maps works).
#define RB_PARAM(O, key, member, help) \
  ::rb::recon::Param<O> { key, +[](O& o) -> decltype(auto) { return (o.member); }, help }

template <class O>
class ParamTable {
 public:
  explicit ParamTable(std::vector<Param<O>> rows, O defaults = {})
      : rows_(std::move(rows)), defaults_(std::move(defaults)) {}
  // Append rows (shared groups such as the ESPIRiT or vendor keys).
  ParamTable& add(const std::vector<Param<O>>& more) {
    rows_.insert(rows_.end(), more.begin(), more.end());
    return *this;
  }

  // `defaults` with every given key set; UserError for an unknown key (naming it and the
  // known keys) or a value that does not parse as the key's type.
  O parse(const std::map<std::string, std::string>& params, const std::string& method) const {
    O o = defaults_;
    for (const auto& [key, value] : params) {
      const Param<O>* row = find(key);
      RB_CHECK(row != nullptr, "--param: unknown key '", key, "' for method ", method,
               " (known: ", known_keys(), ")");
      const std::string what = cat("--param ", key, "=", value, " (method ", method, ")");
      std::visit([&](auto get) { assign(get(o), value, what); }, row->field);
    }
    return o;
  }

  std::vector<ParamDoc> docs() const {
    std::vector<ParamDoc> out;
    O o = defaults_;
    for (const auto& r : rows_)
      std::visit([&](auto get) { out.push_back({r.key, type_name(get(o)), text(get(o)), r.help}); },
                 r.field);
    return out;
  }

 private:
  const Param<O>* find(const std::string& key) const {
    for (const auto& r : rows_)
      if (r.key == key) return &r;
    return nullptr;
  }
  std::string known_keys() const {
    std::string s;
    for (const auto& r : rows_) s += (s.empty() ? "" : ", ") + r.key;
    return s.empty() ? "none" : s;
  }
  template <class T>
  static void assign(T& field, const std::string& value, const std::string& what) {
    if constexpr (std::is_same_v<T, bool>) {
      field = parse_bool_param(value, what);
    } else if constexpr (std::is_same_v<T, std::string>) {
      field = value;
    } else if constexpr (std::is_floating_point_v<T>) {
      field = static_cast<T>(parse_float_param(value, what));
    } else {
      const int64_t v = parse_int_param(value, what);
      RB_CHECK(v >= static_cast<int64_t>(std::numeric_limits<T>::min()) &&
                   v <= static_cast<int64_t>(std::numeric_limits<T>::max()),
               what, ": out of range");
      field = static_cast<T>(v);
    }
  }
  template <class T>
  static std::string type_name(const T&) {
    if constexpr (std::is_same_v<T, bool>) return "bool";
    else if constexpr (std::is_same_v<T, std::string>) return "string";
    else if constexpr (std::is_floating_point_v<T>) return "float";
    else return "int";
  }
  template <class T>
  static std::string text(const T& v) {
    if constexpr (std::is_same_v<T, bool>) return v ? "true" : "false";
    else if constexpr (std::is_same_v<T, std::string>) return v;
    else if constexpr (std::is_floating_point_v<T>) return format_param(v);
    else return std::to_string(v);
  }

  std::vector<Param<O>> rows_;
  O defaults_;
};

}  // namespace rb::recon
