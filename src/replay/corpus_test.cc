#include "replay/corpus.h"

#include <gtest/gtest.h>

#include <cstdlib>

namespace dg::replay {
namespace {

Corpus make() {
  auto c = Corpus::create({
      {"How do I bake sourdough bread at home?", "Feed the starter...", "m", "s:0", ""},
      {"Write a Python function that reverses a linked list.", "def reverse(head): ...", "m", "s:1", ""},
      {"What is the capital of France?", "Paris.", "m", "s:2", ""},
      {"What is the capital of France?", "It is Paris.", "m2", "s:3", ""},
  });
  EXPECT_TRUE(c.ok());
  return std::move(c).value();
}

TEST(Corpus, ExactPromptReturnsItsRecordedAnswer) {
  const Corpus c = make();
  const Match m = c.lookup("Write a Python function that reverses a linked list.");
  EXPECT_EQ(m.kind, MatchKind::kExact);
  EXPECT_EQ(m.record->source, "s:1");
}

TEST(Corpus, ExactMatchIgnoresCaseAndWhitespace) {
  const Corpus c = make();
  const Match m = c.lookup("  how do I   bake SOURDOUGH bread at home?\n");
  EXPECT_EQ(m.kind, MatchKind::kExact);
  EXPECT_EQ(m.record->source, "s:0");
}

TEST(Corpus, UnknownPromptReturnsNearest) {
  const Corpus c = make();
  const Match m = c.lookup("reverse a linked list in python please");
  EXPECT_EQ(m.kind, MatchKind::kNearest);
  EXPECT_EQ(m.record->source, "s:1");
  EXPECT_GT(m.score, 0.3);
  EXPECT_LE(m.score, 1.0 + 1e-9);
}

TEST(Corpus, NoSharedWordFallsBackDeterministically) {
  const Corpus c = make();
  const Match a = c.lookup("zzzz qqqq");
  const Match b = c.lookup("zzzz qqqq");
  EXPECT_EQ(a.kind, MatchKind::kFallback);
  EXPECT_EQ(a.index, b.index);
}

TEST(Corpus, SamePromptGroupsRecords) {
  const Corpus c = make();
  const Match m = c.lookup("What is the capital of France?");
  EXPECT_EQ(c.same_prompt(m.index).size(), 2u);
  EXPECT_EQ(c.same_prompt(0).size(), 1u);
}

TEST(Corpus, EmptyIsAnError) { EXPECT_FALSE(Corpus::create({}).ok()); }

TEST(Corpus, LoadsShippedDataAndFindsEveryPromptExactly) {
  const char* src = std::getenv("DG_SOURCE_DIR");
  ASSERT_NE(src, nullptr);
  auto c = Corpus::load_dir(std::string(src) + "/data/teacher");
  ASSERT_TRUE(c.ok()) << c.status().to_string();
  EXPECT_GT(c->size(), 500u);
  for (size_t i = 0; i < c->size(); i += 37) {
    const Match m = c->lookup(c->records()[i].prompt);
    EXPECT_EQ(m.kind, MatchKind::kExact);
    EXPECT_EQ(m.record->prompt, c->records()[i].prompt);
  }
}

TEST(Corpus, MissingDirIsNotFound) {
  auto c = Corpus::load_dir("/nonexistent/replay/data");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace dg::replay
