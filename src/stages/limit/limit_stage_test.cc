#include "stages/limit/limit_stage.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace dg {
namespace {

std::string header(const ExchangeContext& ctx, std::string_view name) {
  for (const auto& [k, v] : ctx.response_headers)
    if (k == name) return v;
  return "<absent>";
}

Config test_config() {
  auto c = parse_config(R"(
[tiers.t]
requests_per_minute = 60
tokens_per_minute = 6000
burst = 2
[limits]
default_tier = "t"
default_completion_tokens = 50
)",
                        "test.toml");
  EXPECT_TRUE(c.ok()) << c.status().to_string();
  return c.value();
}

const std::string kTier = "t";

ExchangeContext request(const std::string& account = "acme") {
  ExchangeContext ctx;
  ctx.account.account = account;
  ctx.account.tier = kTier;
  ctx.request = boost::json::parse(R"({"model":"m","messages":[{"role":"user","content":"12345678"}],
                                       "max_tokens":100})")
                    .as_object();
  return ctx;
}

TEST(LimitStage, AllowsWithHeadersThenRefusesWith429) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  auto stage = make_limit_stage(cfg, clock, StageMode::kEnforce);
  ASSERT_TRUE(stage.ok()) << stage.status().to_string();
  ExchangeContext a = request();
  EXPECT_EQ((*stage)->on_request(a), FilterStatus::kContinue);
  EXPECT_EQ(a.estimated_tokens, 102);
  EXPECT_EQ(header(a, "x-ratelimit-limit-requests"), "60");
  EXPECT_EQ(header(a, "x-ratelimit-remaining-requests"), "1");
  EXPECT_EQ(header(a, "x-ratelimit-remaining-tokens"), "98");
  EXPECT_EQ(header(a, "Retry-After"), "<absent>");
  ExchangeContext b = request();
  EXPECT_EQ((*stage)->on_request(b), FilterStatus::kStop);  // tokens: 98 left < 102
  ASSERT_NE(b.local_reply(), nullptr);
  EXPECT_EQ(b.local_reply()->status, 429);
  EXPECT_EQ(b.local_reply()->code, "rate_limit_exceeded");
  EXPECT_EQ(b.local_reply()->type, "tokens");
  EXPECT_EQ(header(b, "retry-after-ms"), "40");
  EXPECT_EQ(header(b, "Retry-After"), "1");
  EXPECT_EQ(b.estimated_tokens, 0);
  (*stage)->on_complete(b);  // nothing to reconcile for a refusal
}

TEST(LimitStage, ReconcilesWithUsage) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  auto stage = make_limit_stage(cfg, clock, StageMode::kEnforce);
  ExchangeContext a = request();
  ASSERT_EQ((*stage)->on_request(a), FilterStatus::kContinue);
  a.prompt_tokens = 3;
  a.completion_tokens = 7;
  (*stage)->on_complete(a);  // 102 charged, 10 used: 92 refunded
  ExchangeContext b = request();
  EXPECT_EQ((*stage)->on_request(b), FilterStatus::kContinue);
  EXPECT_EQ(header(b, "x-ratelimit-remaining-tokens"), std::to_string(200 - 10 - 102));
}

TEST(LimitStage, RequestsLimitAndShadowMode) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  auto enforce = make_limit_stage(cfg, clock, StageMode::kEnforce);
  auto shadow = make_limit_stage(cfg, clock, StageMode::kShadow);
  for (auto* st : {&enforce, &shadow}) {
    for (int i = 0; i < 2; ++i) {
      ExchangeContext c = request();
      c.request["max_tokens"] = 1;
      ASSERT_EQ((**st)->on_request(c), FilterStatus::kContinue);
    }
  }
  ExchangeContext e = request();
  e.request["max_tokens"] = 1;
  EXPECT_EQ((*enforce)->on_request(e), FilterStatus::kStop);
  EXPECT_EQ(e.local_reply()->type, "requests");
  EXPECT_EQ(header(e, "Retry-After"), "1");
  ExchangeContext s = request();
  s.request["max_tokens"] = 1;
  EXPECT_EQ((*shadow)->on_request(s), FilterStatus::kContinue);
  EXPECT_EQ(s.local_reply(), nullptr);
  EXPECT_EQ(header(s, "Retry-After"), "<absent>");
  ASSERT_FALSE(s.notes.empty());
  EXPECT_EQ(s.notes.back().first, "limit");
}

TEST(LimitStage, RiskTightensLimits) {
  EXPECT_DOUBLE_EQ(risk_multiplier(0.0), 1.0);
  EXPECT_DOUBLE_EQ(risk_multiplier(0.5), 1.0);
  EXPECT_DOUBLE_EQ(risk_multiplier(1.0), 0.1);
  EXPECT_NEAR(risk_multiplier(0.75), 0.55, 1e-12);
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  auto stage = make_limit_stage(cfg, clock, StageMode::kEnforce);
  ExchangeContext c = request();
  c.risk = 1.0;
  c.request["max_tokens"] = 1;
  EXPECT_EQ((*stage)->on_request(c), FilterStatus::kContinue);
  EXPECT_EQ(header(c, "x-ratelimit-limit-requests"), "6");
}

TEST(LimitStage, UnknownTierFallsBackToDefault) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  auto stage = make_limit_stage(cfg, clock, StageMode::kEnforce);
  ExchangeContext c = request();
  const std::string deleted = "deleted-tier";
  c.account.tier = deleted;
  EXPECT_EQ((*stage)->on_request(c), FilterStatus::kContinue);
  EXPECT_EQ(header(c, "x-ratelimit-limit-requests"), "60");
}

}  // namespace
}  // namespace dg

namespace dg {
namespace {

TEST(LimitStage, UnreachableRedisFailsOpen) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  cfg.storage.redis_url = "unix:/nonexistent/dg-redis.sock";
  auto stage = make_limit_stage(cfg, clock, StageMode::kEnforce);
  ASSERT_TRUE(stage.ok()) << stage.status().to_string();
  ExchangeContext c = request();
  EXPECT_EQ((*stage)->on_request(c), FilterStatus::kContinue);
  stage->reset();  // stops the sync thread cleanly
}

TEST(LimitStage, BadRedisUrlIsAnError) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  cfg.storage.redis_url = "redis://";
  EXPECT_FALSE(make_limit_stage(cfg, clock, StageMode::kEnforce).ok());
}

}  // namespace
}  // namespace dg

namespace dg {
namespace {

TEST(LimitStage, HooksAddClusterLimitsAndMultiplier) {
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  Config cfg = test_config();
  LimitStageHooks hooks;
  hooks.extra_limits = [](const ExchangeContext&, std::vector<ExtraLimit>& out) {
    out.push_back({LimitKey::of("cluster", "c1", "rpm"), GcraRate{1, 60}, 1, "cluster:rpm"});
  };
  hooks.multiplier = [](const ExchangeContext&) { return 1.0; };
  auto stage = make_limit_stage_with(std::make_shared<Limiter>(cfg.limits, clock), cfg,
                                     StageMode::kEnforce, hooks);
  ASSERT_TRUE(stage.ok());
  ExchangeContext a = request("a1");
  a.request["max_tokens"] = 1;
  a.risk = 1.0;  // ignored: the hook decides the multiplier
  EXPECT_EQ((*stage)->on_request(a), FilterStatus::kContinue);
  EXPECT_EQ(header(a, "x-ratelimit-limit-requests"), "60");
  // Another account of the same cluster: the cluster's 1 request is used up.
  ExchangeContext b = request("a2");
  b.request["max_tokens"] = 1;
  EXPECT_EQ((*stage)->on_request(b), FilterStatus::kStop);
  EXPECT_EQ(b.local_reply()->status, 429);
  EXPECT_NE(b.local_reply()->message.find("cluster:rpm"), std::string::npos);
}

}  // namespace
}  // namespace dg
