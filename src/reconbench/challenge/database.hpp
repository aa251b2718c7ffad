// The SQL database under the challenge store: a minimal interface (parameterised queries,
// transactions) with one implementation per engine. The schema (store.cpp) is written in the
// SQL common to SQLite >= 3.35 and PostgreSQL (RETURNING, ON CONFLICT, CHECK, foreign keys);
// '?' placeholders are rewritten to $n by the PostgreSQL implementation (database_pg.cpp).
// SQLite runs in WAL mode with foreign keys on and a busy timeout, so several processes
// (serve + workers) share one file; PostgreSQL serves workers on other machines too.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace rb::challenge {

using SqlValue = std::variant<std::nullptr_t, int64_t, double, std::string>;

struct SqlRow {
  std::vector<SqlValue> values;
  bool null(size_t k) const { return std::holds_alternative<std::nullptr_t>(values.at(k)); }
  int64_t i(size_t k) const;      // 0 for NULL
  double d(size_t k) const;       // 0 for NULL
  std::string s(size_t k) const;  // "" for NULL
};

class Database {
 public:
  virtual ~Database() = default;
  // Runs one statement; returns its rows (empty for statements without results).
  virtual std::vector<SqlRow> query(const std::string& sql,
                                    const std::vector<SqlValue>& params = {}) = 0;
  // Runs one statement; returns the number of rows changed.
  virtual int64_t exec(const std::string& sql, const std::vector<SqlValue>& params = {}) = 0;
  // Several statements without parameters (schema).
  virtual void exec_script(const std::string& sql) = 0;
  // BEGIN IMMEDIATE (SQLite: takes the write lock up front, so claim/complete never deadlock);
  // PostgreSQL: BEGIN + a transaction-scoped advisory lock, the same serialisation.
  virtual void begin() = 0;
  virtual void commit() = 0;
  virtual void rollback() = 0;
  virtual std::string engine() const = 0;  // "sqlite" | "postgresql"
};

// "sqlite:PATH", a plain path, or a libpq URL "postgresql://user[:password]@host[:port]/db"
// ("postgres://" too; query parameters such as ?host=/run/socket-dir are passed to libpq).
std::unique_ptr<Database> open_database(const std::string& url);
std::unique_ptr<Database> open_postgres_database(const std::string& url);  // database_pg.cpp

bool is_postgres_url(const std::string& url);
// The SQLite file of a non-PostgreSQL URL: "sqlite:PATH" or a plain PATH -> PATH.
std::string sqlite_file(const std::string& url);
// The URL for messages and logs: a PostgreSQL password (user:PASSWORD@ or ?password=) -> ***.
std::string redact_db_url(const std::string& url);
// '?' placeholders outside quotes and -- comments -> $1, $2, ...; *count = how many.
std::string postgres_placeholders(const std::string& sql, size_t* count = nullptr);

// RAII transaction: rollback unless commit() was called.
class Transaction {
 public:
  explicit Transaction(Database& db) : db_(db) { db_.begin(); }
  ~Transaction() {
    if (!done_) {
      try {
        db_.rollback();
      } catch (...) {
      }
    }
  }
  void commit() {
    db_.commit();
    done_ = true;
  }

 private:
  Database& db_;
  bool done_ = false;
};

}  // namespace rb::challenge
