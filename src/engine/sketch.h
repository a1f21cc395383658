// Fixed-size streaming sketches for account profiles. Every type here is a
// trivially copyable value of constant size, whatever the volume it summarises,
// so a profile built from them has bounded memory (see profile.h).
//
// Not thread-safe: a sketch belongs to one profile, updated by one thread.
#pragma once

#include <algorithm>
#include <array>
#include <bit>
#include <cmath>
#include <cstdint>

namespace dg::engine {

// Welford's running mean and variance.
struct Welford {
  uint32_t n = 0;
  float mean = 0;
  float m2 = 0;
  void add(double x) {
    ++n;
    double d = x - mean;
    mean = static_cast<float>(mean + d / n);
    m2 = static_cast<float>(m2 + d * (x - mean));
  }
  double variance() const { return n > 1 ? m2 / (n - 1) : 0.0; }
  double stddev() const { return std::sqrt(std::max(0.0, variance())); }
  // Coefficient of variation (stddev / mean); 0 when undefined.
  double cv() const { return mean > 0 ? stddev() / mean : 0.0; }
  void merge(const Welford& o) {
    if (o.n == 0) return;
    if (n == 0) { *this = o; return; }
    double na = n, nb = o.n, d = o.mean - mean, nn = na + nb;
    mean = static_cast<float>(mean + d * nb / nn);
    m2 = static_cast<float>(m2 + o.m2 + d * d * na * nb / nn);
    n += o.n;
  }
};

// HyperLogLog with 2^P one-byte registers. P=6: 64 bytes, ~13% error;
// P=7: 128 bytes, ~9% error. Exact-ish for small counts (linear counting).
template <int P>
struct Hll {
  static constexpr int kM = 1 << P;
  std::array<uint8_t, kM> reg{};
  void add(uint64_t h) {
    uint32_t idx = static_cast<uint32_t>(h >> (64 - P));
    uint64_t rest = (h << P) | (uint64_t{1} << (P - 1));
    uint8_t rank = static_cast<uint8_t>(std::countl_zero(rest) + 1);
    if (rank > reg[idx]) reg[idx] = rank;
  }
  double estimate() const {
    double sum = 0;
    int zeros = 0;
    static const auto kPow = [] {
      std::array<double, 66> t{};
      for (int i = 0; i < 66; ++i) t[i] = std::ldexp(1.0, -i);
      return t;
    }();
    for (uint8_t r : reg) {
      sum += kPow[r < 66 ? r : 65];
      zeros += r == 0;
    }
    double alpha = kM == 64 ? 0.709 : kM == 128 ? 0.7153 : 0.7213 / (1 + 1.079 / kM);
    double e = alpha * kM * kM / sum;
    if (e <= 2.5 * kM && zeros > 0) e = kM * std::log(static_cast<double>(kM) / zeros);
    return e;
  }
  void merge(const Hll& o) {
    for (int i = 0; i < kM; ++i) reg[i] = std::max(reg[i], o.reg[i]);
  }
};

// Space-saving heavy hitters over 64-bit keys with K counters: the top keys and
// an upper bound of their counts, in O(K) memory.
template <int K>
struct TopK {
  std::array<uint64_t, K> key{};
  std::array<uint32_t, K> count{};
  std::array<uint32_t, K> err{};  // count inherited on eviction: count - err is a guaranteed lower bound
  // `e`: error already carried by w (when merging another top-k).
  void add(uint64_t k, uint32_t w = 1, uint32_t e = 0) {
    int min_i = 0;
    for (int i = 0; i < K; ++i) {
      if (count[i] && key[i] == k) { count[i] += w; err[i] += e; return; }
      if (count[i] < count[min_i]) min_i = i;
    }
    key[min_i] = k;
    err[min_i] = count[min_i] + e;
    count[min_i] += w;  // space-saving: inherit the evicted count
  }
  uint32_t guaranteed(int i) const { return count[i] - err[i]; }
  uint32_t count_of(uint64_t k) const {
    for (int i = 0; i < K; ++i) if (count[i] && key[i] == k) return count[i];
    return 0;
  }
  uint32_t max_count() const { return *std::max_element(count.begin(), count.end()); }
  uint64_t top_key() const {
    return key[std::max_element(count.begin(), count.end()) - count.begin()];
  }
  void merge(const TopK& o) {
    for (int i = 0; i < K; ++i) if (o.count[i]) add(o.key[i], o.count[i], o.err[i]);
  }
};

// MinHash signature with H independent hash minima (32-bit). Jaccard of two
// sets is estimated by the share of equal slots.
template <int H>
struct MinHash {
  std::array<uint32_t, H> v;
  MinHash() { v.fill(UINT32_MAX); }
  static uint32_t mix(uint64_t x, uint64_t i) {
    x ^= (i + 1) * 0x9e3779b97f4a7c15ULL;
    x ^= x >> 33; x *= 0xff51afd7ed558ccdULL;
    x ^= x >> 33; x *= 0xc4ceb9fe1a85ec53ULL;
    x ^= x >> 33;
    return static_cast<uint32_t>(x);
  }
  void add(uint64_t h) {
    for (int i = 0; i < H; ++i) v[i] = std::min(v[i], mix(h, i));
  }
  bool empty() const { return v[0] == UINT32_MAX; }
  double jaccard(const MinHash& o) const {
    if (empty() || o.empty()) return 0;
    int eq = 0;
    for (int i = 0; i < H; ++i) eq += v[i] == o.v[i];
    return static_cast<double>(eq) / H;
  }
  void merge(const MinHash& o) {
    for (int i = 0; i < H; ++i) v[i] = std::min(v[i], o.v[i]);
  }
};

// Shannon entropy of a histogram, normalised to [0, 1] by log(bins).
template <typename T, size_t N>
double normalized_entropy(const std::array<T, N>& h) {
  double total = 0;
  for (auto c : h) total += c;
  if (total <= 0) return 0;
  double e = 0;
  for (auto c : h) {
    if (c > 0) {
      double p = c / total;
      e -= p * std::log(p);
    }
  }
  return e / std::log(static_cast<double>(N));
}

}  // namespace dg::engine
