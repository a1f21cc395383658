#include "replay/synth.h"

#include <gtest/gtest.h>

#include <cmath>

namespace dg::replay {
namespace {

std::string concat(const std::vector<std::string_view>& t) {
  std::string s;
  for (auto p : t) s += p;
  return s;
}

TEST(Tokenize, PiecesConcatenateToTheText) {
  const std::string text = "Hello, world!\n\n  Extraordinarily long words — and ünïcödé text.  ";
  const auto toks = tokenize(text);
  EXPECT_EQ(concat(toks), text);
  for (auto t : toks) EXPECT_FALSE(t.empty());
}

TEST(Tokenize, AboutOnePointThreeTokensPerWord) {
  const std::string text =
      "The quick brown fox jumps over the lazy dog while the committee deliberates about "
      "infrastructure, responsibilities and documentation.";
  const double words = 19;
  const double ratio = static_cast<double>(count_tokens(text)) / words;
  EXPECT_GT(ratio, 1.0);
  EXPECT_LT(ratio, 1.7);
}

TEST(Tokenize, LeadingSpaceJoinsTheWord) {
  const auto toks = tokenize("a b");
  ASSERT_EQ(toks.size(), 2u);
  EXPECT_EQ(toks[1], " b");
}

TEST(Logprobs, DeterministicAndInRange) {
  const double a = token_logprob(" the", " cat");
  EXPECT_EQ(a, token_logprob(" the", " cat"));
  EXPECT_LT(a, 0);
  EXPECT_GE(a, -2.6);
}

TEST(Logprobs, TopAlternativesAreSortedIncludeTheTokenAndSumBelowOne) {
  const auto alts = top_logprobs(" the", " cat", 5);
  ASSERT_EQ(alts.size(), 5u);
  double mass = 0;
  bool has_token = false;
  for (size_t i = 0; i < alts.size(); ++i) {
    if (i) {
      EXPECT_GE(alts[i - 1].second, alts[i].second);
    }
    mass += std::exp(alts[i].second);
    has_token = has_token || alts[i].first == " cat";
  }
  EXPECT_TRUE(has_token);
  EXPECT_LE(mass, 1.0 + 1e-9);
}

TEST(Reasoning, TraceMentionsThePromptAndIsStable) {
  const auto t = reasoning_trace("Why is the sky blue?", "Rayleigh scattering.\n\nShort waves scatter more.");
  EXPECT_NE(t.find("Why is the sky blue?"), std::string::npos);
  EXPECT_NE(t.find("Rayleigh scattering"), std::string::npos);
  EXPECT_EQ(t, reasoning_trace("Why is the sky blue?", "Rayleigh scattering.\n\nShort waves scatter more."));
}

}  // namespace
}  // namespace dg::replay
