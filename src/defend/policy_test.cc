#include "defend/policy.h"

#include <gtest/gtest.h>

namespace dg::defend {
namespace {

PolicyConfig cfg() {
  PolicyConfig c;
  c.hysteresis = 0.1;
  c.min_dwell = 60 * kNsPerSec;
  c.allow_accounts = {"licensed"};
  c.overrides["pinned"] = Action::kTrace;
  return c;
}

TEST(PolicyLadder, ClimbsAtOnceAndRecordsReason) {
  PolicyLadder p(cfg());
  EXPECT_EQ(p.decide("a", "new", 0.1, 0).action, Action::kAllow);
  auto d = p.decide("a", "new", 0.9, kNsPerSec);
  EXPECT_EQ(d.action, Action::kTrace);
  EXPECT_TRUE(d.changed);
  EXPECT_NE(d.reason.find("trace"), std::string::npos);
  EXPECT_EQ(p.decide("a", "new", 0.99, 2 * kNsPerSec).action, Action::kBlock);
}

// Risk oscillating around a threshold does not make the action flap.
TEST(PolicyLadder, HysteresisAndDwellPreventFlapping) {
  PolicyLadder p(cfg());
  int changes = 0;
  TimeNs t = 0;
  for (int i = 0; i < 100; ++i) {
    const double risk = i % 2 ? 0.72 : 0.66;  // around degrade 0.7, within the 0.1 band
    changes += p.decide("a", "new", risk, t).changed;
    t += kNsPerSec;
  }
  EXPECT_EQ(changes, 2);  // allow -> throttle -> degrade once, never back
  EXPECT_EQ(p.decide("a", "new", 0.62, t).action, Action::kDegrade);  // inside the band: stays
  // Below the band and after the dwell: goes down to throttle (0.55 >= 0.5 - 0.1).
  PolicyLadder q(cfg());
  EXPECT_EQ(q.decide("b", "new", 0.8, 0).action, Action::kDegrade);
  EXPECT_EQ(q.decide("b", "new", 0.3, 10 * kNsPerSec).action, Action::kDegrade);  // dwell not over
  auto d = q.decide("b", "new", 0.45, 61 * kNsPerSec);
  EXPECT_EQ(d.action, Action::kThrottle);
  EXPECT_TRUE(d.changed);
  EXPECT_EQ(q.decide("b", "new", 0.1, 200 * kNsPerSec).action, Action::kAllow);
}

TEST(PolicyLadder, AllowListAndOverride) {
  PolicyLadder p(cfg());
  EXPECT_EQ(p.decide("licensed", "new", 1.0, 0).action, Action::kAllow);
  EXPECT_EQ(p.decide("pinned", "new", 0.0, 0).action, Action::kTrace);
}

TEST(PolicyLadder, PerTierThresholds) {
  PolicyConfig c = cfg();
  c.tiers["enterprise"] = TierThresholds{0.8, 0.9, 0.95, 0.99};
  PolicyLadder p(c);
  EXPECT_EQ(p.decide("e", "enterprise", 0.75, 0).action, Action::kAllow);
  EXPECT_EQ(p.decide("n", "new", 0.75, 0).action, Action::kDegrade);
}

TEST(PolicyConfig, ReadsSectionWithErrors) {
  auto c = parse_config(R"(
[policy]
hysteresis = 0.05
reasoning = "withhold"
reasoning_summary_words = 12
allow_accounts = ["lic"]
[policy.thresholds.new]
throttle = 0.3
degrade = 0.4
trace = 0.6
block = 0.9
[policy.accounts]
bad-actor = "block"
)", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  auto p = PolicyConfig::from_config(*c);
  ASSERT_TRUE(p.ok()) << p.status().to_string();
  EXPECT_EQ(p->thresholds("new").trace, 0.6);
  EXPECT_EQ(p->overrides.at("bad-actor"), Action::kBlock);
  EXPECT_DOUBLE_EQ(p->throttle_multiplier, 0.25);
  EXPECT_EQ(p->reasoning, ReasoningMode::kWithhold);
  EXPECT_EQ(p->reasoning_summary_words, 12);
  auto bad = parse_config("[policy]\nthrottle_multipler = 0.5\n", "t.toml");
  ASSERT_TRUE(bad.ok());
  auto pb = PolicyConfig::from_config(*bad);
  EXPECT_FALSE(pb.ok());
}

}  // namespace
}  // namespace dg::defend
