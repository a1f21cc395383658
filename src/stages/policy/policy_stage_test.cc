#include "stages/policy/policy_stage.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

#include "stages/limit/limit_stage.h"

namespace dg {
namespace {
namespace json = boost::json;

defend::PolicyConfig cfg() {
  defend::PolicyConfig c;
  c.master_secret = "test-master";
  return c;
}

ExchangeContext ctx_with(double risk, const char* prompt = "What is a monad?", std::string account = "acct",
                         std::string tier = "new") {
  ExchangeContext ctx;
  ctx.account.account = std::move(account);
  ctx.account.tier = std::move(tier);
  ctx.risk = risk;
  ctx.request = json::object{{"model", "m"}, {"logprobs", true},
                             {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}}};
  return ctx;
}

TEST(PolicyStage, AllowAttachesNothing) {
  ManualClock clock(0);
  auto stage = make_policy_stage_with(cfg(), clock, StageMode::kEnforce, nullptr);
  auto ctx = ctx_with(0.1);
  EXPECT_EQ(stage->on_request(ctx), FilterStatus::kContinue);
  EXPECT_EQ(ctx.action, Action::kAllow);
  EXPECT_TRUE(ctx.transforms().empty());
}

TEST(PolicyStage, BlockRepliesWithReasonCode) {
  ManualClock clock(0);
  auto stage = make_policy_stage_with(cfg(), clock, StageMode::kEnforce, nullptr);
  auto ctx = ctx_with(0.99);
  EXPECT_EQ(stage->on_request(ctx), FilterStatus::kStop);
  ASSERT_NE(ctx.local_reply(), nullptr);
  EXPECT_EQ(ctx.local_reply()->status, 403);
  EXPECT_EQ(ctx.local_reply()->code, "blocked_by_policy");
  EXPECT_EQ(ctx.action, Action::kBlock);
}

TEST(PolicyStage, TraceAttachesReasoningCanaryWatermarkLogprobs) {
  ManualClock clock(0);
  auto stage = make_policy_stage_with(cfg(), clock, StageMode::kEnforce, nullptr);
  auto ctx = ctx_with(0.9);
  EXPECT_EQ(stage->on_request(ctx), FilterStatus::kContinue);
  EXPECT_EQ(ctx.action, Action::kTrace);
  EXPECT_EQ(ctx.transforms().size(), 4u);
  EXPECT_EQ(ctx.request["max_tokens"].as_int64(), 1024);
  EXPECT_TRUE(ctx.request_modified);
  // The canary lands in the answer.
  json::object body = json::parse(R"({"choices":[{"index":0,"message":{"role":"assistant","content":"A monad is a thing."}}]})").as_object();
  for (auto& t : ctx.transforms()) t->on_body(body);
  const std::string content(body["choices"].as_array()[0].as_object()["message"].as_object()["content"].as_string().c_str());
  EXPECT_NE(content.find(defend::canary_signature("test-master", "acct", "definition")), std::string::npos) << content;
}

TEST(PolicyStage, ThrottleSetsTheLimitShareAndWatermarks) {
  ManualClock clock(0);
  auto stage = make_policy_stage_with(cfg(), clock, StageMode::kEnforce, nullptr);
  auto c1 = ctx_with(0.55);
  EXPECT_EQ(stage->on_request(c1), FilterStatus::kContinue);
  EXPECT_EQ(c1.action, Action::kThrottle);
  ASSERT_TRUE(c1.limit_multiplier.has_value());
  EXPECT_DOUBLE_EQ(*c1.limit_multiplier, 0.25);
  EXPECT_EQ(c1.transforms().size(), 1u);  // watermark only
  ASSERT_FALSE(c1.notes.empty());
  EXPECT_EQ(c1.notes.front().first, "policy");
  EXPECT_NE(c1.notes.front().second.find("limits x0.25"), std::string::npos) << c1.notes.front().second;
  auto c0 = ctx_with(0.1, "What is a monad?", "other");
  EXPECT_EQ(stage->on_request(c0), FilterStatus::kContinue);
  ASSERT_TRUE(c0.limit_multiplier.has_value());
  EXPECT_DOUBLE_EQ(*c0.limit_multiplier, 1.0);  // allow: full limits, whatever the limit stage's risk rule
}

// The throttle rung is enforced by the limit stage's limiter (one way to
// limit): policy before limit, the throttled account gets a quarter of its
// tier's limits with the limit stage's 429 and headers; an allow-listed
// account at the same risk keeps the whole tier.
TEST(PolicyStage, ThrottleIsEnforcedByTheLimitStage) {
  auto config = parse_config(R"(
[tiers.t]
requests_per_minute = 60
tokens_per_minute = 1000000
burst = 10
[limits]
default_tier = "t"
[stages]
order = ["auth", "policy", "limit", "forward"]
)", "t.toml");
  ASSERT_TRUE(config.ok()) << config.status().to_string();
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  defend::PolicyConfig pc = cfg();
  pc.allow_accounts = {"licensed"};
  auto policy = make_policy_stage_with(pc, clock, StageMode::kEnforce, nullptr);
  auto limit = make_limit_stage(*config, clock, StageMode::kEnforce);
  ASSERT_TRUE(limit.ok()) << limit.status().to_string();
  auto header = [](const ExchangeContext& ctx, std::string_view name) {
    for (const auto& [k, v] : ctx.response_headers)
      if (k == name) return v;
    return std::string("<absent>");
  };
  // Sends requests at one instant until the first refusal; returns how many passed.
  auto admitted = [&](const std::string& account, double risk, ExchangeContext* refused) {
    for (int i = 0; i < 100; ++i) {
      auto ctx = ctx_with(risk, "What is a monad?", account, "t");
      if (policy->on_request(ctx) == FilterStatus::kStop) ADD_FAILURE() << "policy stopped " << account;
      if ((*limit)->on_request(ctx) == FilterStatus::kStop) {
        *refused = std::move(ctx);
        return i;
      }
    }
    return 100;
  };
  ExchangeContext r_throttled, r_licensed;
  const int throttled = admitted("suspect", 0.6, &r_throttled);
  const int licensed = admitted("licensed", 0.6, &r_licensed);
  // GCRA: burst = 10 s of the rate, so 60 rpm admits ~10 at once and 15 rpm ~2-3.
  EXPECT_GE(throttled, 1);
  EXPECT_LE(throttled, 4);
  EXPECT_GE(licensed, 9);
  EXPECT_GE(licensed, 3 * throttled);
  EXPECT_EQ(r_throttled.action, Action::kThrottle);  // the record carries the rung even on the 429
  ASSERT_NE(r_throttled.local_reply(), nullptr);
  EXPECT_EQ(r_throttled.local_reply()->status, 429);
  EXPECT_EQ(r_throttled.local_reply()->code, "rate_limit_exceeded");
  EXPECT_EQ(header(r_throttled, "x-ratelimit-limit-requests"), "15");  // 60 x 0.25
  EXPECT_NE(header(r_throttled, "Retry-After"), "<absent>");
  EXPECT_NE(header(r_throttled, "retry-after-ms"), "<absent>");
  EXPECT_EQ(header(r_licensed, "x-ratelimit-limit-requests"), "60");
  EXPECT_EQ(r_licensed.action, Action::kAllow);
}

TEST(PolicyStage, MustComeBeforeLimit) {
  ManualClock clock(0);
  auto wrong = parse_config("[stages]\norder = [\"auth\", \"limit\", \"policy\", \"forward\"]\n", "t.toml");
  ASSERT_TRUE(wrong.ok());
  auto s = make_policy_stage(*wrong, clock, StageMode::kEnforce);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().message().find("'policy' must come before 'limit'"), std::string::npos) << s.status().message();
  auto right = parse_config("[stages]\norder = [\"auth\", \"policy\", \"limit\", \"forward\"]\n", "t.toml");
  ASSERT_TRUE(right.ok());
  EXPECT_TRUE(make_policy_stage(*right, clock, StageMode::kEnforce).ok());
  auto off = parse_config("[stages]\norder = [\"auth\", \"limit\", \"policy\", \"forward\"]\n[stages.limit]\nmode = \"off\"\n", "t.toml");
  ASSERT_TRUE(off.ok());
  EXPECT_TRUE(make_policy_stage(*off, clock, StageMode::kEnforce).ok());
}

TEST(PolicyStage, ShadowOnlyNotes) {
  ManualClock clock(0);
  auto stage = make_policy_stage_with(cfg(), clock, StageMode::kShadow, nullptr);
  auto ctx = ctx_with(0.99);
  EXPECT_EQ(stage->on_request(ctx), FilterStatus::kContinue);
  EXPECT_EQ(ctx.action, Action::kAllow);
  ASSERT_FALSE(ctx.notes.empty());
  EXPECT_NE(ctx.notes.back().second.find("shadow: would block"), std::string::npos);
}

}  // namespace
}  // namespace dg
