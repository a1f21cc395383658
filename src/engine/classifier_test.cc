// The capability classifier's fast predict() must give the same label as the
// straightforward reference path (training's feature extraction, scalar
// accumulation) on every prompt: the embedded training prompts, prompts cut at
// and around kMaxChars, prompts past the feature cap, and random byte soup
// dense in the punctuation marks and token boundaries.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "distillguard/random.h"
#include "engine/classifier.h"
#include "engine/text.h"

namespace dg::engine {
namespace {

TEST(Classifier, PredictMatchesReferenceOnTrainingPrompts) {
  const auto& m = CapabilityClassifier::builtin();
  auto data = parse_labelled_tsv(builtin_training_tsv());
  ASSERT_GT(data.size(), 5000u);
  std::string lower;
  size_t mismatches = 0;
  for (const auto& d : data) {
    to_lower_ascii(d.text, lower);
    if (m.predict(lower) != m.predict_reference(lower)) ++mismatches;
    // Also the prompts as features.cc sees long ones: a head cut anywhere.
    if (lower.size() > 40) {
      std::string_view head(lower.data(), lower.size() / 2);
      if (m.predict(head) != m.predict_reference(head)) ++mismatches;
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(Classifier, PredictMatchesReferenceOnEdgeCases) {
  const auto& m = CapabilityClassifier::builtin();
  // Many short tokens: the feature cap (kMaxFeatures) drops the punctuation
  // marks once 256 tokens are seen, and keeps some when a few tokens are short of it.
  const std::string marks = " () { }; = + ^ $ \\ # ``` -> [] %";
  for (int k = 240; k <= 260; ++k) {
    std::string s;
    for (int i = 0; i < k; ++i) s += "ab ";
    s += marks;
    EXPECT_EQ(m.predict(s), m.predict_reference(s)) << k << " tokens";
  }
  // Marks cut by the kMaxChars limit: "```" and "->" straddling byte 1000.
  for (size_t pad = 990; pad <= 1002; ++pad) {
    for (std::string_view mark : {"```", "->", "()", "};", "[]", "x'y", "''z"}) {
      std::string s(pad, ' ');
      s.replace(pad - 20, 5, "hello");
      s += mark;
      s += " tail words";
      EXPECT_EQ(m.predict(s), m.predict_reference(s)) << pad << " " << mark;
    }
  }
  EXPECT_EQ(m.predict(""), Capability::kOther);
  EXPECT_EQ(m.predict(" .,!? "), m.predict_reference(" .,!? "));
  EXPECT_EQ(m.predict("{"), m.predict_reference("{"));
  EXPECT_EQ(m.predict("'''"), m.predict_reference("'''"));
}

TEST(Classifier, PredictMatchesReferenceOnRandomText) {
  const auto& m = CapabilityClassifier::builtin();
  const std::string alphabet =
      "abcdefghijklmnopqrstuvwxyz0123456789_' (){}[];=+^$\\#`->%.,!?\n\t\xc3\xa9\xe4\xb8\xad";
  Rng rng(11);
  const size_t lengths[] = {1, 2, 3, 7, 16, 17, 63, 64, 65, 300, 999, 1000, 1001, 1500};
  size_t mismatches = 0, n = 0;
  std::vector<int> seen(kCapabilityCount, 0);
  for (int i = 0; i < 4000; ++i) {
    std::string s(lengths[rng.below(std::size(lengths))], ' ');
    for (auto& c : s) c = alphabet[rng.below(alphabet.size())];
    Capability got = m.predict(s);
    mismatches += got != m.predict_reference(s);
    seen[static_cast<int>(got)] = 1;
    ++n;
  }
  EXPECT_EQ(mismatches, 0u) << "of " << n;
  // The check is not vacuous: random text lands in several classes.
  int classes = 0;
  for (int v : seen) classes += v;
  EXPECT_GE(classes, 3);
}

}  // namespace
}  // namespace dg::engine
