#include "reconbench/recon/params.hpp"

#include <charconv>
#include <cmath>

namespace rb::recon {

int64_t parse_int_param(const std::string& value, const std::string& what) {
  int64_t out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  RB_CHECK(!value.empty() && ec == std::errc() && ptr == value.data() + value.size(), what,
           ": not an integer");
  return out;
}

double parse_float_param(const std::string& value, const std::string& what) {
  double out = 0;
  auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), out);
  RB_CHECK(!value.empty() && ec == std::errc() && ptr == value.data() + value.size() &&
               std::isfinite(out),
           what, ": not a finite number");
  return out;
}

bool parse_bool_param(const std::string& value, const std::string& what) {
  if (value == "1" || value == "true" || value == "yes" || value == "on") return true;
  if (value == "0" || value == "false" || value == "no" || value == "off") return false;
  throw UserError(cat(what, ": expected 1/true/yes/on or 0/false/no/off"));
}

namespace {
template <class T>
std::string shortest(T v) {
  char buf[64];
  auto [ptr, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, ptr) : std::to_string(v);
}
}  // namespace

std::string format_param(double v) { return shortest(v); }
std::string format_param(float v) { return shortest(v); }

}  // namespace rb::recon
