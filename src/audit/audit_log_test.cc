#include "audit/audit_log.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <boost/json.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>
#include <vector>

#include "common/hash.h"

namespace dg {
namespace {

// Removes this process's scratch directory when the tests end.
class ScratchCleanup : public ::testing::Environment {
 public:
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(
        std::filesystem::temp_directory_path() / ("dg_audit_test_" + std::to_string(::getpid())),
        ec);
  }
};
const auto* const kCleanup = ::testing::AddGlobalTestEnvironment(new ScratchCleanup);

std::string temp_path(const char* name) {
  auto dir =
      std::filesystem::temp_directory_path() / ("dg_audit_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  auto p = dir / name;
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(p.string() + suffix);
  return p.string();
}

ExchangeRecord record(int i, const std::string& account = "acct") {
  ExchangeRecord r;
  r.ts = 1'700'000'000LL * kNsPerSec + i * kNsPerMs;
  r.account = account;
  r.endpoint = "/v1/chat/completions";
  r.request = boost::json::parse(R"({"model":"m","messages":[{"role":"user","content":"hi"}]})")
                  .as_object();
  r.request["i"] = i;
  r.status = 200;
  return r;
}

// A sink that fails while told to, and otherwise keeps entries in memory.
class FlakySink final : public AuditSink {
 public:
  std::atomic<bool> failing{false};
  std::atomic<int> attempts{0};
  std::mutex mu;
  std::vector<AuditEntry> stored;
  size_t max_batch_seen = 0;  // guarded by mu

  Status write_batch(const std::vector<PendingEntry>& batch) override {
    attempts.fetch_add(1);
    if (failing.load()) return resource_exhausted("disk full (injected)");
    std::lock_guard<std::mutex> l(mu);
    max_batch_seen = std::max(max_batch_seen, batch.size());
    std::string prev = stored.empty() ? genesis_hash() : stored.back().hash;
    for (const PendingEntry& p : batch) {
      AuditEntry e{static_cast<int64_t>(stored.size()) + 1,
                   p.ts,
                   p.account,
                   p.line,
                   prev,
                   chain_hash(prev, p.line)};
      prev = e.hash;
      stored.push_back(e);
    }
    return {};
  }
};

TEST(AuditChain, HashDefinition) {
  const std::string line = R"({"a":1})";
  std::string buf(32, '\0');
  buf += line;
  EXPECT_EQ(chain_hash(genesis_hash(), line), sha256_hex(buf));
  EXPECT_NE(chain_hash(chain_hash(genesis_hash(), line), line), chain_hash(genesis_hash(), line));
}

TEST(AuditLog, WritesAChainThatVerifies) {
  const std::string db = temp_path("chain.db");
  const std::string jsonl = temp_path("chain.jsonl");
  {
    AuditLogOptions o;
    o.jsonl_path = jsonl;
    auto log = AuditLog::open(db, o);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    for (int i = 0; i < 250; ++i) ASSERT_TRUE((*log)->append(record(i)).ok());
    ASSERT_TRUE((*log)->flush().ok());
    EXPECT_EQ((*log)->counters().written, 250);
    EXPECT_EQ((*log)->counters().backlog, 0);
  }
  {  // A second writer (e.g. after a restart) continues the same chain.
    auto log = AuditLog::open(db, {});
    ASSERT_TRUE(log.ok());
    ASSERT_TRUE((*log)->append(record(999, "other")).ok());
  }
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->entries, 251);
  EXPECT_EQ(r->first_bad_seq, 0) << r->reason;
  EXPECT_EQ(r->head_hash.size(), 64u);

  // The mirror holds exactly the record lines, each a valid exchange record.
  std::ifstream in(jsonl);
  std::string line;
  int n = 0;
  while (std::getline(in, line)) {
    auto rec = parse_exchange_record(line);
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->request.at("i").as_int64(), n);
    ++n;
  }
  EXPECT_EQ(n, 250);

  int count = 0;
  ASSERT_TRUE(read_audit_entries(db, 0, 0, "other", [&](const AuditEntry& e) {
                ++count;
                EXPECT_EQ(e.seq, 251);
                return true;
              }).ok());
  EXPECT_EQ(count, 1);
}

// Polls until `pred` or 5 s; true if it held.
template <typename Pred>
bool eventually(Pred pred) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > end) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// The writer checkpoints the WAL itself, after a commit that leaves
// checkpoint_bytes in it: committed pages reach the database file.
TEST(AuditLog, CheckpointsMovePagesIntoTheDatabaseFile) {
  const std::string db = temp_path("ckpt.db");
  AuditLogOptions o;
  o.linger = 0;
  o.max_batch = 8;
  o.sqlite.checkpoint_bytes = 16384;
  auto log = AuditLog::open(db, o);
  ASSERT_TRUE(log.ok()) << log.status().to_string();
  const std::string pad(2000, 'x');  // ~2 KB per record: 400 records ~ 800 KB
  for (int i = 0; i < 400; ++i) {
    ExchangeRecord r = record(i);
    r.request["pad"] = pad;
    ASSERT_TRUE((*log)->append(std::move(r)).ok());
  }
  ASSERT_TRUE((*log)->flush().ok());
  // Checked while the log is open (closing the last connection checkpoints).
  EXPECT_GE(std::filesystem::file_size(db), 700'000u) << "pages never reached the database file";
  log->reset();
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->entries, 400);
  EXPECT_EQ(r->first_bad_seq, 0) << r->reason;
}

// Disk use stays bounded: the WAL restarts from its first frame after each
// checkpoint, so the -wal file stays under checkpoint_bytes plus one batch
// however many records pass through it, at a steady rate (one transaction
// per group) or with a backlog (the writer behind, batches back to back).
// (Regression: with checkpoints on their own thread, every pass raced the
// writer's next commit and the WAL grew by every record: ~5 MB here.)
TEST(AuditLog, WalStaysBounded) {
  for (const bool backlog : {false, true}) {
    SCOPED_TRACE(backlog ? "backlog" : "steady");
    const std::string db = temp_path(backlog ? "wal_backlog.db" : "wal_steady.db");
    AuditLogOptions o;
    o.linger = 0;
    o.max_batch = 20;
    o.sqlite.checkpoint_bytes = 256 * 1024;
    auto log = AuditLog::open(db, o);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    const std::string pad(1000, 'x');          // ~1.1 KB per record
    constexpr int kGroups = 100, kGroup = 20;  // 2000 records, ~5 MB of WAL frames
    uintmax_t wal_max = 0;
    auto sample = [&] {
      std::error_code ec;
      const uintmax_t size = std::filesystem::file_size(db + "-wal", ec);
      if (!ec) wal_max = std::max(wal_max, size);
    };
    for (int g = 0; g < kGroups; ++g) {
      for (int i = 0; i < kGroup; ++i) {
        ExchangeRecord r = record(g * kGroup + i);
        r.request["pad"] = pad;
        ASSERT_TRUE((*log)->append(std::move(r)).ok());
      }
      if (!backlog) {
        ASSERT_TRUE((*log)->flush().ok());
      }
      sample();
    }
    while ((*log)->counters().backlog > 0) {
      sample();
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    ASSERT_TRUE((*log)->flush().ok());
    sample();
    // 256 KB + one batch's frames (~22 KB of rows, the index, the head, the
    // header page: ~8 frames of 8 KB), with room to spare.
    EXPECT_LE(wal_max, 512u * 1024u);
    EXPECT_EQ((*log)->counters().written, kGroups * kGroup);
    log->reset();
    auto r = verify_audit_chain(db);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->entries, kGroups * kGroup);
    EXPECT_EQ(r->first_bad_seq, 0) << r->reason;
  }
}

int64_t page_size_of(const std::string& db) {
  sqlite3* h = nullptr;
  EXPECT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  EXPECT_EQ(sqlite3_prepare_v2(h, "PRAGMA page_size", -1, &st, nullptr), SQLITE_OK);
  EXPECT_EQ(sqlite3_step(st), SQLITE_ROW);
  const int64_t size = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
  return size;
}

// A new audit database gets the configured page size; an existing one (e.g.
// the account store's, when they share a file) keeps its own.
TEST(AuditLog, NewDatabaseGetsThePageSize) {
  const std::string fresh = temp_path("pages_new.db");
  const std::string shared = temp_path("pages_shared.db");
  {
    sqlite3* h = nullptr;
    ASSERT_EQ(sqlite3_open(shared.c_str(), &h), SQLITE_OK);
    ASSERT_EQ(sqlite3_exec(h, "PRAGMA page_size=4096; CREATE TABLE accounts(id)", nullptr, nullptr,
                           nullptr),
              SQLITE_OK);
    sqlite3_close(h);
  }
  for (const std::string& db : {fresh, shared}) {
    AuditLogOptions o;
    o.sqlite.page_size = 16384;
    auto log = AuditLog::open(db, o);
    ASSERT_TRUE(log.ok()) << log.status().to_string();
    ASSERT_TRUE((*log)->append(record(1)).ok());
    ASSERT_TRUE((*log)->flush().ok());
  }
  EXPECT_EQ(page_size_of(fresh), 16384);
  EXPECT_EQ(page_size_of(shared), 4096);
  for (const std::string& db : {fresh, shared}) {
    auto r = verify_audit_chain(db);
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->entries, 1);
    EXPECT_EQ(r->first_bad_seq, 0) << r->reason;
  }
}

void exec(const std::string& db, const std::string& sql) {
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(h, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK) << err;
  sqlite3_close(h);
}

std::string fresh_chain(const char* name, int n) {
  const std::string db = temp_path(name);
  auto log = AuditLog::open(db, {});
  EXPECT_TRUE(log.ok());
  for (int i = 0; i < n; ++i) EXPECT_TRUE((*log)->append(record(i)).ok());
  EXPECT_TRUE((*log)->flush().ok());
  return db;
}

TEST(AuditChain, TamperedRecordIsNamed) {
  const std::string db = fresh_chain("tamper_record.db", 20);
  exec(db, "UPDATE audit_log SET record = replace(record, '\"hi\"', '\"bye\"') WHERE seq = 7");
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_bad_seq, 7);
  EXPECT_NE(r->reason.find("hash does not match"), std::string::npos) << r->reason;
}

TEST(AuditChain, TamperedHashIsNamed) {
  const std::string db = fresh_chain("tamper_hash.db", 20);
  exec(db, "UPDATE audit_log SET hash = '" + std::string(64, 'a') + "' WHERE seq = 12");
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_bad_seq, 12);
}

TEST(AuditChain, RecomputedForgeryBreaksTheNextLink) {
  // Edit a record AND recompute its hash: the next entry's prev_hash no longer matches.
  const std::string db = fresh_chain("forge.db", 20);
  exec(db, "UPDATE audit_log SET record = replace(record, '\"hi\"', '\"yo\"') WHERE seq = 5");
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open(db.c_str(), &h), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT prev_hash, record FROM audit_log WHERE seq=5", -1, &st,
                               nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  std::string forged = chain_hash(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)),
                                  reinterpret_cast<const char*>(sqlite3_column_text(st, 1)));
  sqlite3_finalize(st);
  sqlite3_close(h);
  exec(db, "UPDATE audit_log SET hash = '" + forged + "' WHERE seq = 5");
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_bad_seq, 6);
  EXPECT_NE(r->reason.find("prev_hash"), std::string::npos) << r->reason;
}

TEST(AuditChain, DeletedEntryIsDetected) {
  const std::string db = fresh_chain("delete.db", 20);
  exec(db, "DELETE FROM audit_log WHERE seq = 9");
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_bad_seq, 9);
  EXPECT_NE(r->reason.find("missing"), std::string::npos) << r->reason;
}

TEST(AuditChain, DeletedTailIsDetected) {
  const std::string db = fresh_chain("delete_tail.db", 20);
  exec(db, "DELETE FROM audit_log WHERE seq >= 18");
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_bad_seq, 18);
}

TEST(AuditChain, EditedAccountColumnIsDetected) {
  const std::string db = fresh_chain("account_col.db", 5);
  exec(db, "UPDATE audit_log SET account = 'someone' WHERE seq = 3");
  auto r = verify_audit_chain(db);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->first_bad_seq, 3);
}

TEST(AuditLog, RecordsWaitThroughWriteErrorsAndThenLand) {
  auto sink = std::make_unique<FlakySink>();
  FlakySink* s = sink.get();
  s->failing = true;
  AuditLogOptions o;
  o.max_backlog = 100;
  o.max_batch = 7;
  o.retry_min = 1 * kNsPerMs;
  o.retry_max = 5 * kNsPerMs;
  auto log = AuditLog::create(std::move(sink), o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 60; ++i) ASSERT_TRUE((*log)->append(record(i)).ok());
  // While the disk fails, flush times out and nothing is lost.
  EXPECT_EQ((*log)->flush(50 * kNsPerMs).code(), StatusCode::kDeadlineExceeded);
  AuditLog::Counters c = (*log)->counters();
  EXPECT_EQ(c.backlog, 60);
  EXPECT_EQ(c.written, 0);
  EXPECT_GE(c.write_errors, 2);
  // Fill the backlog: then append refuses, loudly counted.
  for (int i = 60; i < 100; ++i) ASSERT_TRUE((*log)->append(record(i)).ok());
  Status refused = (*log)->append(record(100));
  EXPECT_EQ(refused.code(), StatusCode::kResourceExhausted);
  EXPECT_EQ((*log)->counters().refused, 1);
  // The disk recovers: everything lands, in order, chained.
  s->failing = false;
  ASSERT_TRUE((*log)->flush(5 * kNsPerSec).ok());
  c = (*log)->counters();
  EXPECT_EQ(c.written, 100);
  EXPECT_EQ(c.backlog, 0);
  std::lock_guard<std::mutex> l(s->mu);
  ASSERT_EQ(s->stored.size(), 100u);
  for (int i = 0; i < 100; ++i) {
    auto rec = parse_exchange_record(s->stored[i].line);
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->request.at("i").as_int64(), i);
    if (i > 0) {
      EXPECT_EQ(s->stored[i].prev_hash, s->stored[i - 1].hash);
    }
  }
}

// The hand-off is lock-free: records from concurrent producers all land, each
// producer's in its own order, chained, in batches of at most max_batch; a
// flush() returns only once everything its caller appended before it is
// committed.
TEST(AuditLog, ConcurrentProducersLandInOrderAndFlushCoversTheirRecords) {
  auto sink = std::make_unique<FlakySink>();
  FlakySink* s = sink.get();
  AuditLogOptions o;
  o.max_batch = 64;
  o.linger = 1 * kNsPerMs;
  auto log = AuditLog::create(std::move(sink), o);
  ASSERT_TRUE(log.ok());
  constexpr int kProducers = 4, kEach = 5000;
  std::atomic<int> flush_misses{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p) {
    producers.emplace_back([&, p] {
      const std::string account = "p" + std::to_string(p);
      for (int i = 0; i < kEach; ++i) {
        ASSERT_TRUE((*log)->append(record(i, account)).ok());
        if (i % 1000 == 999) {
          ASSERT_TRUE((*log)->flush().ok());
          std::lock_guard<std::mutex> l(s->mu);
          int mine = 0;
          for (const AuditEntry& e : s->stored) mine += e.account == account;
          if (mine < i + 1) flush_misses.fetch_add(1);
        }
      }
    });
  }
  for (auto& t : producers) t.join();
  ASSERT_TRUE((*log)->flush().ok());
  EXPECT_EQ(flush_misses.load(), 0);
  const AuditLog::Counters c = (*log)->counters();
  EXPECT_EQ(c.written, kProducers * kEach);
  EXPECT_EQ(c.backlog, 0);
  std::lock_guard<std::mutex> l(s->mu);
  ASSERT_EQ(s->stored.size(), static_cast<size_t>(kProducers * kEach));
  EXPECT_LE(s->max_batch_seen, 64u);
  std::vector<int> next(kProducers, 0);
  for (size_t k = 0; k < s->stored.size(); ++k) {
    const AuditEntry& e = s->stored[k];
    auto rec = parse_exchange_record(e.line);
    ASSERT_TRUE(rec.ok());
    EXPECT_EQ(rec->account, e.account);
    const int p = std::stoi(e.account.substr(1));
    ASSERT_EQ(rec->request.at("i").as_int64(), next[p]++) << "producer " << p << " out of order";
    if (k > 0) {
      ASSERT_EQ(e.prev_hash, s->stored[k - 1].hash);
    }
  }
}

// Exactly max_backlog records are held while the disk fails, however many
// producers race for the last places; the rest are refused and counted.
TEST(AuditLog, BacklogBoundHoldsUnderConcurrentProducers) {
  auto sink = std::make_unique<FlakySink>();
  FlakySink* s = sink.get();
  s->failing = true;
  AuditLogOptions o;
  o.max_backlog = 1000;
  o.retry_min = 1 * kNsPerMs;
  o.retry_max = 2 * kNsPerMs;
  auto log = AuditLog::create(std::move(sink), o);
  ASSERT_TRUE(log.ok());
  std::atomic<int> accepted{0}, refused{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < 4; ++p) {
    producers.emplace_back([&, p] {
      const std::string account = "p" + std::to_string(p);
      for (int i = 0; i < 500; ++i) {
        Status st = (*log)->append(record(i, account));
        if (st.ok())
          accepted.fetch_add(1);
        else if (st.code() == StatusCode::kResourceExhausted)
          refused.fetch_add(1);
      }
    });
  }
  for (auto& t : producers) t.join();
  EXPECT_EQ(accepted.load(), 1000);
  EXPECT_EQ(refused.load(), 1000);
  AuditLog::Counters c = (*log)->counters();
  EXPECT_EQ(c.backlog, 1000);
  EXPECT_EQ(c.refused, 1000);
  s->failing = false;
  ASSERT_TRUE((*log)->flush().ok());
  c = (*log)->counters();
  EXPECT_EQ(c.written, 1000);
  EXPECT_EQ(c.backlog, 0);
}

// An append wakes an idle writer by itself (no flush), every time; and a
// lingering writer commits as soon as max_batch records wait.
TEST(AuditLog, AppendsWakeTheWriter) {
  {
    AuditLogOptions o;
    o.linger = 1 * kNsPerMs;
    auto log = AuditLog::create(std::make_unique<FlakySink>(), o);
    ASSERT_TRUE(log.ok());
    for (int i = 0; i < 20; ++i) {
      ASSERT_TRUE((*log)->append(record(i)).ok());
      ASSERT_TRUE(eventually([&] { return (*log)->counters().written == i + 1; })) << i;
      std::this_thread::sleep_for(std::chrono::milliseconds(2));  // the writer goes idle
    }
  }
  AuditLogOptions o;
  o.linger = 60 * kNsPerSec;
  o.max_batch = 8;
  auto log = AuditLog::create(std::make_unique<FlakySink>(), o);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 8; ++i) ASSERT_TRUE((*log)->append(record(i)).ok());
  EXPECT_TRUE(eventually([&] { return (*log)->counters().written == 8; }));
}

TEST(AuditLog, RedactsContentWhenAsked) {
  ExchangeRecord r = record(1);
  r.response = boost::json::parse(
                   R"({"choices":[{"message":{"role":"assistant","content":"secret answer"}}],
                       "usage":{"prompt_tokens":3,"completion_tokens":2}})")
                   .as_object();
  redact_content(r);
  std::string line = to_json_line(r);
  EXPECT_EQ(line.find("secret answer"), std::string::npos);
  EXPECT_EQ(line.find("\"hi\""), std::string::npos);
  EXPECT_NE(line.find("prompt_tokens"), std::string::npos);
}

}  // namespace
}  // namespace dg
