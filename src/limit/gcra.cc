#include "limit/gcra.h"

#include <algorithm>
#include <climits>
#include <cmath>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "common/hash.h"

namespace dg {

namespace {

struct KeyHash {
  size_t operator()(const LimitKey& k) const { return static_cast<size_t>(k.lo); }
};

int64_t cells_ns(double cells, double interval) { return std::llround(cells * interval); }

}  // namespace

LimitKey LimitKey::of(std::string_view kind, std::string_view subject, std::string_view limit) {
  // Each part hashed with the previous hash as seed: "ab"+"c" != "a"+"bc".
  uint64_t hi = hash64(kind, 0x6a09e667f3bcc908ULL);
  hi = hash64(subject, hi);
  hi = hash64(limit, hi);
  uint64_t lo = hash64(kind, 0xbb67ae8584caa73bULL);
  lo = hash64(subject, lo);
  lo = hash64(limit, lo);
  return {hi, lo};
}

double GcraRate::tau_ns() const {
  return std::max(burst_seconds * static_cast<double>(kNsPerSec), interval_ns());
}

struct alignas(64) GcraStore::Shard {
  std::mutex mu;
  std::unordered_map<LimitKey, int64_t, KeyHash> tat;
  std::unordered_map<LimitKey, int64_t, KeyHash> pending;  // only when sharing
  size_t cap = 0;

  // Makes room for one insertion. Idle keys (TAT <= now) go first: forgetting
  // them changes nothing. If that frees less than 1/8 of the shard, the keys
  // closest to idle go too, so the sweep's cost is amortized over many inserts.
  void make_room(TimeNs now) {
    if (tat.size() < cap) return;
    for (auto it = tat.begin(); it != tat.end();) {
      it = it->second <= now ? tat.erase(it) : std::next(it);
    }
    size_t want_free = std::max<size_t>(1, cap / 8);
    if (tat.size() + want_free <= cap) return;
    size_t evict = tat.size() + want_free - cap;
    std::vector<int64_t> v;
    v.reserve(tat.size());
    for (auto& [k, t] : tat) v.push_back(t);
    std::nth_element(v.begin(), v.begin() + static_cast<ptrdiff_t>(evict - 1), v.end());
    int64_t cutoff = v[evict - 1];
    for (auto it = tat.begin(); it != tat.end() && evict > 0;) {
      if (it->second <= cutoff) {
        it = tat.erase(it);
        --evict;
      } else {
        ++it;
      }
    }
  }

  void put(const LimitKey& key, int64_t value, TimeNs now) {
    auto it = tat.find(key);
    if (value <= now) {
      if (it != tat.end()) tat.erase(it);
      return;
    }
    if (it != tat.end()) {
      it->second = value;
      return;
    }
    make_room(now);
    tat.emplace(key, value);
  }
};

GcraStore::GcraStore(size_t max_keys)
    : max_keys_(std::max<size_t>(max_keys, kShards)), shards_(new Shard[kShards]) {
  for (size_t i = 0; i < kShards; ++i) shards_[i].cap = max_keys_ / kShards;
}

GcraStore::~GcraStore() = default;

GcraStore::Shard& GcraStore::shard(const LimitKey& key) { return shards_[key.hi % kShards]; }

namespace {

GcraDecision decide(int64_t tat, const GcraRate& rate, double cost, TimeNs now, int64_t* new_tat) {
  const double interval = rate.interval_ns();
  const int64_t tau = std::llround(rate.tau_ns());
  const int64_t tat0 = std::max<int64_t>(tat, now);
  const int64_t next = tat0 + cells_ns(cost, interval);
  GcraDecision d;
  if (next - now <= tau) {
    d.allowed = true;
    *new_tat = next;
    d.remaining = static_cast<int64_t>(std::floor(static_cast<double>(tau - (next - now)) / interval));
    d.reset_after = next - now;
  } else {
    d.allowed = false;
    *new_tat = tat;
    d.remaining = std::max<int64_t>(
        0, static_cast<int64_t>(std::floor(static_cast<double>(tau - (tat0 - now)) / interval)));
    d.reset_after = tat0 - now;
    d.retry_after = cells_ns(cost, interval) > tau ? INT64_MAX : next - tau - now;
  }
  return d;
}

}  // namespace

GcraDecision GcraStore::acquire(const LimitKey& key, const GcraRate& rate, double cost,
                                TimeNs now) {
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.tat.find(key);
  int64_t tat = it == s.tat.end() ? now : it->second;
  int64_t next = tat;
  GcraDecision d = decide(tat, rate, cost, now, &next);
  if (d.allowed) {
    if (it != s.tat.end()) {
      it->second = next;
    } else {
      s.put(key, next, now);
    }
    if (sharing_) s.pending[key] += cells_ns(cost, rate.interval_ns());
  }
  return d;
}

GcraDecision GcraStore::peek(const LimitKey& key, const GcraRate& rate, double cost, TimeNs now) {
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.tat.find(key);
  int64_t tat = it == s.tat.end() ? now : it->second;
  int64_t next = tat;
  return decide(tat, rate, cost, now, &next);
}

void GcraStore::adjust(const LimitKey& key, const GcraRate& rate, double delta, TimeNs now) {
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.tat.find(key);
  int64_t tat = std::max<int64_t>(it == s.tat.end() ? now : it->second, now);
  int64_t next = std::max<int64_t>(tat + cells_ns(delta, rate.interval_ns()), now);
  s.put(key, next, now);
  if (sharing_) s.pending[key] += cells_ns(delta, rate.interval_ns());
}

TimeNs GcraStore::load(const LimitKey& key, TimeNs now) {
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.tat.find(key);
  if (it == s.tat.end() || it->second <= now) return 0;
  return it->second;
}

void GcraStore::store_max(const LimitKey& key, TimeNs value, TimeNs now) {
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.tat.find(key);
  if (it != s.tat.end() && it->second >= value) return;
  s.put(key, value, now);
}

void GcraStore::drain_pending(std::vector<std::pair<LimitKey, int64_t>>& out) {
  for (size_t i = 0; i < kShards; ++i) {
    Shard& s = shards_[i];
    std::lock_guard<std::mutex> lock(s.mu);
    for (auto& [k, d] : s.pending) {
      if (d != 0) out.emplace_back(k, d);
    }
    s.pending.clear();
  }
}

void GcraStore::merge_remote(const LimitKey& key, TimeNs remote_tat, TimeNs now) {
  Shard& s = shard(key);
  std::lock_guard<std::mutex> lock(s.mu);
  auto it = s.tat.find(key);
  if (it != s.tat.end()) {
    if (remote_tat > it->second) it->second = remote_tat;
  } else if (remote_tat > now) {
    s.put(key, remote_tat, now);
  }
}

size_t GcraStore::size() const {
  size_t n = 0;
  for (size_t i = 0; i < kShards; ++i) {
    std::lock_guard<std::mutex> lock(shards_[i].mu);
    n += shards_[i].tat.size();
  }
  return n;
}

}  // namespace dg
