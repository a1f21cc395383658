#include "audit/audit_log.h"

#include <linux/futex.h>
#include <openssl/evp.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <utility>

#include "common/hash.h"
#include "common/thread_priority.h"
#include "store/sqlite/sqlite_db.h"

namespace dg {

namespace json = boost::json;

namespace {

constexpr const char* kAuditSchema = R"sql(
CREATE TABLE IF NOT EXISTS audit_log(
  seq INTEGER PRIMARY KEY,
  ts_ns INTEGER NOT NULL,
  account TEXT NOT NULL,
  record TEXT NOT NULL,      -- the exchange record line (spec/exchange-log.md)
  prev_hash TEXT NOT NULL,   -- hex; hash of seq-1, 64 zeros for seq 1
  hash TEXT NOT NULL);       -- hex(SHA-256(prev_hash bytes || record))
CREATE INDEX IF NOT EXISTS audit_log_account ON audit_log(account, seq);
-- The chain head, updated in the same transaction as each batch: deleting the
-- last entries is detected too.
CREATE TABLE IF NOT EXISTS audit_head(
  id INTEGER PRIMARY KEY CHECK (id = 1),
  seq INTEGER NOT NULL,
  hash TEXT NOT NULL);
)sql";

bool unhex(std::string_view hex, uint8_t* out, size_t n) {
  if (hex.size() != 2 * n) return false;
  auto nib = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
  };
  for (size_t i = 0; i < n; ++i) {
    int a = nib(hex[2 * i]), b = nib(hex[2 * i + 1]);
    if (a < 0 || b < 0) return false;
    out[i] = static_cast<uint8_t>(a * 16 + b);
  }
  return true;
}

constexpr char kHexDigits[] = "0123456789abcdef";

void to_hex64(const uint8_t (&bytes)[32], char (&out)[64]) {
  for (size_t i = 0; i < 32; ++i) {
    out[2 * i] = kHexDigits[bytes[i] >> 4];
    out[2 * i + 1] = kHexDigits[bytes[i] & 15];
  }
}

struct MdCtxFree {
  void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};

// SHA-256 over (prev hash bytes || line) without building the concatenation:
// one reused context, two updates. Not thread-safe (one per writer).
class ChainHasher {
 public:
  ChainHasher() : md_(EVP_MD_fetch(nullptr, "SHA256", nullptr)), ctx_(EVP_MD_CTX_new()) {}
  ~ChainHasher() { EVP_MD_free(md_); }
  ChainHasher(const ChainHasher&) = delete;
  ChainHasher& operator=(const ChainHasher&) = delete;

  // out = SHA-256(prev || line). False only if OpenSSL fails.
  bool hash(const uint8_t (&prev)[32], std::string_view line, uint8_t (&out)[32]) {
    unsigned int len = 0;
    return md_ && ctx_ && EVP_DigestInit_ex2(ctx_.get(), md_, nullptr) &&
           EVP_DigestUpdate(ctx_.get(), prev, sizeof prev) &&
           EVP_DigestUpdate(ctx_.get(), line.data(), line.size()) &&
           EVP_DigestFinal_ex(ctx_.get(), out, &len) && len == 32;
  }

 private:
  EVP_MD* md_;
  std::unique_ptr<EVP_MD_CTX, MdCtxFree> ctx_;
};

// The chain head while a batch is written: the hash both as raw bytes (the
// next link's input) and as hex (what the table stores).
struct ChainLink {
  uint8_t bytes[32];
  char hex[64];
  std::string_view hex_view() const { return {hex, sizeof hex}; }
};

class SqliteAuditSink final : public AuditSink {
 public:
  SqliteAuditSink(std::unique_ptr<SqliteDb> db, const SqliteAuditSinkOptions& options)
      : db_(std::move(db)), options_(options) {}

  Status init() {
    DG_RETURN_IF_ERROR(db_->exec(kAuditSchema));
    DG_ASSIGN_OR_RETURN(begin_, SqliteStmt::prepare(*db_, "BEGIN IMMEDIATE"));
    DG_ASSIGN_OR_RETURN(commit_, SqliteStmt::prepare(*db_, "COMMIT"));
    DG_ASSIGN_OR_RETURN(rollback_, SqliteStmt::prepare(*db_, "ROLLBACK"));
    DG_ASSIGN_OR_RETURN(
        head_,
        SqliteStmt::prepare(*db_, "SELECT seq, hash FROM audit_log ORDER BY seq DESC LIMIT 1"));
    DG_ASSIGN_OR_RETURN(
        insert_,
        SqliteStmt::prepare(*db_,
                            "INSERT INTO audit_log(seq, ts_ns, account, record, prev_hash, hash) "
                            "VALUES(?,?,?,?,?,?)"));
    DG_ASSIGN_OR_RETURN(
        set_head_,
        SqliteStmt::prepare(*db_,
                            "INSERT INTO audit_head(id, seq, hash) VALUES(1,?,?) "
                            "ON CONFLICT(id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash"));
    // Our WAL hook replaces SQLite's auto-checkpoint on this connection:
    // commits only note the WAL's size; after_commit() checkpoints.
    sqlite3_wal_hook(db_->handle(), &SqliteAuditSink::on_commit, this);
    DG_ASSIGN_OR_RETURN(SqliteStmt page_size, SqliteStmt::prepare(*db_, "PRAGMA page_size"));
    DG_ASSIGN_OR_RETURN(bool row, page_size.step());
    const int64_t page = row && page_size.col_int(0) > 0 ? page_size.col_int(0) : 4096;
    checkpoint_pages_ = std::max<int64_t>(1, options_.checkpoint_bytes / page);
    DG_RETURN_IF_ERROR(
        db_->exec("PRAGMA journal_size_limit=" + std::to_string(4 * options_.checkpoint_bytes)));
    return {};
  }

  Status write_batch(const std::vector<PendingEntry>& batch) override {
    DG_RETURN_IF_ERROR(begin_.run());
    Status st = write_locked(batch);
    if (st.ok()) st = commit_.run();
    if (!st.ok()) {
      (void)rollback_.run();
      return st;
    }
    after_commit();
    return st;
  }

 private:
  Status write_locked(const std::vector<PendingEntry>& batch) {
    int64_t seq = 0;
    // Two links, alternating: prev and the entry being written.
    ChainLink links[2];
    int cur = 0;
    {
      auto row = head_.step();
      if (!row.ok()) {
        head_.reset();
        return row.status();
      }
      std::string_view head_hex = genesis_hash();
      if (row.value()) {
        seq = head_.col_int(0);
        head_hex = head_.col_view(1);
      }
      if (head_hex.size() != 64 || !unhex(head_hex, links[cur].bytes, 32)) {
        head_.reset();
        return data_loss("audit log: the stored chain head (seq " + std::to_string(seq) +
                         ") is not a SHA-256 hex digest; run `distillguard audit verify`");
      }
      std::memcpy(links[cur].hex, head_hex.data(), 64);
      head_.reset();
    }
    for (const PendingEntry& p : batch) {
      const ChainLink& prev = links[cur];
      ChainLink& next = links[cur ^ 1];
      if (!hasher_.hash(prev.bytes, p.line, next.bytes)) {
        return internal_error("audit log: SHA-256 failed (OpenSSL)");
      }
      to_hex64(next.bytes, next.hex);
      ++seq;
      DG_RETURN_IF_ERROR(insert_.bind(1, seq)
                             .bind(2, int64_t{p.ts})
                             .bind_static(3, p.account)
                             .bind_static(4, p.line)
                             .bind_static(5, prev.hex_view())
                             .bind_static(6, next.hex_view())
                             .run());
      cur ^= 1;
    }
    if (!batch.empty()) {
      DG_RETURN_IF_ERROR(set_head_.bind(1, seq).bind_static(2, links[cur].hex_view()).run());
    }
    return {};
  }

  // sqlite3_wal_hook: called after each commit with the WAL's size in pages.
  static int on_commit(void* self, sqlite3*, const char*, int pages) {
    static_cast<SqliteAuditSink*>(self)->wal_pages_ = pages;
    return SQLITE_OK;
  }

  // A short PASSIVE checkpoint on the writer's connection once the WAL holds
  // checkpoint_bytes, between transactions: nothing adds frames meanwhile
  // (unless another process writes to the same file), so it copies every
  // frame unless a reader pins some, and the next BEGIN restarts the WAL.
  // BUSY = another connection is checkpointing; frames left are tried again
  // after the next commit.
  void after_commit() {
    if (wal_pages_ < checkpoint_pages_) return;
    int log = 0, done = 0;
    const int rc =
        sqlite3_wal_checkpoint_v2(db_->handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &log, &done);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) report_checkpoint_error(rc, db_->handle());
  }

  void report_checkpoint_error(int rc, sqlite3* db) {
    // Not data loss (committed pages stay in the WAL), but the WAL grows and
    // the disk is likely failing: say so, at most once a minute.
    const auto now = std::chrono::steady_clock::now();
    if (now - last_ckpt_report_ < std::chrono::minutes(1)) return;
    last_ckpt_report_ = now;
    std::fprintf(stderr,
                 "distillguard: AUDIT LOG: WAL checkpoint of '%s' failed (%s); the "
                 "records are committed in the WAL, which keeps growing until this clears\n",
                 db_->path().c_str(), sqlite3_errmsg(db) ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  }

  std::unique_ptr<SqliteDb> db_;
  SqliteAuditSinkOptions options_;
  SqliteStmt begin_, commit_, rollback_, head_, insert_, set_head_;
  ChainHasher hasher_;
  int64_t wal_pages_ = 0;         // frames in the WAL after the last commit (the WAL hook)
  int64_t checkpoint_pages_ = 1;  // checkpoint_bytes in this file's pages
  std::chrono::steady_clock::time_point last_ckpt_report_{};
};

void redact_value(json::value& v) {
  if (v.is_string()) {
    v = "[redacted]";
  } else if (v.is_array()) {
    for (auto& e : v.get_array()) {
      if (e.is_string()) {
        e = "[redacted]";
      } else if (e.is_object()) {
        if (auto* t = e.get_object().if_contains("text")) *t = "[redacted]";
      }
    }
  }
}

Result<bool> has_audit_table(SqliteDb& db) {
  DG_ASSIGN_OR_RETURN(
      SqliteStmt s, SqliteStmt::prepare(
                        db, "SELECT 1 FROM sqlite_master WHERE type='table' AND name='audit_log'"));
  return s.step();
}

}  // namespace

const std::string& genesis_hash() {
  static const std::string kGenesis(64, '0');
  return kGenesis;
}

std::string chain_hash(std::string_view prev_hash_hex, std::string_view line) {
  std::string buf(32, '\0');
  if (!unhex(prev_hash_hex, reinterpret_cast<uint8_t*>(buf.data()), 32)) {
    buf.assign(prev_hash_hex);  // malformed prev: still deterministic, never matches a real chain
  }
  buf.append(line);
  return sha256_hex(buf);
}

// SQLite fixes a file's page size at its first write, and SqliteDb::open
// switches the file to WAL, after which the page size cannot change: a new
// (absent or empty) file gets its page size and the schema here, first.
Status create_with_page_size(const std::string& path, int page_size) {
  std::error_code ec;
  const uintmax_t size = std::filesystem::file_size(path, ec);
  if (!ec && size > 0) return {};  // an existing database keeps its page size
  sqlite3* raw = nullptr;
  const int rc =
      sqlite3_open_v2(path.c_str(), &raw,
                      SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> db(raw, &sqlite3_close_v2);
  if (rc != SQLITE_OK) return sqlite_status(rc, raw, "cannot create '" + path + "'");
  sqlite3_busy_timeout(raw, 5000);  // another process creating it too
  const std::string sql = "PRAGMA page_size=" + std::to_string(page_size) + ";" + kAuditSchema;
  return sqlite_status(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), raw,
                       "cannot create '" + path + "'");
}

Result<std::unique_ptr<AuditSink>> open_sqlite_audit_sink(const std::string& path,
                                                          const SqliteAuditSinkOptions& options) {
  DG_RETURN_IF_ERROR(create_with_page_size(path, options.page_size));
  DG_ASSIGN_OR_RETURN(auto db, SqliteDb::open(path, /*create=*/true));
  auto sink = std::make_unique<SqliteAuditSink>(std::move(db), options);
  Status st = sink->init();
  if (!st.ok()) return internal_error("audit log '" + path + "': " + st.message());
  return std::unique_ptr<AuditSink>(std::move(sink));
}

// ---------------------------------------------------------------- AuditLog

namespace {

// The writer sleeps on a futex: appends pay a system call only to wake it
// from a sleep, never to hand a record over.
void futex_wait(std::atomic<uint32_t>& word, uint32_t expected, TimeNs timeout) {
  timespec ts{};
  if (timeout >= 0) {
    ts.tv_sec = static_cast<time_t>(timeout / kNsPerSec);
    ts.tv_nsec = static_cast<long>(timeout % kNsPerSec);
  }
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  // EINTR, EAGAIN (the word changed) and ETIMEDOUT all mean: look again.
  (void)syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAIT_PRIVATE, expected,
                timeout >= 0 ? &ts : nullptr, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>& word) {
  (void)syscall(SYS_futex, reinterpret_cast<uint32_t*>(&word), FUTEX_WAKE_PRIVATE, 1, nullptr,
                nullptr, 0);
}

TimeNs steady_now() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

}  // namespace

AuditLog::AuditLog(std::unique_ptr<AuditSink> sink, const AuditLogOptions& options)
    : sink_(std::move(sink)), options_(options) {}

Result<std::unique_ptr<AuditLog>> AuditLog::create(std::unique_ptr<AuditSink> sink,
                                                   const AuditLogOptions& options) {
  if (!sink) return invalid_argument("audit log: no sink");
  AuditLogOptions o = options;
  o.max_backlog = std::max<size_t>(1, o.max_backlog);
  o.max_batch = std::max<size_t>(1, o.max_batch);
  std::unique_ptr<AuditLog> log(new AuditLog(std::move(sink), o));
  if (!o.jsonl_path.empty()) {
    log->mirror_file_ = std::fopen(o.jsonl_path.c_str(), "a");
    if (!log->mirror_file_) {
      return unavailable("audit log: cannot open JSONL mirror '" + o.jsonl_path +
                         "': " + std::strerror(errno));
    }
  }
  log->writer_ = std::thread([p = log.get()] { p->run(); });
  return log;
}

Result<std::unique_ptr<AuditLog>> AuditLog::open(const std::string& sqlite_path,
                                                 const AuditLogOptions& options) {
  DG_ASSIGN_OR_RETURN(auto sink, open_sqlite_audit_sink(sqlite_path, options.sqlite));
  return create(std::move(sink), options);
}

AuditLog::~AuditLog() {
  Status st = flush(5 * kNsPerSec);
  stop_.store(true);
  wake_writer();
  if (writer_.joinable()) writer_.join();
  if (!st.ok()) {
    std::fprintf(stderr,
                 "distillguard: AUDIT LOG: %lld records could not be written before shutdown "
                 "(%s)\n",
                 static_cast<long long>(counters().backlog), st.message().c_str());
  }
  for (Node* n = head_.exchange(nullptr); n;) delete std::exchange(n, n->next);
  if (mirror_file_) std::fclose(mirror_file_);
}

Status AuditLog::append(ExchangeRecord record) {
  auto node = std::make_unique<Node>();
  node->record = std::move(record);
  return enqueue(std::move(node));
}

Status AuditLog::append_line(TimeNs ts, std::string account, std::string line) {
  auto node = std::make_unique<Node>();
  node->entry = PendingEntry{ts, std::move(account), std::move(line)};
  node->serialized = true;
  return enqueue(std::move(node));
}

void AuditLog::push(Node* node) {
  Node* top = head_.load(std::memory_order_relaxed);
  do {
    node->next = top;
  } while (!head_.compare_exchange_weak(top, node, std::memory_order_seq_cst,
                                        std::memory_order_relaxed));
}

Status AuditLog::enqueue(std::unique_ptr<Node> node) {
  const auto max_backlog = static_cast<int64_t>(options_.max_backlog);
  const int64_t before = pending_.fetch_add(1, std::memory_order_seq_cst);
  if (before >= max_backlog) {
    pending_.fetch_sub(1, std::memory_order_relaxed);
    refused_.fetch_add(1, std::memory_order_relaxed);
    return resource_exhausted("audit log backlog full (" + std::to_string(max_backlog) +
                              " records waiting for the disk)");
  }
  push(node.release());
  // Pairs with the writer's store of its sleeping state before it looks at
  // head_ and pending_ again (both seq_cst): either it sees this record or we
  // see it asleep.
  const uint32_t state = writer_state_.load(std::memory_order_seq_cst);
  if (state == kIdle ||
      (state == kLingering && before + 1 >= static_cast<int64_t>(options_.max_batch))) {
    if (writer_state_.exchange(kWorking) != kWorking) futex_wake(writer_state_);
  }
  return {};
}

void AuditLog::wake_writer() {
  if (writer_state_.exchange(kWorking) != kWorking) futex_wake(writer_state_);
}

template <typename Done>
void AuditLog::writer_sleep(WriterState state, TimeNs timeout, Done done) {
  writer_state_.store(state, std::memory_order_seq_cst);
  if (!done()) futex_wait(writer_state_, state, timeout);
  writer_state_.store(kWorking, std::memory_order_relaxed);
}

AuditLog::Node* AuditLog::take() {
  while (head_.load(std::memory_order_acquire) == nullptr) {
    if (stop_.load()) return nullptr;
    writer_sleep(kIdle, -1, [&] { return head_.load() != nullptr || stop_.load(); });
  }
  if (options_.linger > 0) {
    const TimeNs deadline = steady_now() + options_.linger;
    auto enough = [&] {
      return stop_.load() || flush_waiters_.load() > 0 ||
             pending_.load() >= static_cast<int64_t>(options_.max_batch);
    };
    for (TimeNs now = steady_now(); now < deadline && !enough(); now = steady_now()) {
      writer_sleep(kLingering, deadline - now, enough);
    }
  }
  // Newest first on the stack: reverse into append order.
  Node* oldest = nullptr;
  for (Node* n = head_.exchange(nullptr, std::memory_order_acquire); n;) {
    Node* next = n->next;
    n->next = oldest;
    oldest = n;
    n = next;
  }
  return oldest;
}

void AuditLog::run() {
  set_current_thread_name("dg-audit");
  if (options_.background_priority) lower_current_thread_priority(ThreadPriority::kBackground);
  // Records are taken all at once (no lock: the I/O threads never wait for
  // this lower-priority thread) but count against the backlog (pending_)
  // until committed. They are written in batches of at most max_batch; a
  // failed batch is retried as it is, so order and chain are preserved.
  std::vector<PendingEntry> batch;
  std::vector<std::shared_ptr<FlushMark>> marks;
  TimeNs backoff = options_.retry_min;
  Node* list = nullptr;  // taken, oldest first, not yet in a batch
  while (true) {
    if (!list && !(list = take())) break;  // stopped, nothing left
    batch.clear();
    marks.clear();
    while (list && batch.size() < options_.max_batch) {
      std::unique_ptr<Node> n(std::exchange(list, list->next));
      if (n->mark) {
        marks.push_back(std::move(n->mark));
        continue;
      }
      if (!n->serialized) {
        if (!options_.keep_content) redact_content(n->record);
        n->entry.line = to_json_line(n->record);
        n->entry.ts = n->record.ts;
        n->entry.account = std::move(n->record.account);
      }
      batch.push_back(std::move(n->entry));
    }
    while (!batch.empty()) {
      Status st = sink_->write_batch(batch);
      if (st.ok()) {
        if (mirror_file_) mirror(batch);
        const auto n = static_cast<int64_t>(batch.size());
        written_.fetch_add(n, std::memory_order_relaxed);
        pending_.fetch_sub(n, std::memory_order_relaxed);
        backoff = options_.retry_min;
        break;
      }
      const int64_t errors = write_errors_.fetch_add(1, std::memory_order_relaxed) + 1;
      std::fprintf(stderr,
                   "distillguard: AUDIT LOG WRITE FAILED (%s); %lld records waiting in memory, "
                   "retrying in %lld ms (failure #%lld)\n",
                   st.to_string().c_str(), static_cast<long long>(pending_.load()),
                   static_cast<long long>(backoff / kNsPerMs), static_cast<long long>(errors));
      if (stop_.load()) {
        // Shutting down: the destructor reports what is left (still counted).
        while (list) delete std::exchange(list, list->next);
        return;
      }
      writer_sleep(kRetrying, backoff, [&] { return stop_.load(); });
      backoff = std::min(backoff * 2, options_.retry_max);
    }
    if (!marks.empty()) {
      {
        std::lock_guard<std::mutex> l(done_mu_);
        for (auto& m : marks) m->done = true;
      }
      done_cv_.notify_all();
    }
  }
}

void AuditLog::mirror(const std::vector<PendingEntry>& entries) {
  bool ok = true;
  for (const PendingEntry& e : entries) {
    if (std::fwrite(e.line.data(), 1, e.line.size(), mirror_file_) != e.line.size() ||
        std::fputc('\n', mirror_file_) == EOF) {
      ok = false;
      break;
    }
  }
  if (std::fflush(mirror_file_) != 0) ok = false;
  if (!ok) {
    mirror_errors_.fetch_add(1, std::memory_order_relaxed);
    std::fprintf(stderr,
                 "distillguard: AUDIT LOG: JSONL mirror write to '%s' failed (%s); the "
                 "SQLite log holds the records\n",
                 options_.jsonl_path.c_str(), std::strerror(errno));
    std::clearerr(mirror_file_);
  }
}

Status AuditLog::flush(TimeNs timeout) {
  // A marker behind everything appended so far: done once they are committed.
  auto node = std::make_unique<Node>();
  auto mark = std::make_shared<FlushMark>();
  node->mark = mark;
  flush_waiters_.fetch_add(1);
  push(node.release());
  wake_writer();
  std::unique_lock<std::mutex> lock(done_mu_);
  const bool done =
      done_cv_.wait_for(lock, std::chrono::nanoseconds(timeout), [&] { return mark->done; });
  flush_waiters_.fetch_sub(1);
  if (!done) {
    return Status(StatusCode::kDeadlineExceeded,
                  std::to_string(pending_.load()) + " audit records not yet written");
  }
  return {};
}

AuditLog::Counters AuditLog::counters() const {
  Counters c;
  c.backlog = pending_.load(std::memory_order_relaxed);
  c.written = written_.load(std::memory_order_relaxed);
  c.write_errors = write_errors_.load(std::memory_order_relaxed);
  c.refused = refused_.load(std::memory_order_relaxed);
  c.mirror_errors = mirror_errors_.load(std::memory_order_relaxed);
  return c;
}

void redact_content(ExchangeRecord& record) {
  if (auto* msgs = record.request.if_contains("messages"); msgs && msgs->is_array()) {
    for (auto& m : msgs->get_array()) {
      if (!m.is_object()) continue;
      if (auto* c = m.get_object().if_contains("content")) redact_value(*c);
    }
  }
  if (auto* p = record.request.if_contains("prompt")) redact_value(*p);
  if (record.response) {
    if (auto* ch = record.response->if_contains("choices"); ch && ch->is_array()) {
      for (auto& c : ch->get_array()) {
        if (!c.is_object()) continue;
        auto& co = c.get_object();
        if (auto* t = co.if_contains("text")) redact_value(*t);
        for (const char* k : {"message", "delta"}) {
          if (auto* m = co.if_contains(k); m && m->is_object()) {
            for (const char* f : {"content", "reasoning_content"}) {
              if (auto* v = m->get_object().if_contains(f)) redact_value(*v);
            }
          }
        }
      }
    }
  }
}

// ---------------------------------------------------------------- verification

Result<ChainReport> verify_audit_chain(const std::string& path) {
  DG_ASSIGN_OR_RETURN(auto db, SqliteDb::open(path, /*create=*/false));
  ChainReport r;
  DG_ASSIGN_OR_RETURN(bool exists, has_audit_table(*db));
  if (!exists) return r;  // no audit log written yet: an empty, intact chain
  DG_ASSIGN_OR_RETURN(
      SqliteStmt s,
      SqliteStmt::prepare(
          *db, "SELECT seq, ts_ns, account, record, prev_hash, hash FROM audit_log ORDER BY seq"));
  int64_t expected = 1;
  std::string prev = genesis_hash();
  auto broken = [&](int64_t seq, std::string why) {
    r.first_bad_seq = seq;
    r.reason = std::move(why);
  };
  while (true) {
    auto row = s.step();
    if (!row.ok()) return unavailable("audit log '" + path + "': " + row.status().message());
    if (!row.value()) break;
    const int64_t seq = s.col_int(0);
    const TimeNs ts = s.col_int(1);
    const std::string account = s.col_text(2);
    const std::string_view line = s.col_view(3);
    const std::string prev_hash = s.col_text(4);
    const std::string hash = s.col_text(5);
    ++r.entries;
    if (seq != expected) {
      broken(expected, seq > expected ? "entry missing (found seq " + std::to_string(seq) +
                                            " after seq " + std::to_string(expected - 1) + ")"
                                      : "seq out of order");
      return r;
    }
    if (prev_hash != prev) {
      broken(seq, "prev_hash does not match the hash of seq " + std::to_string(seq - 1));
      return r;
    }
    if (chain_hash(prev_hash, line) != hash) {
      broken(seq, "hash does not match its record (record or hash edited)");
      return r;
    }
    auto rec = parse_exchange_record(line);
    if (!rec.ok()) {
      broken(seq, "record does not parse: " + rec.status().message());
      return r;
    }
    if (rec->account != account || rec->ts != ts) {
      broken(seq, "ts/account columns differ from the record");
      return r;
    }
    prev = hash;
    ++expected;
  }
  r.head_hash = prev == genesis_hash() ? "" : prev;
  // The head written with the last batch: catches deletion of the last entries.
  auto h = SqliteStmt::prepare(*db, "SELECT seq, hash FROM audit_head WHERE id=1");
  if (h.ok()) {
    auto row = h->step();
    if (row.ok() && row.value()) {
      const int64_t head_seq = h->col_int(0);
      if (head_seq != expected - 1 || h->col_text(1) != r.head_hash) {
        broken(expected, "chain ends at seq " + std::to_string(expected - 1) +
                             " but the recorded head is seq " + std::to_string(head_seq) +
                             " (last entries deleted or head edited)");
      }
    } else if (row.ok() && r.entries > 0) {
      broken(1, "chain head record missing");
    }
  }
  return r;
}

Result<int64_t> audit_last_seq(const std::string& path) {
  DG_ASSIGN_OR_RETURN(auto db, SqliteDb::open(path, /*create=*/false));
  DG_ASSIGN_OR_RETURN(bool exists, has_audit_table(*db));
  if (!exists) return int64_t{0};
  DG_ASSIGN_OR_RETURN(SqliteStmt s,
                      SqliteStmt::prepare(*db, "SELECT IFNULL(MAX(seq),0) FROM audit_log"));
  DG_ASSIGN_OR_RETURN(bool row, s.step());
  return row ? s.col_int(0) : int64_t{0};
}

Status read_audit_entries(const std::string& path, int64_t after_seq, int64_t limit,
                          const std::string& account,
                          const std::function<bool(const AuditEntry&)>& fn) {
  DG_ASSIGN_OR_RETURN(auto db, SqliteDb::open(path, /*create=*/false));
  DG_ASSIGN_OR_RETURN(bool exists, has_audit_table(*db));
  if (!exists) return {};
  std::string sql =
      "SELECT seq, ts_ns, account, record, prev_hash, hash FROM audit_log WHERE seq > ?";
  if (!account.empty()) sql += " AND account = ?";
  sql += " ORDER BY seq";
  if (limit > 0) sql += " LIMIT " + std::to_string(limit);
  DG_ASSIGN_OR_RETURN(SqliteStmt s, SqliteStmt::prepare(*db, sql));
  s.bind(1, after_seq);
  if (!account.empty()) s.bind(2, account);
  while (true) {
    DG_ASSIGN_OR_RETURN(bool row, s.step());
    if (!row) break;
    AuditEntry e{s.col_int(0),  s.col_int(1),  s.col_text(2),
                 s.col_text(3), s.col_text(4), s.col_text(5)};
    if (!fn(e)) break;
  }
  return {};
}

}  // namespace dg
