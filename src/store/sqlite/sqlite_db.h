// A thin RAII layer over the SQLite C API, shared by the account store and
// the audit log. Not thread-safe: one SqliteDb per thread, or a mutex around it.
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "distillguard/status.h"

namespace dg {

class SqliteDb {
 public:
  // Opens (creating if `create`) with WAL, synchronous=NORMAL and a busy timeout
  // so concurrent writers from other processes wait instead of failing.
  // Errors: kUnavailable.
  static Result<std::unique_ptr<SqliteDb>> open(const std::string& path, bool create,
                                                int busy_timeout_ms = 5000);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // Runs one or more statements without results. Errors: kInternal with SQLite's message.
  Status exec(std::string_view sql);
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }
  std::string error_message() const { return sqlite3_errmsg(db_); }

 private:
  SqliteDb(sqlite3* db, std::string path) : db_(db), path_(std::move(path)) {}
  sqlite3* db_;
  std::string path_;
};

// A prepared statement, reusable: bind, step until done, reset.
class SqliteStmt {
 public:
  SqliteStmt() = default;
  static Result<SqliteStmt> prepare(SqliteDb& db, std::string_view sql);
  ~SqliteStmt();
  SqliteStmt(SqliteStmt&& o) noexcept : st_(o.st_), db_(o.db_) { o.st_ = nullptr; }
  SqliteStmt& operator=(SqliteStmt&& o) noexcept;

  SqliteStmt& bind(int i, int64_t v);
  SqliteStmt& bind(int i, std::string_view v);
  // Binds without copying: the bytes must stay alive and unchanged until the
  // statement is reset (run() resets). For hot loops (the audit writer).
  SqliteStmt& bind_static(int i, std::string_view v);
  // true: a row is available; false: done. Errors carry SQLite's message
  // (kResourceExhausted for SQLITE_FULL, kUnavailable for BUSY/LOCKED/IOERR,
  // kAlreadyExists for a constraint violation).
  Result<bool> step();
  // Runs to completion (for statements without rows), then resets.
  Status run();
  void reset();

  int64_t col_int(int i) const { return sqlite3_column_int64(st_, i); }
  std::string col_text(int i) const;
  std::string_view col_view(int i) const;
  bool col_null(int i) const { return sqlite3_column_type(st_, i) == SQLITE_NULL; }

 private:
  sqlite3_stmt* st_ = nullptr;
  sqlite3* db_ = nullptr;
};

// Maps an SQLite result code to a Status.
Status sqlite_status(int rc, sqlite3* db, std::string_view what);

}  // namespace dg
