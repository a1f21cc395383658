#include "limit/limiter.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <climits>

namespace dg {
namespace {

constexpr TimeNs kSec = kNsPerSec;
constexpr TimeNs kDay = 86400 * kSec;
const TimeNs kT0 = 1'700'000'000LL * kSec;

TierConfig tier(int64_t rpm, int64_t tpm, double burst, double start = 1.0, double days = 0,
                bool clean = true) {
  TierConfig t;
  t.name = "t";
  t.requests_per_minute = rpm;
  t.tokens_per_minute = tpm;
  t.burst_seconds = burst;
  t.ramp.start_fraction = start;
  t.ramp.full_after_days = days;
  t.ramp.requires_clean_history = clean;
  return t;
}

struct Fixture {
  ManualClock clock{kT0};
  LimitsConfig limits;
  Limiter limiter{limits, clock};

  Admission admit(const TierConfig& t, int64_t tokens, TimeNs created = 0, double m = 1.0,
                  std::string_view account = "acct") {
    AdmitRequest r;
    r.account = account;
    r.tier = &t;
    r.account_created = created;
    r.estimated_tokens = tokens;
    r.multiplier = m;
    return limiter.admit(r);
  }
  int burst_size(const TierConfig& t, TimeNs created = 0, double m = 1.0,
                 std::string_view account = "acct") {
    int n = 0;
    while (admit(t, 0, created, m, account).allowed && n < 100000) ++n;
    return n;
  }
};

TEST(Limiter, RequestsPerMinuteWithBurst) {
  Fixture f;
  TierConfig t = tier(60, 1'000'000, 10);
  EXPECT_EQ(f.burst_size(t), 10);
  Admission a = f.admit(t, 0);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.refused_by, LimitKind::kRequests);
  EXPECT_EQ(a.retry_after, kSec);
  EXPECT_EQ(a.limit_requests, 60);
  EXPECT_EQ(a.remaining_requests, 0);
  EXPECT_EQ(a.reset_requests, 10 * kSec);
  f.clock.advance(kSec);
  EXPECT_TRUE(f.admit(t, 0).allowed);
}

TEST(Limiter, TokensRefusalRefundsTheRequest) {
  Fixture f;
  TierConfig t = tier(60, 600, 60);  // 600 tokens at once
  Admission a = f.admit(t, 500);
  ASSERT_TRUE(a.allowed);
  EXPECT_EQ(a.charged_tokens, 500);
  EXPECT_EQ(a.remaining_tokens, 100);
  EXPECT_EQ(a.remaining_requests, 59);
  a = f.admit(t, 200);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.refused_by, LimitKind::kTokens);
  EXPECT_FALSE(a.too_large);
  EXPECT_EQ(a.retry_after, 10 * kSec);  // 100 tokens short at 10 tokens/s
  EXPECT_EQ(a.remaining_requests, 59);  // the refused request was not counted
  a = f.admit(t, 601);
  EXPECT_TRUE(a.too_large);
}

TEST(Limiter, ReconcileRefundsAndOvercharges) {
  Fixture f;
  TierConfig t = tier(600, 6000, 60);  // 100 tokens/s, 6000 at once
  Admission a = f.admit(t, 5000);
  ASSERT_TRUE(a.allowed);
  EXPECT_EQ(a.remaining_tokens, 1000);
  // The upstream used only 1200: 3800 come back.
  f.limiter.reconcile("acct", t, 0, 1.0, a.charged_tokens, 1200);
  a = f.admit(t, 0);
  EXPECT_EQ(a.remaining_tokens, 4800);
  // Overcharge: estimate 1000, actual 6000 -> 5000 more than allowed -> debt.
  a = f.admit(t, 1000);
  ASSERT_TRUE(a.allowed);
  EXPECT_EQ(a.remaining_tokens, 3800);
  f.limiter.reconcile("acct", t, 0, 1.0, 1000, 6000);
  a = f.admit(t, 1);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.remaining_tokens, 0);
  // 6000+1200+1-6000 = 1201 tokens of debt beyond capacity at 100/s.
  EXPECT_EQ(a.retry_after, 12'010 * kNsPerMs);
}

TEST(Limiter, NewAccountsRampUpWithAge) {
  Fixture f;
  TierConfig t = tier(60, 1'000'000, 60, 0.25, 10);
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, kT0, "a"), 0.25);
  EXPECT_EQ(f.burst_size(t, kT0, 1.0, "a"), 15);
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, kT0 - 5 * kDay, "b"), 0.625);
  EXPECT_EQ(f.admit(t, 0, kT0 - 5 * kDay, 1.0, "b").limit_requests, 37);
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, kT0 - 10 * kDay, "c"), 1.0);
  EXPECT_EQ(f.burst_size(t, kT0 - 30 * kDay, 1.0, "c"), 60);
  // The same account grows as time passes.
  f.clock.advance(10 * kDay);
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, kT0, "a"), 1.0);
}

TEST(Limiter, StrikesRestartTheRamp) {
  Fixture f;
  TierConfig t = tier(60, 1'000'000, 1, 0.5, 10, /*clean=*/true);
  const TimeNs created = kT0 - 10 * kDay;
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, created, "acct"), 1.0);
  // Hammering through the refusals, ignoring Retry-After.
  for (int i = 0; i < 50; ++i) (void)f.admit(t, 0, created);
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, created, "acct"), 0.5);
  f.clock.advance(5 * kDay);
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, created, "acct"), 0.75);
  // Without requires_clean_history, strikes do not matter.
  TierConfig lax = tier(60, 1'000'000, 1, 0.5, 10, /*clean=*/false);
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(lax, created, "acct"), 1.0);
}

TEST(Limiter, RespectingRetryAfterKeepsHistoryClean) {
  Fixture f;
  TierConfig t = tier(60, 1'000'000, 1, 0.5, 10);
  const TimeNs created = kT0 - 10 * kDay;
  for (int i = 0; i < 200; ++i) {
    Admission a = f.admit(t, 0, created);
    f.clock.advance(a.allowed ? 0 : a.retry_after);
  }
  EXPECT_DOUBLE_EQ(f.limiter.ramp_fraction(t, created, "acct"), 1.0);
}

TEST(Limiter, AnomalyMultiplierTightens) {
  Fixture f;
  TierConfig t = tier(60, 1'000'000, 60);
  EXPECT_EQ(f.burst_size(t, 0, 0.5, "a"), 30);
  EXPECT_EQ(f.burst_size(t, 0, 0.1, "b"), 6);
  EXPECT_EQ(f.admit(t, 0, 0, 0.1, "c").limit_requests, 6);
  EXPECT_EQ(f.burst_size(t, 0, 7.0, "d"), 60);  // clamped to 1
}

TEST(Limiter, ExtraLimitsAreAllOrNothing) {
  Fixture f;
  TierConfig t = tier(60, 1'000'000, 60);
  AdmitRequest r;
  r.account = "acct";
  r.tier = &t;
  r.estimated_tokens = 10;
  r.extra.push_back({LimitKey::of("cluster", "c1", "rpm"), GcraRate{2, 30}, 1, "cluster:rpm"});
  EXPECT_TRUE(f.limiter.admit(r).allowed);
  Admission a = f.limiter.admit(r);
  EXPECT_FALSE(a.allowed);
  EXPECT_EQ(a.refused_by, LimitKind::kExtra);
  EXPECT_EQ(a.refused_extra, "cluster:rpm");
  // The refused request charged nothing on the account's own limits.
  r.extra.clear();
  a = f.limiter.admit(r);
  EXPECT_EQ(a.remaining_requests, 58);
  EXPECT_EQ(a.remaining_tokens, 1'000'000 - 20);
}

TEST(Limiter, HeadersAsOpenAiClientsReadThem) {
  Fixture f;
  TierConfig t = tier(60, 6000, 10);
  Admission a = f.admit(t, 100);
  std::vector<std::pair<std::string, std::string>> h;
  Limiter::add_headers(a, h);
  auto get = [&](const std::string& k) {
    for (auto& [n, v] : h)
      if (n == k) return v;
    return std::string("<absent>");
  };
  EXPECT_EQ(get("x-ratelimit-limit-requests"), "60");
  EXPECT_EQ(get("x-ratelimit-remaining-requests"), "9");
  EXPECT_EQ(get("x-ratelimit-reset-requests"), "1s");
  EXPECT_EQ(get("x-ratelimit-limit-tokens"), "6000");
  EXPECT_EQ(get("x-ratelimit-remaining-tokens"), "900");
  EXPECT_EQ(get("x-ratelimit-reset-tokens"), "1s");
  EXPECT_EQ(get("Retry-After"), "<absent>");
  for (int i = 0; i < 9; ++i) ASSERT_TRUE(f.admit(t, 0).allowed);
  f.clock.advance(250 * kNsPerMs);
  a = f.admit(t, 0);
  ASSERT_FALSE(a.allowed);
  h.clear();
  Limiter::add_headers(a, h);
  EXPECT_EQ(get("retry-after-ms"), "750");
  EXPECT_EQ(get("Retry-After"), "1");
  EXPECT_EQ(get("x-ratelimit-remaining-requests"), "0");
  EXPECT_EQ(get("x-ratelimit-reset-requests"), "9.75s");
}

TEST(Limiter, ResetDurationFormat) {
  EXPECT_EQ(format_reset_duration(0), "0s");
  EXPECT_EQ(format_reset_duration(-5), "0s");
  EXPECT_EQ(format_reset_duration(1), "1ms");
  EXPECT_EQ(format_reset_duration(20 * kNsPerMs), "20ms");
  EXPECT_EQ(format_reset_duration(kSec), "1s");
  EXPECT_EQ(format_reset_duration(1500 * kNsPerMs), "1.5s");
  EXPECT_EQ(format_reset_duration(360 * kSec), "6m0s");
  EXPECT_EQ(format_reset_duration(3723 * kSec), "1h2m3s");
  EXPECT_EQ(format_reset_duration(61 * kSec + 20 * kNsPerMs), "1m1.02s");
}

TEST(Limiter, EstimatesTokens) {
  auto req = boost::json::parse(R"({"model":"m","messages":[
      {"role":"system","content":"12345678"},
      {"role":"user","content":[{"type":"text","text":"1234"}]}],"max_tokens":50,"n":2})")
                 .as_object();
  EXPECT_EQ(estimate_tokens(req, 256), 3 + 100);
  auto comp = boost::json::parse(R"({"model":"m","prompt":"abcdefgh"})").as_object();
  EXPECT_EQ(estimate_tokens(comp, 256), 2 + 256);
  auto mct = boost::json::parse(R"({"messages":[],"max_completion_tokens":7})").as_object();
  EXPECT_EQ(estimate_tokens(mct, 256), 7);
}

}  // namespace
}  // namespace dg
