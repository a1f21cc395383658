// Shares limiter state between gateway instances through Redis, without ever
// putting a Redis round trip on the request path.
//
// Each instance admits requests from its own GcraStore. A background thread
// wakes every `interval`, drains the charges and refunds made locally since
// the last round (GcraStore::drain_pending), and sends them to Redis in one
// pipelined batch: per key, a Lua script computes
//   tat = max(shared_tat, now) + delta   (clamped at now; expires when idle)
// and returns the shared TAT, which is folded back into the local store
// (TAT = max(local, shared)). So an account spread over N gateways is held to
// one limit, give or take what it can do in one interval on each.
//
// Failure: fail open. If Redis is unreachable or errors, the round is counted
// and reported on stderr (once per outage), the deltas are kept (bounded by
// max_pending keys) and sent on a later round; local limits keep working.
//
// Keys: "dg:gcra:" + hex of the 128-bit LimitKey, so every instance names the
// same limit the same way. TATs are stored in microseconds (Lua numbers are
// doubles). Instances' clocks should agree to well under a second (NTP).
//
// Thread-safety: counters() and sync_now() are thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/status.h"
#include "limit/gcra.h"

struct redisContext;

namespace dg {

struct RedisSyncOptions {
  std::string url;                        // redis://host:port[/db] or unix:/path/to.sock
  TimeNs interval = 50 * kNsPerMs;        // 0 = no thread; call sync_now()
  TimeNs connect_timeout = 500 * kNsPerMs;
  size_t max_pending = 1'000'000;         // keys held while Redis is away
};

class RedisLimitSync {
 public:
  struct Counters {
    int64_t rounds = 0;
    int64_t errors = 0;
    int64_t keys_sent = 0;
    int64_t dropped = 0;  // deltas dropped because max_pending was reached
    bool connected = false;
  };

  // Enables sharing on `store` and starts the thread. The URL is checked now
  // (kInvalidArgument); an unreachable Redis is not an error (fail open).
  // `store` and `clock` must outlive this object.
  static Result<std::unique_ptr<RedisLimitSync>> start(GcraStore& store, Clock& clock,
                                                       const RedisSyncOptions& options);
  ~RedisLimitSync();

  // One round now. Errors: kUnavailable (deltas kept for the next round).
  Status sync_now();
  Counters counters() const;

  RedisLimitSync(const RedisLimitSync&) = delete;
  RedisLimitSync& operator=(const RedisLimitSync&) = delete;

 private:
  RedisLimitSync(GcraStore& store, Clock& clock, const RedisSyncOptions& options);
  Status connect();
  void run();

  GcraStore& store_;
  Clock& clock_;
  RedisSyncOptions options_;
  std::string host_, unix_path_;
  int port_ = 6379, db_ = 0;
  std::mutex mu_;  // one round at a time; guards ctx_ and carry_
  redisContext* ctx_ = nullptr;
  std::string script_sha_;
  std::vector<std::pair<LimitKey, int64_t>> carry_;  // deltas not yet sent
  bool reported_outage_ = false;
  std::atomic<int64_t> rounds_{0}, errors_{0}, keys_sent_{0}, dropped_{0};
  std::atomic<bool> connected_{false};
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stop_ = false;
  std::thread thread_;
};

// Parses redis://host[:port][/db] or unix:/path. Exposed for tests.
Status parse_redis_url(const std::string& url, std::string* host, int* port, int* db,
                       std::string* unix_path);

}  // namespace dg
