// The database engines the challenge store's tests run on: SQLite always; PostgreSQL when
// RECONBENCH_TEST_PG holds a server URL, as scripts/with-test-postgres provides for the ctest
// case unit.challenge.postgresql (tests/CMakeLists.txt), which fails if no server can be
// started. Each test gets its own empty database: a temporary SQLite file, or a fresh
// PostgreSQL schema (selected through the URL's search_path) dropped afterwards.
#pragma once

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "reconbench/challenge/database.hpp"

namespace rb::testing {

inline std::string test_pg_url() {
  const char* env = std::getenv("RECONBENCH_TEST_PG");
  return env ? env : "";
}

inline std::vector<std::string> test_engines() {
  std::vector<std::string> e{"sqlite"};
  if (!test_pg_url().empty()) e.push_back("postgresql");
  return e;
}

class ScratchDatabase {
 public:
  ScratchDatabase(const std::string& engine, const std::filesystem::path& dir) {
    if (engine == "sqlite") {
      url_ = "sqlite:" + (dir / "c.db").string();
      return;
    }
    pg_ = test_pg_url();
    if (pg_.empty()) throw std::runtime_error("RECONBENCH_TEST_PG is not set");
    static int counter = 0;
    schema_ = "t" + std::to_string(::getpid()) + "_" + std::to_string(++counter);
    challenge::open_database(pg_)->exec_script("DROP SCHEMA IF EXISTS " + schema_ +
                                               " CASCADE; CREATE SCHEMA " + schema_);
    url_ = pg_ + (pg_.find('?') == std::string::npos ? "?" : "&") +
           "options=-csearch_path%3D" + schema_;
  }
  ~ScratchDatabase() {
    if (schema_.empty()) return;
    try {
      challenge::open_database(pg_)->exec_script("DROP SCHEMA " + schema_ + " CASCADE");
    } catch (...) {
    }
  }
  ScratchDatabase(const ScratchDatabase&) = delete;
  ScratchDatabase& operator=(const ScratchDatabase&) = delete;
  const std::string& url() const { return url_; }

 private:
  std::string pg_, schema_, url_;
};

}  // namespace rb::testing
