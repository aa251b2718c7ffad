#include <sqlite3.h>

#include <filesystem>
#include <thread>

#include "reconbench/challenge/database.hpp"
#include "reconbench/core/error.hpp"

namespace rb::challenge {

int64_t SqlRow::i(size_t k) const {
  const auto& v = values.at(k);
  if (auto p = std::get_if<int64_t>(&v)) return *p;
  if (auto p = std::get_if<double>(&v)) return static_cast<int64_t>(*p);
  if (auto p = std::get_if<std::string>(&v)) return std::stoll(*p);
  return 0;
}
double SqlRow::d(size_t k) const {
  const auto& v = values.at(k);
  if (auto p = std::get_if<double>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return static_cast<double>(*p);
  if (auto p = std::get_if<std::string>(&v)) return std::stod(*p);
  return 0;
}
std::string SqlRow::s(size_t k) const {
  const auto& v = values.at(k);
  if (auto p = std::get_if<std::string>(&v)) return *p;
  if (auto p = std::get_if<int64_t>(&v)) return std::to_string(*p);
  if (auto p = std::get_if<double>(&v)) return std::to_string(*p);
  return "";
}

namespace {

class SqliteDatabase final : public Database {
 public:
  explicit SqliteDatabase(const std::string& path) : path_(path) {
    auto parent = std::filesystem::path(path).parent_path();
    if (!parent.empty() && !std::filesystem::exists(parent))
      std::filesystem::create_directories(parent);
    int rc = sqlite3_open_v2(path.c_str(), &db_,
                             SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                             nullptr);
    if (rc != SQLITE_OK) {
      std::string msg = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      db_ = nullptr;
      throw UserError("cannot open database " + path + ": " + msg);
    }
    sqlite3_busy_timeout(db_, 30000);
    exec_script("PRAGMA journal_mode=WAL; PRAGMA foreign_keys=ON; PRAGMA synchronous=NORMAL;");
  }
  ~SqliteDatabase() override { sqlite3_close(db_); }

  std::vector<SqlRow> query(const std::string& sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* st = nullptr;
    check(sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr), sql);
    struct Fin {
      sqlite3_stmt* s;
      ~Fin() { sqlite3_finalize(s); }
    } fin{st};
    for (size_t k = 0; k < params.size(); ++k) {
      const int idx = static_cast<int>(k + 1);
      const auto& p = params[k];
      int rc;
      if (std::holds_alternative<std::nullptr_t>(p))
        rc = sqlite3_bind_null(st, idx);
      else if (auto iv = std::get_if<int64_t>(&p))
        rc = sqlite3_bind_int64(st, idx, *iv);
      else if (auto dv = std::get_if<double>(&p))
        rc = sqlite3_bind_double(st, idx, *dv);
      else {
        const auto& s = std::get<std::string>(p);
        rc = sqlite3_bind_text(st, idx, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
      }
      check(rc, sql);
    }
    std::vector<SqlRow> rows;
    for (;;) {
      int rc = sqlite3_step(st);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) check(rc, sql);
      SqlRow row;
      const int n = sqlite3_column_count(st);
      row.values.reserve(static_cast<size_t>(n));
      for (int c = 0; c < n; ++c) {
        switch (sqlite3_column_type(st, c)) {
          case SQLITE_NULL: row.values.emplace_back(nullptr); break;
          case SQLITE_INTEGER: row.values.emplace_back(int64_t(sqlite3_column_int64(st, c))); break;
          case SQLITE_FLOAT: row.values.emplace_back(sqlite3_column_double(st, c)); break;
          default: {
            const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(st, c));
            row.values.emplace_back(std::string(t ? t : "", static_cast<size_t>(sqlite3_column_bytes(st, c))));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  int64_t exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    query(sql, params);
    return sqlite3_changes(db_);
  }

  void exec_script(const std::string& sql) override {
    char* err = nullptr;
    int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &err);
    if (rc != SQLITE_OK) {
      std::string msg = err ? err : sqlite3_errstr(rc);
      sqlite3_free(err);
      throw InternalError("database " + path_ + ": " + msg);
    }
  }
  void begin() override { exec_script("BEGIN IMMEDIATE"); }
  void commit() override { exec_script("COMMIT"); }
  void rollback() override { exec_script("ROLLBACK"); }
  std::string engine() const override { return "sqlite"; }

 private:
  void check(int rc, const std::string& sql) {
    if (rc == SQLITE_OK || rc == SQLITE_ROW || rc == SQLITE_DONE) return;
    const int base = rc & 0xff;
    std::string msg = sqlite3_errmsg(db_);
    if (base == SQLITE_CONSTRAINT) throw UserError("constraint violated: " + msg);
    throw InternalError("database " + path_ + ": " + msg + " in: " + sql.substr(0, 120));
  }
  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace

std::string sqlite_file(const std::string& url) {
  return url.rfind("sqlite:", 0) == 0 ? url.substr(7) : url;
}

std::unique_ptr<Database> open_database(const std::string& url) {
  if (is_postgres_url(url)) return open_postgres_database(url);
  const std::string path = sqlite_file(url);
  RB_CHECK(!path.empty(), "--db: empty database path");
  return std::make_unique<SqliteDatabase>(path);
}

}  // namespace rb::challenge
