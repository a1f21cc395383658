#include "limit/gcra.h"

#include <gtest/gtest.h>

#include <climits>
#include <cstdio>
#include <string>

namespace dg {
namespace {

constexpr TimeNs kSec = kNsPerSec;
const TimeNs kT0 = 1'700'000'000LL * kSec;

// (GCC 12 warns falsely on "literal" + std::to_string in optimised builds.)
std::string name(char prefix, int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%c%d", prefix, i);
  return buf;
}

TEST(Gcra, AllowsExactlyTheBurstThenOnePerInterval) {
  GcraStore s;
  GcraRate r{60, 10};  // one per second, 10 at once
  LimitKey k = LimitKey::of("acct", "a", "rpm");
  for (int i = 0; i < 10; ++i) {
    GcraDecision d = s.acquire(k, r, 1, kT0);
    ASSERT_TRUE(d.allowed) << i;
    EXPECT_EQ(d.remaining, 9 - i);
    EXPECT_EQ(d.reset_after, (i + 1) * kSec);
  }
  GcraDecision d = s.acquire(k, r, 1, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, kSec);  // exactly one emission interval
  EXPECT_EQ(d.remaining, 0);
  // One nanosecond early is still refused; on time is allowed.
  EXPECT_FALSE(s.acquire(k, r, 1, kT0 + kSec - 1).allowed);
  EXPECT_TRUE(s.acquire(k, r, 1, kT0 + kSec).allowed);
  EXPECT_FALSE(s.acquire(k, r, 1, kT0 + kSec).allowed);
}

TEST(Gcra, SustainedRateIsExact) {
  GcraStore s;
  GcraRate r{120, 1};  // 2 per second, tolerance 1 s
  LimitKey k = LimitKey::of("acct", "a", "rpm");
  int allowed = 0;
  // 10 attempts per second for 60 s: after the initial burst, exactly the rate.
  for (int i = 0; i < 600; ++i) allowed += s.acquire(k, r, 1, kT0 + i * kSec / 10).allowed;
  // 2 burst cells + 2/s over 59.9 s.
  EXPECT_EQ(allowed, 2 + 119);
}

TEST(Gcra, RefusalDoesNotCharge) {
  GcraStore s;
  GcraRate r{60, 1};
  LimitKey k = LimitKey::of("acct", "a", "rpm");
  ASSERT_TRUE(s.acquire(k, r, 1, kT0).allowed);
  for (int i = 0; i < 100; ++i) ASSERT_FALSE(s.acquire(k, r, 1, kT0).allowed);
  EXPECT_TRUE(s.acquire(k, r, 1, kT0 + kSec).allowed);
}

TEST(Gcra, CostLargerThanCapacityNeverFits) {
  GcraStore s;
  GcraRate r{600, 1};  // 10 per second, capacity 10
  LimitKey k = LimitKey::of("acct", "a", "tpm");
  GcraDecision d = s.acquire(k, r, 11, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, INT64_MAX);
  EXPECT_TRUE(s.acquire(k, r, 10, kT0).allowed);
}

TEST(Gcra, AdjustRefundsAndOvercharges) {
  GcraStore s;
  GcraRate r{600, 1};  // capacity 10
  LimitKey k = LimitKey::of("acct", "a", "tpm");
  ASSERT_TRUE(s.acquire(k, r, 10, kT0).allowed);
  EXPECT_FALSE(s.peek(k, r, 1, kT0).allowed);
  s.adjust(k, r, -4, kT0);  // refund 4
  EXPECT_EQ(s.peek(k, r, 0, kT0).remaining, 4);
  EXPECT_TRUE(s.acquire(k, r, 4, kT0).allowed);
  s.adjust(k, r, +5, kT0);  // overcharge: debt beyond capacity
  GcraDecision d = s.peek(k, r, 1, kT0);
  EXPECT_FALSE(d.allowed);
  EXPECT_EQ(d.retry_after, 6 * kSec / 10);  // 5 cells of debt + 1 requested, minus nothing
  // A refund never goes below "idle".
  s.adjust(k, r, -1000, kT0);
  EXPECT_EQ(s.peek(k, r, 0, kT0).remaining, 10);
  EXPECT_EQ(s.size(), 0u);  // idle keys are not stored
}

TEST(Gcra, KeysAreIndependent) {
  GcraStore s;
  GcraRate r{60, 1};
  EXPECT_TRUE(s.acquire(LimitKey::of("acct", "a", "rpm"), r, 1, kT0).allowed);
  EXPECT_TRUE(s.acquire(LimitKey::of("acct", "b", "rpm"), r, 1, kT0).allowed);
  EXPECT_TRUE(s.acquire(LimitKey::of("acct", "a", "tpm"), r, 1, kT0).allowed);
  EXPECT_TRUE(s.acquire(LimitKey::of("cluster", "a", "rpm"), r, 1, kT0).allowed);
  EXPECT_FALSE(s.acquire(LimitKey::of("acct", "a", "rpm"), r, 1, kT0).allowed);
  EXPECT_NE(LimitKey::of("acct", "ab", "c"), LimitKey::of("acct", "a", "bc"));
}

TEST(Gcra, MemoryIsBounded) {
  const size_t kMax = 64 * 100;
  GcraStore s(kMax);
  GcraRate r{1, 3600};  // each key stays busy for a minute after one request
  for (int i = 0; i < 100000; ++i) {
    s.acquire(LimitKey::of("acct", name('a', i), "rpm"), r, 1, kT0);
  }
  EXPECT_LE(s.size(), kMax);
  EXPECT_GT(s.size(), kMax / 2);
}

TEST(Gcra, IdleKeysAreEvictedFirst) {
  GcraStore s(64 * 10);
  GcraRate busy{1, 3600};
  GcraRate brief{6000, 0.01};  // idle 10 ms after use
  // One long-lived key per shard slot region, then a flood of short-lived keys.
  LimitKey hot = LimitKey::of("acct", "hot", "rpm");
  ASSERT_TRUE(s.acquire(hot, busy, 1, kT0).allowed);
  for (int i = 0; i < 5000; ++i) {
    s.acquire(LimitKey::of("acct", name('x', i), "rpm"), brief, 1, kT0 + i * kSec);
  }
  // The busy key survived: its debt (one cell of a 1/min rate) is still there.
  EXPECT_FALSE(s.peek(hot, busy, 3600 / 60 * 60, kT0 + 5000 * kSec).allowed);
}

TEST(Gcra, SlotsStoreAndExpire) {
  GcraStore s;
  LimitKey k = LimitKey::of("acct", "a", "strike");
  EXPECT_EQ(s.load(k, kT0), 0);
  s.store_max(k, kT0 + 10, kT0);
  s.store_max(k, kT0 + 5, kT0);
  EXPECT_EQ(s.load(k, kT0), kT0 + 10);
  EXPECT_EQ(s.load(k, kT0 + 10), 0);
}

}  // namespace
}  // namespace dg
