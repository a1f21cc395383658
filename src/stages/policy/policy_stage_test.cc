#include "stages/policy/policy_stage.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>

namespace dg {
namespace {
namespace json = boost::json;

defend::PolicyConfig cfg() {
  defend::PolicyConfig c;
  c.master_secret = "test-master";
  c.throttle_rpm = 1;
  return c;
}

ExchangeContext ctx_with(double risk, const char* prompt = "What is a monad?") {
  ExchangeContext ctx;
  ctx.account.account = "acct";
  ctx.account.tier = "new";
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

TEST(PolicyStage, ThrottleRepliesLocal429AboveRate) {
  ManualClock clock(0);
  auto stage = make_policy_stage_with(cfg(), clock, StageMode::kEnforce, nullptr);
  auto c1 = ctx_with(0.55);
  EXPECT_EQ(stage->on_request(c1), FilterStatus::kContinue);
  EXPECT_EQ(c1.action, Action::kThrottle);
  EXPECT_EQ(c1.transforms().size(), 1u);  // watermark only
  auto c2 = ctx_with(0.55);
  EXPECT_EQ(stage->on_request(c2), FilterStatus::kStop);
  EXPECT_EQ(c2.local_reply()->status, 429);
  EXPECT_EQ(c2.local_reply()->code, "throttled_by_policy");
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
