// The assess stage: offline = online (the same records through the stage and
// through the engine directly give the same verdicts and first_flagged),
// published risk reaches ctx.risk, cluster and capability limits. The
// request-path latency is measured by assess_bench, not here.
#include "stages/assess/assess_stage.h"

#include <gtest/gtest.h>

#include "stages/assess/assess_traffic.h"

namespace dg {
namespace {

using namespace assess_testing;

TEST(AssessStage, OnlineEqualsOffline) {
  auto records = traffic();
  engine::Engine offline;
  for (const auto& r : records) offline.observe(r);
  auto want = offline.report();

  ManualClock clock(kT0);
  auto stage = AssessStage::create(AssessConfig{}, clock, StageMode::kEnforce);
  for (const auto& r : records) {
    clock.set(r.ts);
    ExchangeContext c = ctx_of(r);
    ASSERT_EQ(stage->on_request(c), FilterStatus::kContinue);
    stage->on_complete(c);
  }
  auto got = stage->report();
  ASSERT_EQ(got.accounts.size(), want.accounts.size());
  int attacks = 0;
  for (size_t i = 0; i < want.accounts.size(); ++i) {
    const auto& w = want.accounts[i];
    const auto& g = got.accounts[i];
    EXPECT_EQ(g.account, w.account);
    EXPECT_EQ(g.verdict, w.verdict) << w.account;
    EXPECT_NEAR(g.risk, w.risk, 1e-9) << w.account;
    EXPECT_EQ(g.first_flagged.has_value(), w.first_flagged.has_value()) << w.account;
    if (g.first_flagged && w.first_flagged) {
      EXPECT_EQ(g.first_flagged->ts, w.first_flagged->ts);
      EXPECT_EQ(g.first_flagged->exchange, w.first_flagged->exchange);
    }
    attacks += w.verdict == engine::Verdict::kAttack;
  }
  EXPECT_GT(attacks, 10);  // the comparison covers flagged accounts, not only quiet ones
  EXPECT_EQ(stage->dropped(), 0u);
}

TEST(AssessStage, PublishedRiskReachesTheRequest) {
  ManualClock clock(kT0);
  auto stage = AssessStage::create(AssessConfig{}, clock, StageMode::kEnforce);
  for (const auto& r : traffic()) {
    if (r.account != "bulk") continue;
    ExchangeContext c = ctx_of(r);
    (void)stage->on_request(c);
    stage->on_complete(c);
  }
  stage->flush();
  auto p = stage->published("bulk");
  EXPECT_TRUE(p.known);
  EXPECT_EQ(p.verdict, engine::Verdict::kAttack);
  ExchangeContext c = ctx_of(traffic().front());
  c.account.account = "bulk";
  (void)stage->on_request(c);
  EXPECT_GE(c.risk, AssessConfig{}.engine.thresholds.attack);
  EXPECT_FALSE(c.capability.empty());
  ASSERT_FALSE(c.notes.empty());
  EXPECT_EQ(c.notes.back().first, "assess");
  EXPECT_FALSE(stage->published("nobody").known);
}

TEST(AssessStage, ClusterSharesOneBudget) {
  ManualClock clock(kT0);
  AssessConfig cfg;
  cfg.cluster_rpm = 30;
  auto stage = AssessStage::create(cfg, clock, StageMode::kEnforce);
  auto records = traffic();
  for (const auto& r : records) {
    if (r.account.rfind("ring_", 0) != 0) continue;
    ExchangeContext c = ctx_of(r);
    (void)stage->on_request(c);
    stage->on_complete(c);
  }
  stage->flush();
  // Every ring member now draws from one budget: a burst across members is refused.
  int refused = 0;
  for (int i = 0; i < 120; ++i) {
    ExchangeContext c = ctx_of(records.front());
    c.account.account = "ring_" + std::to_string(i % 30);
    if (stage->on_request(c) == FilterStatus::kStop) {
      ++refused;
      ASSERT_NE(c.local_reply(), nullptr);
      EXPECT_EQ(c.local_reply()->status, 429);
      EXPECT_EQ(c.local_reply()->code, "cluster_rate_limited");
    }
  }
  EXPECT_GT(refused, 60);
  // An unrelated account is not limited by the ring's budget.
  ExchangeContext u = ctx_of(records.front());
  u.account.account = "user_1";
  EXPECT_EQ(stage->on_request(u), FilterStatus::kContinue);
}

TEST(AssessStage, ShadowModeOnlyNotes) {
  ManualClock clock(kT0);
  AssessConfig cfg;
  cfg.capability_rpm = 1;
  auto stage = AssessStage::create(cfg, clock, StageMode::kShadow);
  ExchangeContext first = ctx_of(traffic().front());
  for (int i = 0; i < 200; ++i) {
    ExchangeContext c = ctx_of(traffic().front());
    EXPECT_EQ(stage->on_request(c), FilterStatus::kContinue);
    if (i == 199) {
      bool noted = false;
      for (auto& n : c.notes)
        noted |= n.second.find("shadow: would reply 429") != std::string::npos;
      EXPECT_TRUE(noted);
    }
  }
}

}  // namespace
}  // namespace dg
