// GCRA (generic cell rate algorithm): a rate limit with O(1) state — one
// int64 "theoretical arrival time" (TAT) per limited key.
//
// A limit is `per_minute` cells per minute with a burst tolerance of
// `burst_seconds`: the emission interval is T = 60 s / per_minute, and a
// request of n cells at time t is allowed iff max(TAT, t) + n*T - t <= tau,
// tau = max(burst_seconds, one cell's interval) — i.e. up to
// burst_seconds*per_minute/60 cells may arrive at once, then one every T.
// Allowing sets TAT = max(TAT, t) + n*T. A key whose TAT <= now is in exactly
// the state of a key never seen, which makes eviction of idle keys lossless.
//
// GcraStore is a sharded hash map from LimitKey to TAT with a bound on the
// number of keys: when a shard is full it first evicts idle keys (lossless),
// and only if none is idle evicts the entry closest to idle (the client gains
// at most that entry's remaining debt). Each shard has its own small mutex held
// for a few dozen instructions; no global lock.
//
// Keys are generic: LimitKey::of("acct", account, "rpm"), ("cluster", id,
// "tpm"), ("acct", account, "cap:math:rpm")... — a 128-bit hash of the parts,
// so entries are fixed-size (bounded memory per key) and building a key does
// not allocate.
//
// Thread-safety: GcraStore is thread-safe.
#pragma once

#include <cstdint>
#include <memory>
#include <string_view>
#include <utility>
#include <vector>

#include "distillguard/clock.h"

namespace dg {

struct LimitKey {
  uint64_t hi = 0;
  uint64_t lo = 0;
  static LimitKey of(std::string_view kind, std::string_view subject, std::string_view limit);
  bool operator==(const LimitKey&) const = default;
};

struct GcraRate {
  double per_minute = 60;     // > 0 (already scaled by ramp and multipliers)
  double burst_seconds = 60;  // > 0
  // Emission interval per cell, ns.
  double interval_ns() const { return 60.0 * kNsPerSec / per_minute; }
  // Tolerance, ns (at least one cell).
  double tau_ns() const;
  // Cells that may arrive at once.
  double capacity() const { return tau_ns() / interval_ns(); }
};

struct GcraDecision {
  bool allowed = false;
  // Cells still available right after this decision (floor, >= 0).
  int64_t remaining = 0;
  // Time until the key is back to full capacity (TAT - now, >= 0).
  TimeNs reset_after = 0;
  // If refused: time until the same request would be allowed (>0). If the
  // request can never fit (cost > capacity), INT64_MAX.
  TimeNs retry_after = 0;
};

class GcraStore {
 public:
  // `max_keys` bounds memory (~64 bytes per key); >= 64.
  explicit GcraStore(size_t max_keys = 1'000'000);
  ~GcraStore();

  // Charges `cost` cells if they fit; otherwise changes nothing.
  GcraDecision acquire(const LimitKey& key, const GcraRate& rate, double cost, TimeNs now);
  // The decision acquire() would give, without charging.
  GcraDecision peek(const LimitKey& key, const GcraRate& rate, double cost, TimeNs now);
  // Unconditionally adds `delta` cells (negative = refund): reconciliation of
  // an estimate with the actual cost. A refund never takes TAT below now.
  void adjust(const LimitKey& key, const GcraRate& rate, double delta, TimeNs now);

  // Raw time slots sharing the same bounded map (e.g. a strike's expiry): the
  // stored value, or 0 if absent or <= now (idle slots are evictable).
  TimeNs load(const LimitKey& key, TimeNs now);
  // Sets the slot to max(current, value).
  void store_max(const LimitKey& key, TimeNs value, TimeNs now);

  size_t size() const;
  size_t max_keys() const { return max_keys_; }

  // Sharing between gateway instances (limit/redis_sync.h). Once enabled,
  // every charge and refund is also accumulated per key (ns of TAT) until a
  // sync thread drains it; merge_remote() folds the shared state back in.
  // Off by default: then none of this costs anything.
  void enable_sharing() { sharing_ = true; }
  bool sharing() const { return sharing_; }
  void drain_pending(std::vector<std::pair<LimitKey, int64_t>>& out);
  // TAT = max(local TAT, remote_tat).
  void merge_remote(const LimitKey& key, TimeNs remote_tat, TimeNs now);

 private:
  struct Shard;
  static constexpr size_t kShards = 64;
  Shard& shard(const LimitKey& key);
  size_t max_keys_;
  bool sharing_ = false;
  std::unique_ptr<Shard[]> shards_;
};

}  // namespace dg
