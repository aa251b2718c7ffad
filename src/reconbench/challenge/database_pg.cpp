// PostgreSQL implementation of Database over libpq.
//
// Statements run through PQexecParams (text format) after '?' placeholders are rewritten to
// $1..$n; integers are sent as int8, reals as float8, strings and NULL untyped (the server
// infers the column type). Results map int2/int4/int8/oid/bool -> int64, float4/float8/
// numeric -> double, NULL -> null, everything else -> text.
//
// Transactions: begin() is BEGIN plus a transaction-scoped advisory lock
// (pg_advisory_xact_lock) on one key per database, so the Store's transactions are
// serialised across every process connected to it (serve + workers on any machine), the
// same guarantee SQLite's BEGIN IMMEDIATE gives; the read-check-write sequences in the Store
// (job claim, quota re-check, team membership) are then correct on both engines. Statements
// outside a transaction autocommit, as on SQLite.
#include <libpq-fe.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>

#include "reconbench/challenge/database.hpp"
#include "reconbench/core/error.hpp"

namespace rb::challenge {

bool is_postgres_url(const std::string& url) {
  return url.rfind("postgresql://", 0) == 0 || url.rfind("postgres://", 0) == 0;
}

std::string redact_db_url(const std::string& url) {
  if (!is_postgres_url(url)) return url;
  std::string out = url;
  // postgresql://user:secret@host/db -> postgresql://user:***@host/db
  const size_t scheme = out.find("://") + 3;
  const size_t at = out.find('@', scheme);
  const size_t slash = out.find('/', scheme);
  if (at != std::string::npos && (slash == std::string::npos || at < slash)) {
    const size_t colon = out.find(':', scheme);
    if (colon != std::string::npos && colon < at) out.replace(colon + 1, at - colon - 1, "***");
  }
  // ...?password=secret&... -> ...?password=***&...
  for (size_t p = out.find("password="); p != std::string::npos;
       p = out.find("password=", p + 1)) {
    if (p == 0 || (out[p - 1] != '?' && out[p - 1] != '&')) continue;
    const size_t v = p + 9, end = out.find('&', v);
    out.replace(v, (end == std::string::npos ? out.size() : end) - v, "***");
  }
  return out;
}

std::string postgres_placeholders(const std::string& sql, size_t* count) {
  std::string out;
  out.reserve(sql.size() + 16);
  size_t n = 0;
  char quote = 0;  // inside '...' or "..."
  for (size_t k = 0; k < sql.size(); ++k) {
    const char c = sql[k];
    if (quote) {
      out += c;
      if (c == quote) quote = 0;  // a doubled quote closes and reopens: same result
    } else if (c == '\'' || c == '"') {
      quote = c;
      out += c;
    } else if (c == '-' && k + 1 < sql.size() && sql[k + 1] == '-') {
      const size_t eol = sql.find('\n', k);
      const size_t end = eol == std::string::npos ? sql.size() : eol;
      out.append(sql, k, end - k);
      k = end - 1;
    } else if (c == '?') {
      out += '$' + std::to_string(++n);
    } else {
      out += c;
    }
  }
  if (count) *count = n;
  return out;
}

namespace {

// Key of the advisory lock that serialises Store transactions ("rbstore" in ASCII).
constexpr long long kStoreLockKey = 0x72627374'6f7265LL;

// OIDs from pg_type (stable across PostgreSQL versions).
constexpr Oid kBool = 16, kInt8 = 20, kInt2 = 21, kInt4 = 23, kOid = 26, kFloat4 = 700,
              kFloat8 = 701, kNumeric = 1700;

std::string trim(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

std::string float_text(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "Infinity" : "-Infinity";
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

class PgDatabase final : public Database {
 public:
  explicit PgDatabase(const std::string& url) : shown_(redact_db_url(url)) {
    conn_ = PQconnectdb(url.c_str());
    if (!conn_ || PQstatus(conn_) != CONNECTION_OK) {
      const std::string msg = conn_ ? trim(PQerrorMessage(conn_)) : "out of memory";
      PQfinish(conn_);
      conn_ = nullptr;
      throw UserError("cannot connect to PostgreSQL database " + shown_ + ": " + msg);
    }
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    exec_script("SET client_min_messages TO warning");
  }
  ~PgDatabase() override { PQfinish(conn_); }

  std::vector<SqlRow> query(const std::string& sql, const std::vector<SqlValue>& params) override {
    PGresult* res = run(sql, params);
    struct Clear {
      PGresult* r;
      ~Clear() { PQclear(r); }
    } clear{res};
    std::vector<SqlRow> rows;
    const int nr = PQntuples(res), nc = PQnfields(res);
    rows.reserve(static_cast<size_t>(nr));
    for (int r = 0; r < nr; ++r) {
      SqlRow row;
      row.values.reserve(static_cast<size_t>(nc));
      for (int c = 0; c < nc; ++c) {
        if (PQgetisnull(res, r, c)) {
          row.values.emplace_back(nullptr);
          continue;
        }
        const char* v = PQgetvalue(res, r, c);
        switch (PQftype(res, c)) {
          case kInt2: case kInt4: case kInt8: case kOid:
            row.values.emplace_back(int64_t(std::strtoll(v, nullptr, 10)));
            break;
          case kBool: row.values.emplace_back(int64_t(v[0] == 't' ? 1 : 0)); break;
          case kFloat4: case kFloat8: case kNumeric:
            row.values.emplace_back(std::strtod(v, nullptr));  // also NaN, Infinity
            break;
          default:
            row.values.emplace_back(std::string(v, static_cast<size_t>(PQgetlength(res, r, c))));
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }

  int64_t exec(const std::string& sql, const std::vector<SqlValue>& params) override {
    PGresult* res = run(sql, params);
    const int64_t n = std::strtoll(PQcmdTuples(res), nullptr, 10);  // "" -> 0
    PQclear(res);
    return n;
  }

  void exec_script(const std::string& sql) override {
    reconnect_if_lost();
    PGresult* res = PQexec(conn_, sql.c_str());
    check(res, sql);
    PQclear(res);
  }
  void begin() override {
    exec_script("BEGIN ISOLATION LEVEL READ COMMITTED");
    in_tx_ = true;
    try {
      exec_script("SELECT pg_advisory_xact_lock(" + std::to_string(kStoreLockKey) + ")");
    } catch (...) {
      rollback();  // no Transaction object exists yet to do it
      throw;
    }
  }
  void commit() override {
    in_tx_ = false;
    exec_script("COMMIT");
  }
  void rollback() override {
    in_tx_ = false;
    if (PQstatus(conn_) != CONNECTION_OK) return;  // the server ended the transaction
    PQclear(PQexec(conn_, "ROLLBACK"));
  }
  std::string engine() const override { return "postgresql"; }

 private:
  // A connection that broke (server restart, network) is re-opened before the next
  // statement outside a transaction; inside one the error reaches the caller (rollback).
  void reconnect_if_lost() {
    if (PQstatus(conn_) == CONNECTION_OK || in_tx_) return;
    PQreset(conn_);
    if (PQstatus(conn_) != CONNECTION_OK)
      throw InternalError("lost the connection to PostgreSQL database " + shown_ + ": " +
                          trim(PQerrorMessage(conn_)));
    PQclear(PQexec(conn_, "SET client_min_messages TO warning"));
  }

  PGresult* run(const std::string& sql, const std::vector<SqlValue>& params) {
    size_t n = 0;
    const std::string pg = postgres_placeholders(sql, &n);
    if (n != params.size())
      throw InternalError("database: " + std::to_string(n) + " placeholders but " +
                          std::to_string(params.size()) + " parameters in: " + sql.substr(0, 120));
    std::vector<std::string> text(n);
    std::vector<const char*> values(n, nullptr);
    std::vector<Oid> types(n, 0);
    for (size_t k = 0; k < n; ++k) {
      const auto& p = params[k];
      if (std::holds_alternative<std::nullptr_t>(p)) continue;
      if (auto iv = std::get_if<int64_t>(&p)) {
        text[k] = std::to_string(*iv);
        types[k] = kInt8;
      } else if (auto dv = std::get_if<double>(&p)) {
        text[k] = float_text(*dv);
        types[k] = kFloat8;
      } else {
        text[k] = std::get<std::string>(p);
        if (text[k].find('\0') != std::string::npos)
          throw UserError("text values cannot contain NUL characters");
      }
      values[k] = text[k].c_str();
    }
    reconnect_if_lost();
    PGresult* res = PQexecParams(conn_, pg.c_str(), static_cast<int>(n), types.data(),
                                 values.data(), nullptr, nullptr, 0);
    check(res, sql);
    return res;
  }

  void check(PGresult* res, const std::string& sql) {
    const auto st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) return;
    std::string msg = res ? trim(PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                     ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY)
                                     : PQresultErrorMessage(res))
                          : trim(PQerrorMessage(conn_));
    const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
    const std::string sqlstate = state ? state : "";
    PQclear(res);
    // Class 23: integrity constraint violation (unique, foreign key, check, not null).
    if (sqlstate.rfind("23", 0) == 0) throw UserError("constraint violated: " + msg);
    if (PQstatus(conn_) != CONNECTION_OK)
      msg = "connection lost: " + trim(PQerrorMessage(conn_));
    throw InternalError("database " + shown_ + ": " + msg +
                        (sqlstate.empty() ? "" : " [" + sqlstate + "]") + " in: " +
                        sql.substr(0, 120));
  }

  std::string shown_;  // the URL without its password, for messages
  PGconn* conn_ = nullptr;
  bool in_tx_ = false;
};

}  // namespace

std::unique_ptr<Database> open_postgres_database(const std::string& url) {
  return std::make_unique<PgDatabase>(url);
}

}  // namespace rb::challenge
