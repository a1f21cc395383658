// The audit log: every exchange record, append-only and hash-chained.
//
// Chain. Entry n stores seq (1, 2, ...), ts, account, line = to_json_line(record),
// prev_hash = hash of entry n-1 (64 zero hex digits for seq 1) and
//   hash = hex(SHA-256(prev_hash_bytes || line))
// where prev_hash_bytes are the 32 raw bytes of prev_hash. Editing a line, a
// hash or deleting/reordering entries breaks the chain at that seq;
// verify_audit_chain() names the first broken entry.
//
// Non-blocking. append() never touches the disk (nor serializes) nor takes a
// lock: it links the record onto a lock-free list (one allocation, one
// compare-and-swap) and returns. One writer thread ("dg-audit", nice +5)
// takes the whole list at once and writes it in batches (one SQLite
// transaction each, WAL); it checkpoints the WAL itself in short passes
// between transactions (see SqliteAuditSinkOptions). An append wakes the
// writer (one futex system call) only when it sleeps for want of records, or
// when a lingering batch is full. If a batch fails (disk full, I/O error,
// locked database) the error is printed to stderr and counted, the records
// stay in memory in order and the batch is retried with backoff — nothing is
// dropped. Only when max_backlog records are waiting does append() refuse
// (kResourceExhausted: the gateway answers 503 rather than serve an exchange it
// cannot record).
//
// JSONL mirror (optional): after each committed batch, the same record lines
// (exactly the exchange-log format, no chain fields) are appended to a JSONL
// file that `analyze` can read directly. The chain lives in SQLite only.
//
// Thread-safety: append(), counters() and flush() are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/exchange_record.h"
#include "distillguard/status.h"

namespace dg {

// A record waiting to be chained and written.
struct PendingEntry {
  TimeNs ts = 0;
  std::string account;
  std::string line;  // to_json_line(record)
};

// A chained entry as stored.
struct AuditEntry {
  int64_t seq = 0;
  TimeNs ts = 0;
  std::string account;
  std::string line;
  std::string prev_hash;  // hex
  std::string hash;       // hex
};

// hex(SHA-256(unhex(prev_hash_hex) || line)).
std::string chain_hash(std::string_view prev_hash_hex, std::string_view line);
// The prev_hash of seq 1: 64 '0's.
const std::string& genesis_hash();

// Where batches land. write_batch() chains `batch` onto the stored head and
// commits atomically: all entries or none. On error nothing was written and
// the same batch will be offered again. Called from the writer thread only.
class AuditSink {
 public:
  virtual ~AuditSink() = default;
  virtual Status write_batch(const std::vector<PendingEntry>& batch) = 0;
};

struct SqliteAuditSinkOptions {
  // Page size of a new database file (an existing one keeps its own, e.g. the
  // account store's when the two share a file). A record is ~1.3 KB as a
  // row; 8 KB rather than SQLite's 4 KB pages mean half the WAL frames,
  // B-tree pages and checkpoint page copies per record: writer CPU per
  // record -15% at 4000 records/s, no change at 1000/s (docs/profile.md).
  int page_size = 8192;
  // WAL checkpoints copy committed pages into the database file: ~0.7 ms of
  // CPU per pass (two fsyncs) plus a few µs per page (audit_bench on a loaded
  // machine). SQLite's own auto-checkpoint runs one inside the commit that
  // crosses 1000 pages: an 8-10 ms CPU burst at 4 KB pages. Instead the
  // writer runs a PASSIVE checkpoint right after any commit that leaves
  // `checkpoint_bytes` or more in the WAL: a ~2 ms pass, about one large
  // batch. It copies every frame (the writer is the only one adding frames,
  // and it is between transactions), so the next transaction restarts the WAL
  // from its first frame and the -wal file stays under checkpoint_bytes plus
  // one batch, however far behind the writer is. (Checkpoints on another
  // thread race the next commit and, under steady load, kept the WAL from
  // restarting: it grew by every record.) Readers that hold a snapshot
  // (audit tail, the dashboard) can hold a restart back while they read;
  // afterwards SQLite truncates a -wal file larger than 4 x checkpoint_bytes.
  int64_t checkpoint_bytes = int64_t{1} << 20;
};

// SQLite sink (WAL). The chain head is re-read inside each write transaction
// (BEGIN IMMEDIATE), so two processes appending to one file still form one chain.
Result<std::unique_ptr<AuditSink>> open_sqlite_audit_sink(
    const std::string& path, const SqliteAuditSinkOptions& options = {});

struct AuditLogOptions {
  size_t max_backlog = 100000;       // records held in memory at most
  size_t max_batch = 1024;           // records per transaction
  std::string jsonl_path;            // "" = no mirror
  bool keep_content = true;          // false: redact_content() each record
  TimeNs retry_min = 50 * kNsPerMs;  // backoff after a failed batch, doubling...
  TimeNs retry_max = 5 * kNsPerSec;  // ...up to this
  // After the first record of an idle spell arrives, the writer waits this
  // long (or until max_batch records) before committing: a transaction's fixed
  // cost (file locks, WAL frames of partly filled pages, the head row) is most
  // of a record's cost in small batches (audit_bench: 47 µs per record at
  // 1000 records/s, 14 µs at 20000/s), and 20 ms rather than 5 ms cut the
  // writer's CPU per record by ~23% at 4000/s (docs/profile.md). Appends wake
  // the writer only when it is idle, or lingering with max_batch records
  // waiting; flush() cuts the wait short. 0 = no wait.
  TimeNs linger = 20 * kNsPerMs;
  // Run the writer thread at background priority (nice +5, see
  // common/thread_priority.h) so that the I/O threads win the CPU from it more
  // often. The I/O threads never wait for it: append() shares no lock with it.
  bool background_priority = true;
  SqliteAuditSinkOptions sqlite;  // for open()
};

class AuditLog {
 public:
  struct Counters {
    int64_t backlog = 0;        // records waiting in memory
    int64_t written = 0;        // records committed
    int64_t write_errors = 0;   // failed batch attempts
    int64_t refused = 0;        // append() calls refused with a full backlog
    int64_t mirror_errors = 0;  // failed JSONL mirror writes
  };

  // Starts the writer thread on `sink`.
  static Result<std::unique_ptr<AuditLog>> create(std::unique_ptr<AuditSink> sink,
                                                  const AuditLogOptions& options);
  // Opens the SQLite sink at `sqlite_path`, then as create().
  static Result<std::unique_ptr<AuditLog>> open(const std::string& sqlite_path,
                                                const AuditLogOptions& options);
  // Flushes for up to 5 s, then stops the writer; reports on stderr any records
  // still unwritten.
  ~AuditLog();

  // Never blocks on I/O. kResourceExhausted if the backlog is full.
  Status append(ExchangeRecord record);
  // Same, for an already serialized record line.
  Status append_line(TimeNs ts, std::string account, std::string line);
  // Waits until everything appended before the call is committed, or timeout.
  // kDeadlineExceeded if records are still waiting (e.g. the disk is failing).
  Status flush(TimeNs timeout = 5 * kNsPerSec);
  Counters counters() const;

  AuditLog(const AuditLog&) = delete;
  AuditLog& operator=(const AuditLog&) = delete;

 private:
  // A flush() waiting for the records appended before it.
  struct FlushMark {
    bool done = false;  // guarded by done_mu_
  };
  // A record on its way to the disk, or a flush() marker (`mark` set). Kept
  // unserialized: the writer serializes (and redacts) it, so append() costs
  // the request path only a move.
  struct Node {
    Node* next = nullptr;
    ExchangeRecord record;
    PendingEntry entry;  // entry.line empty until serialized
    bool serialized = false;
    std::shared_ptr<FlushMark> mark;
  };
  // The writer's futex word: kWorking, or what it sleeps for.
  enum WriterState : uint32_t { kWorking = 0, kIdle = 1, kLingering = 2, kRetrying = 3 };

  AuditLog(std::unique_ptr<AuditSink> sink, const AuditLogOptions& options);
  // Both appends end here: refuse when full, else link and wake if needed.
  Status enqueue(std::unique_ptr<Node> node);
  void push(Node* node);
  // Wakes the writer from any sleep (flush, stop).
  void wake_writer();
  // Sleeps in `state` until woken or `timeout` (< 0: none) unless `done()`.
  template <typename Done>
  void writer_sleep(WriterState state, TimeNs timeout, Done done);
  // Writer: waits for records, lingers, then takes all of them, oldest first.
  // nullptr once stopped with nothing left.
  Node* take();
  void run();
  void mirror(const std::vector<PendingEntry>& entries);

  std::unique_ptr<AuditSink> sink_;
  AuditLogOptions options_;
  std::atomic<Node*> head_{nullptr};  // appended, not yet taken; newest first
  std::atomic<int64_t> pending_{0};   // accepted, not yet committed (the backlog)
  std::atomic<uint32_t> writer_state_{kWorking};
  std::atomic<int> flush_waiters_{0};  // cuts the writer's linger short
  std::atomic<bool> stop_{false};
  std::mutex done_mu_;  // flush() waits on done_cv_ for its mark
  std::condition_variable done_cv_;
  std::atomic<int64_t> written_{0};
  std::atomic<int64_t> write_errors_{0};
  std::atomic<int64_t> refused_{0};
  std::atomic<int64_t> mirror_errors_{0};
  FILE* mirror_file_ = nullptr;
  std::thread writer_;
};

// Removes message/prompt/answer text from a record (keep_content = false):
// request.messages[].content, request.prompt, response choices' content and
// reasoning_content become "[redacted]". Structure and usage stay.
void redact_content(ExchangeRecord& record);

struct ChainReport {
  int64_t entries = 0;        // entries checked
  int64_t first_bad_seq = 0;  // 0 = chain intact
  std::string reason;         // why first_bad_seq is broken
  std::string head_hash;      // hash of the last entry
};

// Checks the whole chain in the SQLite audit database at `path`: seqs
// contiguous from 1, each prev_hash equal to the previous hash, each hash
// recomputed, ts/account columns matching the line. Returns ok with the report
// (first_bad_seq != 0 if broken); an error only if the file cannot be read.
Result<ChainReport> verify_audit_chain(const std::string& path);

// The highest seq in the audit database (0 if empty).
Result<int64_t> audit_last_seq(const std::string& path);

// Reads entries in seq order (for `audit tail/export`): `after_seq` exclusive,
// at most `limit` (0 = all), optionally only one account. Calls `fn` per entry;
// stops early if fn returns false.
Status read_audit_entries(const std::string& path, int64_t after_seq, int64_t limit,
                          const std::string& account,
                          const std::function<bool(const AuditEntry&)>& fn);

}  // namespace dg
