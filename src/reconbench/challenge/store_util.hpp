// Helpers shared by the Store's source files (store.cpp, store_accounts.cpp,
// store_studies.cpp, store_pipeline.cpp); not part of the Store API.
#pragma once

#include <cctype>
#include <cmath>
#include <string>

#include <nlohmann/json.hpp>

#include "reconbench/challenge/database.hpp"

namespace rb::challenge::store_util {

// 1..max_len characters of letters, digits, '_', '-', '.', ' ' (user, team and file names).
inline bool valid_name(const std::string& s, size_t max_len) {
  if (s.empty() || s.size() > max_len) return false;
  for (unsigned char c : s)
    if (!(std::isalnum(c) || c == '_' || c == '-' || c == '.' || c == ' ')) return false;
  return true;
}

inline double or_nan(const SqlRow& r, size_t k) { return r.null(k) ? std::nan("") : r.d(k); }

inline nlohmann::json num(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(); }

}  // namespace rb::challenge::store_util
