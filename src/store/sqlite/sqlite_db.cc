#include "store/sqlite/sqlite_db.h"

#include <chrono>
#include <thread>

namespace dg {

Status sqlite_status(int rc, sqlite3* db, std::string_view what) {
  if (rc == SQLITE_OK || rc == SQLITE_DONE || rc == SQLITE_ROW) return {};
  std::string m = std::string(what) + ": " + (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_FULL: return resource_exhausted(m);
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY: return unavailable(m);
    case SQLITE_CONSTRAINT: return already_exists(m);
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB: return data_loss(m);
    default: return internal_error(m);
  }
}

Result<std::unique_ptr<SqliteDb>> SqliteDb::open(const std::string& path, bool create,
                                                 int busy_timeout_ms) {
  sqlite3* db = nullptr;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX | (create ? SQLITE_OPEN_CREATE : 0);
  int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string m = "cannot open database '" + path + "': " +
                    (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return unavailable(m);
  }
  std::unique_ptr<SqliteDb> out(new SqliteDb(db, path));
  sqlite3_busy_timeout(db, busy_timeout_ms);
  // journal_mode=WAL persists in the file. Switching a new file to it needs an
  // exclusive lock, and SQLite answers SQLITE_BUSY at once (without the busy
  // handler) while another process is opening the same new file: retry,
  // within the busy timeout. (Regression: acl_cli_two_process was flaky.)
  const auto deadline =
      std::chrono::steady_clock::now() + std::chrono::milliseconds(busy_timeout_ms);
  while (true) {
    rc = sqlite3_exec(db, "PRAGMA journal_mode=WAL", nullptr, nullptr, nullptr);
    if (rc != SQLITE_BUSY && rc != SQLITE_LOCKED) break;
    if (std::chrono::steady_clock::now() >= deadline) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (rc != SQLITE_OK) {
    return unavailable("cannot open database '" + path + "': " + sqlite3_errmsg(db));
  }
  Status st = out->exec("PRAGMA synchronous=NORMAL;");
  if (!st.ok()) return unavailable("cannot open database '" + path + "': " + st.message());
  return out;
}

SqliteDb::~SqliteDb() { sqlite3_close_v2(db_); }

Status SqliteDb::exec(std::string_view sql) {
  std::string s(sql);
  char* err = nullptr;
  int rc = sqlite3_exec(db_, s.c_str(), nullptr, nullptr, &err);
  if (rc != SQLITE_OK) {
    std::string m = err ? err : sqlite3_errstr(rc);
    sqlite3_free(err);
    Status st = sqlite_status(rc, nullptr, "sqlite");
    return Status(st.code(), path_ + ": " + m);
  }
  return {};
}

Result<SqliteStmt> SqliteStmt::prepare(SqliteDb& db, std::string_view sql) {
  SqliteStmt s;
  s.db_ = db.handle();
  int rc = sqlite3_prepare_v3(db.handle(), sql.data(), static_cast<int>(sql.size()),
                              SQLITE_PREPARE_PERSISTENT, &s.st_, nullptr);
  if (rc != SQLITE_OK) return sqlite_status(rc, db.handle(), "prepare");
  return s;
}

SqliteStmt::~SqliteStmt() { sqlite3_finalize(st_); }

SqliteStmt& SqliteStmt::operator=(SqliteStmt&& o) noexcept {
  if (this != &o) {
    sqlite3_finalize(st_);
    st_ = o.st_;
    db_ = o.db_;
    o.st_ = nullptr;
  }
  return *this;
}

SqliteStmt& SqliteStmt::bind(int i, int64_t v) {
  sqlite3_bind_int64(st_, i, v);
  return *this;
}

SqliteStmt& SqliteStmt::bind(int i, std::string_view v) {
  sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStmt& SqliteStmt::bind_static(int i, std::string_view v) {
  sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  return *this;
}

Result<bool> SqliteStmt::step() {
  int rc = sqlite3_step(st_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  Status st = sqlite_status(rc, db_, "sqlite");
  sqlite3_reset(st_);
  return st;
}

Status SqliteStmt::run() {
  while (true) {
    auto r = step();
    if (!r.ok()) {
      reset();
      return r.status();
    }
    if (!r.value()) break;
  }
  reset();
  return {};
}

void SqliteStmt::reset() {
  sqlite3_reset(st_);
  sqlite3_clear_bindings(st_);
}

std::string SqliteStmt::col_text(int i) const { return std::string(col_view(i)); }

std::string_view SqliteStmt::col_view(int i) const {
  const unsigned char* p = sqlite3_column_text(st_, i);
  if (!p) return {};
  return std::string_view(reinterpret_cast<const char*>(p),
                          static_cast<size_t>(sqlite3_column_bytes(st_, i)));
}

}  // namespace dg
