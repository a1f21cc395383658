#include "defend/probe.h"

#include <gtest/gtest.h>

#include "defend/canary.h"

namespace dg::defend {
namespace {

TEST(Probe, FindsPlantedSignatureWithSmallChance) {
  const std::string sig = canary_signature("m", "acct-7", "list");
  std::vector<ProbeSignature> sigs;
  for (int i = 0; i < 50; ++i) {
    std::string a = "acct-";
    a += std::to_string(i);
    for (const auto& k : canary_kinds()) sigs.push_back({a, k, canary_signature("m", a, k)});
  }
  std::vector<std::string> answers = {"1. Sleep early.\n2. Avoid screens." + canary_sentence("list", sig),
                                      "A hash function maps data to a fixed-size value."};
  VerifyOptions opt;
  opt.keys.push_back({"acct-7", derive_account_key("m", "acct-7")});
  ProbeReport r = analyze_probe(answers, sigs, opt);
  ASSERT_EQ(r.hits.size(), 1u);
  EXPECT_EQ(r.hits[0].sig.account, "acct-7");
  EXPECT_EQ(r.hits[0].sig.kind, "list");
  EXPECT_LT(r.chance, 1e-5);
  EXPECT_EQ(probe_prompts("list", 5).size(), 5u);
}

TEST(Probe, CleanAnswersHaveNoHits) {
  std::vector<ProbeSignature> sigs = {{"a", "list", canary_signature("m", "a", "list")}};
  ProbeReport r = analyze_probe({"Nothing to see here."}, sigs, VerifyOptions{});
  EXPECT_TRUE(r.hits.empty());
}

}  // namespace
}  // namespace dg::defend
