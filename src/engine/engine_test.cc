// Each signal on hand-made record sequences, clustering on planted clusters,
// the classifier on a few prompts, sketches' accuracy.
#include "engine/engine.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

#include "common/hash.h"
#include "distillguard/random.h"
#include "engine/sketch.h"
#include "engine/text.h"

namespace dg::engine {
namespace {

namespace json = boost::json;

constexpr TimeNs kT0 = 1'769'947'200LL * kNsPerSec;  // 2026-02-01T12:00:00Z

struct Req {
  std::string prompt = "hello";
  std::string system;
  int turns = 1;
  double temperature = 1.0;
  int n = 1;
  bool logprobs = false;
  std::string ip = "198.51.100.7";
  std::string ua = "ua";
  std::string model = "teacher-1";
};

ExchangeRecord make(const std::string& account, TimeNs ts, const Req& q) {
  ExchangeRecord r;
  r.ts = ts;
  r.account = account;
  r.endpoint = "/v1/chat/completions";
  r.ip = q.ip;
  r.user_agent = q.ua;
  json::array msgs;
  if (!q.system.empty()) msgs.push_back(json::object{{"role", "system"}, {"content", q.system}});
  for (int t = 1; t < q.turns; ++t) {
    msgs.push_back(
        json::object{{"role", "user"}, {"content", "earlier question " + std::to_string(t)}});
    msgs.push_back(json::object{{"role", "assistant"}, {"content", "an answer"}});
  }
  msgs.push_back(json::object{{"role", "user"}, {"content", q.prompt}});
  r.request = json::object{{"model", q.model}, {"messages", msgs}, {"temperature", q.temperature}};
  if (q.n > 1) r.request["n"] = q.n;
  if (q.logprobs) {
    r.request["logprobs"] = true;
    r.request["top_logprobs"] = 5;
  }
  r.response =
      json::object{{"usage", json::object{{"prompt_tokens", 40}, {"completion_tokens", 200}}}};
  return r;
}

// Prompts over every capability area (real-style, varied).
const std::vector<std::string>& broad_prompts() {
  static const std::vector<std::string> p = {
      "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in "
      "May. How many clips did Natalia sell altogether?",
      "Write a python function to find the shared elements from the given two lists.",
      "If all bloops are razzies and all razzies are lazzies, are all bloops definitely lazzies? "
      "Explain the logic.",
      "Compose an engaging travel blog post about a recent trip to Hawaii.",
      "Summarize the following article in three sentences: The city council met on Tuesday to "
      "discuss the budget.",
      "Translate the following sentence into French: The weather is lovely today.",
      "Who was the first president of the United States and when did he take office?",
      "Explain how photosynthesis converts light energy into chemical energy in plant cells.",
      "hey, how are you doing today? I had a rough day at work",
      "Extract all the names and dates from this text and return them as JSON: Alice met Bob on 3 "
      "May.",
      "Solve for x: 3x + 7 = 22. What is the value of x?",
      "Write a JavaScript function that debounces another function.",
      "Describe the process of mitosis and the role of the spindle fibres in chromosome "
      "separation.",
      "What is the capital of Australia and why was it chosen?",
      "Write a short poem about autumn leaves falling in the park.",
  };
  return p;
}

TEST(Sketch, HyperLogLogEstimatesDistinctCounts) {
  Hll<7> h;
  for (uint64_t i = 0; i < 5000; ++i) h.add(hash64(std::to_string(i)));
  EXPECT_NEAR(h.estimate(), 5000, 5000 * 0.3);
  Hll<7> small;
  for (int r = 0; r < 10; ++r)
    for (uint64_t i = 0; i < 20; ++i) small.add(hash64(std::to_string(i)));
  EXPECT_NEAR(small.estimate(), 20, 4);
}

TEST(Sketch, TopKKeepsHeavyHitters) {
  TopK<4> t;
  for (int i = 0; i < 1000; ++i) {
    t.add(7);
    t.add(1000 + static_cast<uint64_t>(i));  // a long tail of one-offs
  }
  EXPECT_EQ(t.top_key(), 7u);
  EXPECT_GE(t.count_of(7), 1000u);
}

TEST(Sketch, WelfordMatchesDirectMoments) {
  Welford w;
  for (double x : {1.0, 2.0, 3.0, 4.0}) w.add(x);
  EXPECT_NEAR(w.mean, 2.5, 1e-6);
  EXPECT_NEAR(w.variance(), 1.6666667, 1e-5);
}

TEST(Text, TemplateMasksVariableParts) {
  auto a = template_keys(
      "Answer the question below and explain every step.\nQuestion: Tom has 3 apples and buys 5 "
      "more. How many now?\nFormat: final answer on the last line please.");
  auto b = template_keys(
      "Answer the question below and explain every step.\nQuestion: Maria reads 20 pages a day for "
      "7 days in June. How many pages?\nFormat: final answer on the last line please.");
  EXPECT_EQ(a.prefix, b.prefix);
  EXPECT_EQ(a.suffix, b.suffix);
  EXPECT_NE(a.whole, 0u);
  auto c =
      template_keys("Write me a haiku about the ocean at night, with a twist at the end of it.");
  EXPECT_NE(a.prefix, c.prefix);
}

TEST(Text, CuesDetected) {
  EXPECT_TRUE(has_cot_cue("solve this and explain every step of your reasoning"));
  EXPECT_TRUE(has_cot_cue("write out the reasoning behind this completed answer"));
  EXPECT_FALSE(has_cot_cue("what is the capital of france"));
  EXPECT_TRUE(has_rubric_cue("grade the following response on a scale of 1 to 10"));
  EXPECT_FALSE(has_rubric_cue("write a story about a dragon"));
  EXPECT_TRUE(
      has_benchmark_shape("Which is a mammal?\nA) shark\nB) whale\nC) trout\nD) squid\nAnswer:"));
  EXPECT_FALSE(has_benchmark_shape("tell me a joke"));
}

TEST(Classifier, LabelsClearPrompts) {
  const auto& clf = CapabilityClassifier::builtin();
  std::string l;
  auto cls = [&](const std::string& s, bool tools = false) {
    to_lower_ascii(s, l);
    return clf.classify(l, tools);
  };
  EXPECT_EQ(cls("Write a python function to reverse a linked list."), Capability::kCode);
  EXPECT_EQ(cls("A baker makes 24 muffins and sells 3 boxes of 6. How many muffins are left?"),
            Capability::kMath);
  EXPECT_EQ(cls("Translate this into Spanish: good morning"), Capability::kTranslation);
  EXPECT_EQ(cls("Summarize this paragraph for me"), Capability::kSummarization);
  EXPECT_EQ(cls("book a flight", true), Capability::kToolUse);
}

TEST(Classifier, HeldOutAccuracyOnRandomSplit) {
  auto data = parse_labelled_tsv(builtin_training_tsv());
  ASSERT_GT(data.size(), 5000u);
  Rng rng(42);
  std::vector<LabelledPrompt> train, test;
  for (auto& d : data) (rng.uniform() < 0.8 ? train : test).push_back(d);
  auto m = CapabilityClassifier::train(train);
  int ok = 0;
  std::string l;
  for (auto& t : test) {
    to_lower_ascii(t.text, l);
    ok += m.classify(l, false) == t.label;
  }
  EXPECT_GT(static_cast<double>(ok) / test.size(), 0.75);  // measured 0.81 (docs/detection.md)
}

// A bulk harvester: broad prompts, single-turn, temperature 0, metronome timing.
TEST(Engine, BulkBroadHarvesterIsFlaggedWithReasons) {
  Engine e;
  const auto& p = broad_prompts();
  Assessment last;
  for (int i = 0; i < 1500; ++i) {
    Req q;
    q.prompt = p[i % p.size()] + " (item " + std::to_string(i) + ")";
    q.temperature = 0;
    last = e.observe(make("bulk", kT0 + i * 3 * kNsPerSec, q));
  }
  EXPECT_EQ(last.verdict, Verdict::kAttack);
  auto rep = e.report();
  ASSERT_EQ(rep.accounts.size(), 1u);
  ASSERT_TRUE(rep.accounts[0].first_flagged.has_value());
  EXPECT_LE(rep.accounts[0].first_flagged->exchange, 1000u);
  // The breadth of what it asks is among the reasons (over all its requests,
  // or over its context-free ones).
  bool coverage = false;
  for (auto& r : rep.accounts[0].reasons)
    coverage |= r.signal == "capability_coverage" || r.signal == "context_free_breadth" ||
                r.signal == "context_free_volume";
  EXPECT_TRUE(coverage);
}

// A human chatting: few prompts, multi-turn, irregular timing: stays ok.
TEST(Engine, HumanChatUserStaysOk) {
  Engine e;
  Rng rng(3);
  const auto& p = broad_prompts();
  TimeNs t = kT0;
  Assessment last;
  for (int i = 0; i < 60; ++i) {
    Req q;
    q.prompt = p[rng.below(p.size())];
    q.turns = 1 + static_cast<int>(rng.below(4));
    t += static_cast<TimeNs>(rng.exponential(1800) * kNsPerSec);
    last = e.observe(make("human", t, q));
  }
  EXPECT_EQ(last.verdict, Verdict::kOk);
}

TEST(Engine, RegularTimingScoresHigherThanHumanTiming) {
  Profile bot, human;
  Rng rng(5);
  TimeNs tb = kT0, th = kT0;
  RecordFeatures f;
  for (int i = 0; i < 300; ++i) {
    tb += 10 * kNsPerSec;
    th += static_cast<TimeNs>(rng.lognormal(4, 1.5) * kNsPerSec);
    f.ts = tb;
    bot.add(f);
    f.ts = th;
    human.add(f);
  }
  auto sb = compute_signals(bot), sh = compute_signals(human);
  EXPECT_GT(sb[kSigRegularTiming], 0.8);
  EXPECT_LT(sh[kSigRegularTiming], 0.2);
}

TEST(Engine, HarvestingCuesRaiseRisk) {
  Profile plain, cot, lp;
  RecordFeatures f;
  for (int i = 0; i < 200; ++i) {
    f.ts = kT0 + i * kNsPerSec * 60;
    f.prompt_hash = static_cast<uint64_t>(i) + 1;
    f.capability =
        static_cast<Capability>(i % kCapabilityCount);  // soft labels matter over a wide spectrum
    f.cot = false;
    f.logprobs = false;
    plain.add(f);
    f.cot = true;
    cot.add(f);
    f.cot = false;
    f.logprobs = true;
    lp.add(f);
  }
  double base = risk_score(compute_signals(plain));
  EXPECT_GT(risk_score(compute_signals(cot)), base + 0.05);
  EXPECT_GT(risk_score(compute_signals(lp)), base + 0.05);
}

TEST(Engine, FixedSystemPromptApplicationLowersRisk) {
  Profile app, bare;
  RecordFeatures f;
  for (int i = 0; i < 300; ++i) {
    f.ts = kT0 + i * kNsPerSec * 30;
    f.prompt_hash = static_cast<uint64_t>(i) + 1;
    f.capability = static_cast<Capability>(i % kCapabilityCount);
    f.system_hash = 0;
    f.has_system = false;
    bare.add(f);
    f.system_hash = 99;
    f.has_system = true;
    f.app_system = true;
    app.add(f);
  }
  EXPECT_LT(risk_score(compute_signals(app)), risk_score(compute_signals(bare)));
  EXPECT_GT(compute_signals(app)[kSigFixedSystem], 0.9);
}

// Only an application's own instructions on nearly every request count as
// the application shape: a one-line default ("You are a helpful assistant.")
// on half the requests, as a chat front-end or a reseller's customers send,
// does not.
TEST(Engine, GenericSystemPromptIsNotAnApplication) {
  std::string scratch;
  Req q;
  q.system = "You are a helpful assistant.";
  auto generic = extract_features(make("a", kT0, q), CapabilityClassifier::builtin(), scratch);
  q.system =
      "You are the help-desk assistant of BrightCell Mobile. Keep answers under 120 words and "
      "escalate billing.";
  auto own = extract_features(make("a", kT0, q), CapabilityClassifier::builtin(), scratch);
  EXPECT_TRUE(generic.has_system);
  EXPECT_FALSE(generic.app_system);
  EXPECT_TRUE(own.app_system);
  Profile half;
  RecordFeatures f;
  for (int i = 0; i < 200; ++i) {
    f.ts = kT0 + i * kNsPerSec * 30;
    f.prompt_hash = static_cast<uint64_t>(i) + 1;
    f.has_system = i % 2 == 0;
    f.system_hash = f.has_system ? 7 : 0;
    f.app_system = false;
    half.add(f);
  }
  EXPECT_EQ(compute_signals(half)[kSigFixedSystem], 0.0);
}

// Features of one request for profile-level tests.
RecordFeatures feat(int i, Capability cap, bool multi_turn, bool system, uint64_t prefix = 0) {
  RecordFeatures f;
  f.ts = kT0 + static_cast<TimeNs>(i) * 90 * kNsPerSec;
  f.prompt_hash = hash64(std::to_string(i), 9) | 1;  // well mixed, as real prompt hashes are
  f.capability = cap;
  f.multi_turn = multi_turn;
  f.has_system = system;
  f.system_hash = system ? 5 : 0;
  f.tmpl.prefix = prefix;
  return f;
}

// A reseller: genuine customers' multi-turn chats with a system prompt, and
// an extraction half (single-turn, no system prompt, every capability area)
// on the same account. The account's totals are diluted; its context-free
// requests alone are as wide as a pure harvester's.
TEST(Engine, ContextFreeHalfShowsThroughGenuineTraffic) {
  Profile genuine, mixed, harvester;
  for (int i = 0; i < 400; ++i) {
    auto chat =
        feat(i, Capability::kConversation, /*multi_turn=*/i % 3 != 0, /*system=*/i % 3 != 1);
    auto wide = feat(i, static_cast<Capability>(i % (kCapabilityCount - 1)), false, false);
    genuine.add(chat);
    mixed.add(i % 2 ? chat : wide);
    harvester.add(wide);
  }
  auto g = compute_signals(genuine), m = compute_signals(mixed), h = compute_signals(harvester);
  EXPECT_LT(g[kSigBareBreadth], 0.3);
  EXPECT_GT(m[kSigBareBreadth], 0.6);
  EXPECT_GT(m[kSigBareBreadth], h[kSigBareBreadth] - 0.15);  // not diluted by the genuine half
  EXPECT_LT(m[kSigSingleTurn], h[kSigSingleTurn] - 0.2);     // where the totals are
  EXPECT_GT(m[kSigBareVolume], g[kSigBareVolume] + 0.3);
  EXPECT_GT(risk_score(m), risk_score(g));
}

// Several instruction wrappers rotated around new, varied prompts score; one
// fixed template (an application) or two fixed formats (a judge harness) do
// not, and neither does a user retrying the same few prompts.
TEST(Engine, RotatingWrappersScoreAndFixedFormatsDoNot) {
  Profile rotating, fixed, two, retries;
  for (int i = 0; i < 300; ++i) {
    auto cap = static_cast<Capability>(i % (kCapabilityCount - 1));
    rotating.add(feat(i, cap, false, false, 100 + i % 4));
    fixed.add(feat(i, cap, false, false, 100));
    two.add(feat(i, cap, false, false, 100 + i % 2));
    auto again =
        feat(i % 4, cap, false, false, 200 + i % 4);  // the same four prompts over and over
    again.ts = kT0 + i * 60 * kNsPerSec;
    retries.add(again);
  }
  EXPECT_GT(compute_signals(rotating)[kSigRotatingWrappers], 0.6);
  EXPECT_LT(compute_signals(fixed)[kSigRotatingWrappers], 0.05);
  EXPECT_LT(compute_signals(two)[kSigRotatingWrappers], 0.05);
  EXPECT_LT(compute_signals(retries)[kSigRotatingWrappers], 0.05);
  EXPECT_GT(compute_signals(fixed)[kSigFixedFrame], 0.9);
  EXPECT_GT(compute_signals(two)[kSigFixedFrame], 0.9);
  EXPECT_LT(compute_signals(rotating)[kSigFixedFrame], 0.1);
}

// An account whose genuine traffic brings a new opening on most prompts keeps
// the few wrappers it reuses (a reseller's extraction half): the top-k of
// openings is churned by the one-off ones, the reused-key sketch is not.
TEST(Engine, ReusedWrappersSurviveOneOffOpenings) {
  Profile p;
  const uint64_t w1 = 0xa1, w2 = 0xb2;
  for (int i = 0; i < 600; ++i) {
    uint64_t prefix = i % 40 == 0 ? w1 : i % 40 == 20 ? w2 : 0x100000 + i;  // one-off otherwise
    p.add(feat(i, Capability::kConversation, false, false, prefix));
  }
  EXPECT_GE(p.reused_uses(w1 ^ kPrefixKeySalt), 10u);
  EXPECT_GE(p.reused_uses(w2 ^ kPrefixKeySalt), 10u);
  EXPECT_EQ(p.reused_uses((0x100000 + 599) ^ kPrefixKeySalt), 0u);  // seen once
  int kept = 0;
  for (int i = 0; i < 6; ++i)
    kept += p.prefixes.count[i] && (p.prefixes.key[i] == w1 || p.prefixes.key[i] == w2) &&
            p.prefixes.guaranteed(i) >= 2;
  EXPECT_EQ(kept, 0);  // why the sketch exists
}

// Split source: a group whose members never repeat each other's prompts and
// ask for the same mix scores; members with unlike mixes, or a group asking
// the same few items over and over (a benchmark rerun), do not.
TEST(Engine, SplitSourceOnDisjointSameMixGroup) {
  Profile split, repeated;
  for (int i = 0; i < 400; ++i) {
    auto cap = static_cast<Capability>(i % (kCapabilityCount - 1));
    split.add(feat(i, cap, false, false));
    repeated.add(feat(i % 25, cap, false, false));
  }
  GroupEvidence alike{0.95, 20, 19, 0}, unlike{0.3, 20, 19, 0};
  EXPECT_GT(compute_signals(split, 20, &alike)[kSigSplitSource], 0.5);
  EXPECT_EQ(compute_signals(split, 20, &unlike)[kSigSplitSource], 0.0);
  EXPECT_LT(compute_signals(repeated, 20, &alike)[kSigSplitSource], 0.05);
  EXPECT_EQ(compute_signals(split, 1, nullptr)[kSigSplitSource],
            0.0);  // accounts alone: no such evidence
}

// Linked accounts count as one actor hiding behind many, unless the links
// came from one shared site (an organisation behind its NAT).
TEST(Engine, ClusterSizeDiscountedBySharedSiteLinks) {
  Profile p;
  for (int i = 0; i < 100; ++i) p.add(feat(i, Capability::kCode, false, false));
  GroupEvidence hidden{0, 0, 30, 0}, one_site{0, 0, 30, 30};
  EXPECT_GT(compute_signals(p, 31, &hidden)[kSigClusterSize], 0.45);
  EXPECT_EQ(compute_signals(p, 31, &one_site)[kSigClusterSize], 0.0);
}

// A planted hydra: 60 accounts, each small, same template, same client
// fingerprint, created in one burst, rotating addresses. Plus 60 unrelated
// human accounts. The hydra forms one cluster; the humans do not join it.
TEST(Engine, PlantedHydraFormsOneClusterAndIsFlagged) {
  Engine e;
  Rng rng(9);
  const auto& p = broad_prompts();
  std::vector<ExchangeRecord> recs;
  for (int a = 0; a < 60; ++a) {
    TimeNs created = kT0 - 3600 * kNsPerSec + a * 5 * kNsPerSec;
    for (int i = 0; i < 25; ++i) {
      Req q;
      q.prompt = "You are helping build a dataset. Respond thoroughly and explain every step.\n\n" +
                 p[rng.below(p.size())] + " #" + std::to_string(a * 100 + i) +
                 "\n\nEnd your answer with a one-line summary of the final result.";
      q.ip = "203.0." + std::to_string(rng.below(250)) + "." + std::to_string(rng.below(250));
      q.ua = "python-requests/2.31";
      q.temperature = 0;
      auto r = make("hydra_" + std::to_string(a), kT0 + (a * 25 + i) * 7 * kNsPerSec, q);
      r.account_created = created;
      recs.push_back(std::move(r));
    }
  }
  for (int h = 0; h < 60; ++h) {
    for (int i = 0; i < 10; ++i) {
      Req q;
      q.prompt = p[rng.below(p.size())];
      q.turns = 1 + static_cast<int>(rng.below(3));
      q.ip = "192.0.2." + std::to_string(h);
      q.ua = "Mozilla/5.0 browser " + std::to_string(h % 7);
      recs.push_back(make("human_" + std::to_string(h), kT0 + (h * 10 + i) * 31 * kNsPerSec, q));
    }
  }
  std::stable_sort(recs.begin(), recs.end(), [](auto& x, auto& y) { return x.ts < y.ts; });
  for (auto& r : recs) e.observe(r);
  auto rep = e.report();
  std::string hydra_cluster;
  int hydra_flagged = 0, humans_flagged = 0, hydra_in_main = 0;
  for (auto& a : rep.accounts) {
    if (a.account.rfind("hydra_", 0) == 0) {
      if (hydra_cluster.empty()) hydra_cluster = a.cluster;
      hydra_in_main += !a.cluster.empty() && a.cluster == hydra_cluster;
      hydra_flagged += a.verdict == Verdict::kAttack;
    } else {
      humans_flagged += a.verdict == Verdict::kAttack;
      if (!hydra_cluster.empty()) {
        EXPECT_NE(a.cluster, hydra_cluster) << a.account;
      }
    }
  }
  EXPECT_FALSE(hydra_cluster.empty());
  EXPECT_GE(hydra_in_main, 57);
  EXPECT_GE(hydra_flagged, 57);
  EXPECT_EQ(humans_flagged, 0);
}

// A new ring member whose first prompt carries no template links on its first
// use of the ring's own wrapper (>= 10 % of the ring's prompts); an opening
// that only one member's dataset items share (< 10 %) does not link a newcomer.
TEST(Engine, NewcomerLinksOnRingWrapperNotOnRareOpening) {
  Engine e;
  Rng rng(21);
  const auto& p = broad_prompts();
  const std::string w1 = "Please answer the following thoroughly and accurately.\n\n";
  const std::string w2 = "Help me with this task right now: ";
  const std::string rare = "Complete the following Python function carefully.\n\n";
  TimeNs t = kT0;
  auto ip = [&] {
    return "203.0." + std::to_string(rng.below(250)) + "." + std::to_string(rng.below(250));
  };
  auto send = [&](const std::string& acct, const std::string& prompt, TimeNs created) {
    Req q;
    q.prompt = prompt;
    q.ip = ip();
    q.ua = "ua-" + acct;
    auto r = make(acct, t += 40 * kNsPerSec, q);
    r.account_created = created;
    return e.observe(r);
  };
  const TimeNs burst = kT0 - 86400 * kNsPerSec;
  for (int i = 0; i < 20; ++i) {
    for (int a = 0; a < 8; ++a) {
      std::string item = p[rng.below(p.size())] + " #" + std::to_string(a * 100 + i);
      std::string prompt = (a == 0 && i % 4 == 0) ? rare + item : ((i + a) % 2 ? w1 : w2) + item;
      send("ring_" + std::to_string(a), prompt, burst + a * 60 * kNsPerSec);
    }
  }
  auto ring = e.lookup("ring_1");
  ASSERT_TRUE(ring.has_value());
  ASSERT_GE(ring->cluster_size, 5u);
  send("newcomer", "what should I cook tonight with rice and beans?", burst + 30 * 60 * kNsPerSec);
  auto joined = send("newcomer", w1 + p[3] + " #9001", burst + 30 * 60 * kNsPerSec);
  EXPECT_EQ(joined.cluster_root, e.lookup("ring_1")->cluster_root);
  EXPECT_EQ(joined.verdict, e.lookup("ring_1")->verdict);
  send("bystander", "what should I cook tonight with pasta?", burst + 40 * 60 * kNsPerSec);
  auto other = send("bystander", rare + p[1] + " #9002", burst + 40 * 60 * kNsPerSec);
  EXPECT_EQ(other.cluster_size, 1u);
}

// One script rotating a set of instruction wrappers around content of every
// kind over accounts with nothing else in common (own addresses, clients,
// creation dates months apart): linked by the shared wrapper set. Coders
// whose prompts share two dataset openings that frame one kind of content
// (code) are not linked, nor is an account that used one wrapper once.
TEST(Engine, SharedWrapperSetLinksOneScriptNotDatasetPhrasing) {
  Engine e;
  Rng rng(41);
  const auto& p = broad_prompts();
  const std::vector<std::string> code = {
      "find the shared elements from the given two lists",
      "reverse the words of a sentence",
      "check whether a number is prime",
      "merge two sorted lists into one sorted list",
      "count the vowels in a string",
      "remove duplicate entries from a list while keeping order",
  };
  const std::string w1 = "Please answer the following thoroughly and accurately.\n\n";
  const std::string w2 = "\n\nGive a complete, well-structured answer.";
  const std::string o1 = "Write a Python function for the task below.\n\n";
  const std::string o2 = "\n\nReturn only the code in one block.";
  TimeNs t = kT0;
  const TimeNs day = 86400 * kNsPerSec;
  auto send = [&](const std::string& acct, int k, const std::string& prompt) {
    Req q;
    q.prompt = prompt;
    q.ip = "198." + std::to_string(18 + k) + "." + std::to_string(k) + ".9";
    q.ua = "client-" + acct;
    auto r = make(acct, t += 37 * kNsPerSec, q);
    r.account_created = kT0 - (30 + 45 * k) * day;
    return e.observe(r);
  };
  // Each account on its own day (no synchronised timing).
  for (int a = 0; a < 6; ++a) {
    t = kT0 + 2 * a * day;
    for (int i = 0; i < 30; ++i) {
      std::string item = p[rng.below(p.size())] + " #" + std::to_string(a * 1000 + i);
      int form = static_cast<int>(rng.below(3));
      send("script_" + std::to_string(a), a, form == 0 ? w1 + item : form == 1 ? item + w2 : item);
    }
    t = kT0 + (2 * a + 1) * day;
    for (int i = 0; i < 30; ++i) {
      std::string task =
          code[rng.below(code.size())] + " (case " + std::to_string(a * 1000 + i) + ")";
      int form = static_cast<int>(rng.below(3));
      send("coder_" + std::to_string(a), 10 + a,
           form == 0   ? o1 + task
           : form == 1 ? task + o2
                       : "Please " + task + ".");
    }
  }
  auto root = e.lookup("script_0")->cluster_root;
  for (int a = 1; a < 6; ++a)
    EXPECT_EQ(e.lookup("script_" + std::to_string(a))->cluster_root, root) << a;
  for (int a = 0; a < 6; ++a)
    EXPECT_EQ(e.lookup("coder_" + std::to_string(a))->cluster_size, 1u) << a;
  for (int i = 0; i < 5; ++i)
    send("passerby", 30, "hello, how was your weekend? #" + std::to_string(i));
  auto once = send("passerby", 30, w1 + p[3] + " #9001");
  EXPECT_EQ(once.cluster_size, 1u);
  // A new account of the script links once it has used two of the wrappers,
  // once each (first uses count while one use is a steady share).
  send("script_new", 40, w1 + p[4] + " #9101");
  auto second = send("script_new", 40, p[5] + " #9102" + w2);
  EXPECT_EQ(second.cluster_root, root);
}

// A ring opened in a creation burst keeps that evidence after aged accounts
// (created months apart) join it: a newcomer created inside the burst links on
// its first use of the ring's wrapper. An account created months away that
// uses the same wrapper once does not, nor one created in the burst that uses
// it only once established.
TEST(Engine, CreationBurstSurvivesAgedMembers) {
  Engine e;
  Rng rng(31);
  const auto& p = broad_prompts();
  const std::string w = "Please answer the following thoroughly and accurately.\n\n";
  TimeNs t = kT0;
  // The actor's accounts share rare client fingerprints pairwise.
  auto send = [&](const std::string& acct, const std::string& prompt, TimeNs created,
                  const std::string& ua) {
    Req q;
    q.prompt = prompt;
    // The actor rotates proxy addresses; the others keep their own.
    bool actor = acct.rfind("ring_", 0) == 0 || acct.rfind("aged_", 0) == 0 || acct == "newcomer";
    q.ip = actor ? "203.0." + std::to_string(rng.below(250)) + "." + std::to_string(rng.below(250))
                 : "192.0." + std::to_string(acct.size()) + ".7";
    q.ua = ua;
    auto r = make(acct, t += 40 * kNsPerSec, q);
    r.account_created = created;
    return e.observe(r);
  };
  const TimeNs burst = kT0 - 10 * 86400 * kNsPerSec;
  const TimeNs day = 86400 * kNsPerSec;
  for (int i = 0; i < 10; ++i) {
    for (int a = 0; a < 8; ++a)  // the ring, opened within two hours
      send("ring_" + std::to_string(a),
           w + p[rng.below(p.size())] + " #" + std::to_string(a * 100 + i),
           burst + a * 900 * kNsPerSec, "ring-client-" + std::to_string(a % 4));
    for (int a = 0; a < 4; ++a)  // aged accounts of the same actor, opened months apart
      send("aged_" + std::to_string(a),
           w + p[rng.below(p.size())] + " @" + std::to_string(a * 100 + i),
           burst - (60 + 40 * a) * day, "ring-client-" + std::to_string(a));
  }
  auto ring = e.lookup("ring_0");
  ASSERT_TRUE(ring.has_value());
  ASSERT_EQ(ring->cluster_root,
            e.lookup("aged_3")->cluster_root);  // the aged accounts joined the ring
  auto joined = send("newcomer", w + p[2] + " #9001", burst + 5 * 3600 * kNsPerSec,
                     "newcomer-client");  // 3 h after the last
  EXPECT_EQ(joined.cluster_root, ring->cluster_root);
  auto other = send("stranger", w + p[4] + " #9002", burst - 150 * day, "stranger-client");
  EXPECT_EQ(other.cluster_size, 1u);
  // Created inside the burst too, but an established account by the time it
  // uses the wrapper: its creation date no longer counts.
  for (int i = 0; i < 5; ++i)
    send("latecomer", "hello there friend " + std::to_string(i), burst + 9 * 3600 * kNsPerSec,
         "latecomer-client");
  send("latecomer", w + p[5] + " #9003", burst + 9 * 3600 * kNsPerSec, "latecomer-client");
  auto late =
      send("latecomer", w + p[6] + " #9004", burst + 9 * 3600 * kNsPerSec, "latecomer-client");
  EXPECT_EQ(late.cluster_size, 1u);
}

// A legitimate customer: 40 keys behind one corporate block, one application
// (fixed system prompt, narrow task). Linked, but not an attack.
TEST(Engine, BigCustomerBehindOneBlockStaysOk) {
  Engine e;
  std::vector<ExchangeRecord> recs;
  for (int a = 0; a < 40; ++a) {
    for (int i = 0; i < 80; ++i) {
      Req q;
      q.system = "You are the support assistant of Acme Corp. Answer customer questions politely.";
      q.prompt = "Customer message: I cannot log into my account number " +
                 std::to_string(a * 1000 + i) + ", what should I do?";
      q.turns = 1 + (i % 3);
      q.ip = "10.1.2." + std::to_string(a);
      q.ua = "acme-backend/3.2";
      recs.push_back(make("acme_" + std::to_string(a), kT0 + (a * 80 + i) * 11 * kNsPerSec, q));
    }
  }
  std::stable_sort(recs.begin(), recs.end(), [](auto& x, auto& y) { return x.ts < y.ts; });
  for (auto& r : recs) e.observe(r);
  auto rep = e.report();
  for (auto& a : rep.accounts) EXPECT_NE(a.verdict, Verdict::kAttack) << a.account;
  EXPECT_FALSE(rep.clusters.empty());  // they are linked (one actor), just not an attacker
}

TEST(Engine, ProfileStaysBounded) {
  EXPECT_LE(sizeof(Profile), 1536u);
  Engine e;
  for (int i = 0; i < 2000; ++i) {
    Req q;
    q.prompt = "prompt " + std::to_string(i);
    e.observe(make("acct_" + std::to_string(i), kT0 + i * kNsPerSec, q));
  }
  size_t fixed = (size_t{1} << e.config().link_slots_log2) * 64;  // link index slots
  EXPECT_LT((e.memory_bytes() - fixed) / e.account_count(), 4096u);
}

}  // namespace
}  // namespace dg::engine
