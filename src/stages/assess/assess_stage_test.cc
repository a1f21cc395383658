// The assess stage: offline = online (the same records through the stage and
// through the engine directly give the same verdicts and first_flagged),
// published risk reaches ctx.risk, cluster and capability limits, latency.
#include "stages/assess/assess_stage.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <map>

#include "distillguard/random.h"

namespace dg {
namespace {

namespace json = boost::json;
constexpr TimeNs kT0 = 1'769'947'200LL * kNsPerSec;

const std::vector<std::string> kPrompts = {
    "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. How many clips did she sell?",
    "Write a python function to find the shared elements from the given two lists.",
    "If all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies?",
    "Compose an engaging travel blog post about a recent trip to Hawaii.",
    "Translate the following sentence into French: The weather is lovely today.",
    "Who was the first president of the United States?",
    "Explain how photosynthesis converts light energy into chemical energy in plant cells.",
    "hey, how are you doing today? I had a rough day at work",
    "Extract all the names and dates from this text and return them as JSON: Alice met Bob on 3 May.",
    "Write a short poem about autumn leaves falling in the park.",
};

ExchangeRecord rec(const std::string& account, TimeNs ts, const std::string& prompt, const std::string& ip,
                   const std::string& ua, TimeNs created, bool multi_turn, const std::string& system) {
  ExchangeRecord r;
  r.ts = ts;
  r.account = account;
  r.endpoint = "/v1/chat/completions";
  r.ip = ip;
  r.user_agent = ua;
  if (created) r.account_created = created;
  json::array msgs;
  if (!system.empty()) msgs.push_back(json::object{{"role", "system"}, {"content", system}});
  if (multi_turn) {
    msgs.push_back(json::object{{"role", "user"}, {"content", "earlier"}});
    msgs.push_back(json::object{{"role", "assistant"}, {"content", "answer"}});
  }
  msgs.push_back(json::object{{"role", "user"}, {"content", prompt}});
  r.request = json::object{{"model", "teacher-1"}, {"messages", msgs}, {"temperature", 0.7}};
  r.response = json::object{{"usage", json::object{{"prompt_tokens", 50}, {"completion_tokens", 300}}}};
  return r;
}

// A bulk harvester, a hydra ring and ordinary users, in time order.
std::vector<ExchangeRecord> traffic() {
  std::vector<ExchangeRecord> v;
  Rng rng(11);
  for (int i = 0; i < 600; ++i)
    v.push_back(rec("bulk", kT0 + i * 20 * kNsPerSec, kPrompts[i % kPrompts.size()] + " #" + std::to_string(i),
                    "203.0.113.9", "python-requests/2.31", 0, false, ""));
  for (int a = 0; a < 30; ++a)
    for (int i = 0; i < 15; ++i)
      v.push_back(rec("ring_" + std::to_string(a), kT0 + (a * 15 + i) * 23 * kNsPerSec,
                      "Please answer the following thoroughly and accurately.\n\n" +
                          kPrompts[rng.below(kPrompts.size())] + " #" + std::to_string(a * 100 + i),
                      "198.18." + std::to_string(rng.below(200)) + "." + std::to_string(rng.below(200)),
                      "ua-" + std::to_string(rng.below(5)), kT0 - 86400 * kNsPerSec + a * 60 * kNsPerSec, false, ""));
  for (int h = 0; h < 40; ++h)
    for (int i = 0; i < 12; ++i)
      v.push_back(rec("user_" + std::to_string(h), kT0 + (h * 12 + i) * 37 * kNsPerSec,
                      kPrompts[rng.below(kPrompts.size())], "192.0.2." + std::to_string(h), "browser",
                      kT0 - (100 + h) * 86400 * kNsPerSec, rng.bernoulli(0.5),
                      rng.bernoulli(0.5) ? "You are a helpful assistant." : ""));
  std::stable_sort(v.begin(), v.end(), [](const auto& a, const auto& b) { return a.ts < b.ts; });
  return v;
}

ExchangeContext ctx_of(const ExchangeRecord& r) {
  ExchangeContext c;
  c.arrived = r.ts;
  c.endpoint = r.endpoint;
  c.client_ip = r.ip;
  c.user_agent = r.user_agent;
  c.headers_fp = r.headers_fp;
  c.request = r.request;
  c.account.account = r.account;
  c.account.created = r.account_created.value_or(0);
  c.prompt_tokens = 50;
  c.completion_tokens = 300;
  return c;
}

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
      for (auto& n : c.notes) noted |= n.second.find("shadow: would reply 429") != std::string::npos;
      EXPECT_TRUE(noted);
    }
  }
}

TEST(AssessStage, RequestPathLatency) {
  ManualClock clock(kT0);
  auto stage = AssessStage::create(AssessConfig{}, clock, StageMode::kEnforce);
  auto records = traffic();
  std::vector<double> us;
  for (size_t i = 0; i < records.size(); ++i) {
    ExchangeContext c = ctx_of(records[i]);
    auto t0 = std::chrono::steady_clock::now();
    (void)stage->on_request(c);
    auto t1 = std::chrono::steady_clock::now();
    stage->on_complete(c);
    us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  std::sort(us.begin(), us.end());
  double p50 = us[us.size() / 2], p99 = us[us.size() * 99 / 100];
  std::printf("assess on_request: p50 %.1f us, p99 %.1f us (%zu requests)\n", p50, p99, us.size());
  EXPECT_LT(p50, 50.0);
}

}  // namespace
}  // namespace dg
