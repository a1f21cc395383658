#include "defend/watermark.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "distillguard/random.h"

namespace dg::defend {
namespace {

std::vector<std::string> teacher_responses() {
  const char* src = std::getenv("DG_SOURCE_DIR");
  std::ifstream in(std::string(src ? src : ".") + "/data/teacher/teacher.jsonl");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line)) {
    auto v = boost::json::parse(line);
    out.emplace_back(v.at("response").as_string().c_str());
  }
  return out;
}

const WatermarkKey kKey = derive_account_key("master-secret", "acct-1");

TEST(SynonymTable, BuiltinParsesAndIsDisjoint) {
  const auto& t = SynonymTable::builtin();
  EXPECT_GT(t.group_count(), 100u);
  const auto* e = t.find("often");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(t.group(e->group)[e->member], "often");
  EXPECT_EQ(t.find("the"), nullptr);
}

TEST(SynonymTable, RejectsWordInTwoGroups) {
  EXPECT_FALSE(SynonymTable::parse("a\tb\nb\tc\n").ok());
  EXPECT_FALSE(SynonymTable::parse("solo\n").ok());
  EXPECT_FALSE(SynonymTable::parse("Big\tlarge\n").ok());
  EXPECT_TRUE(SynonymTable::parse("# c\nbig\tlarge\n").ok());
}

TEST(Watermark, ChangesEligibleWordsKeepingCase) {
  const auto& t = SynonymTable::builtin();
  // At strength 1 every eligible word becomes its green member: try keys until
  // one changes the word, to show case is kept.
  bool saw_change = false;
  for (int i = 0; i < 40 && !saw_change; ++i) {
    std::string account = "a";
    account += std::to_string(i);
    auto key = derive_account_key("m", account);
    WatermarkStats st;
    std::string out = watermark_text(t, key, 1.0, "Often it rains. It often rains.", &st);
    EXPECT_EQ(st.eligible, 2);
    if (st.changed > 0) {
      saw_change = true;
      EXPECT_TRUE(out.rfind("Frequently it rains.", 0) == 0 || out.find("frequently rains") != std::string::npos)
          << out;
    }
  }
  EXPECT_TRUE(saw_change);
}

TEST(Watermark, NeverTouchesProtectedSpans) {
  const auto& t = SynonymTable::builtin();
  const std::string text =
      "```\noften often\n```\n`often` \"often quickly\" “often” {\"k\": \"often\"}\n"
      "    often indented\n> often quoted\nhttp://often.com often@x.org often2 New York Often\n";
  WatermarkStats st;
  std::string out = watermark_text(t, kKey, 1.0, text, &st);
  EXPECT_EQ(st.eligible, 0);
  EXPECT_EQ(out, text);
}

std::vector<std::string> split_runs(const std::string& s, std::string* spaces) {
  std::vector<std::string> runs;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      spaces->push_back(c);
      if (!cur.empty()) runs.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) runs.push_back(cur);
  return runs;
}

std::string letters_lower(const std::string& run) {
  std::string out;
  for (char c : run) {
    if (std::isalpha(static_cast<unsigned char>(c))) out.push_back(static_cast<char>(std::tolower(c)));
  }
  return out;
}

// On real responses: whitespace is untouched, and every run that differs was a
// plain table word (no code, quote, digit, URL or markup character) replaced by
// a member of its own group. Fenced code blocks survive byte for byte.
TEST(Watermark, PropertyOnlyTableWordsChangeOnRealResponses) {
  const auto& t = SynonymTable::builtin();
  auto responses = teacher_responses();
  ASSERT_GT(responses.size(), 100u);
  int changed_total = 0;
  for (const auto& r : responses) {
    WatermarkStats st;
    std::string out = watermark_text(t, kKey, 1.0, r, &st);
    changed_total += st.changed;
    std::string sp_in, sp_out;
    auto a = split_runs(r, &sp_in), b = split_runs(out, &sp_out);
    ASSERT_EQ(sp_in, sp_out);
    ASSERT_EQ(a.size(), b.size());
    int diffs = 0;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i] == b[i]) continue;
      ++diffs;
      EXPECT_EQ(a[i].find_first_of("`\"'{}[]<>0123456789@/_\\"), std::string::npos) << a[i];
      const auto* ea = t.find(letters_lower(a[i]));
      const auto* eb = t.find(letters_lower(b[i]));
      ASSERT_NE(ea, nullptr) << a[i];
      ASSERT_NE(eb, nullptr) << b[i];
      EXPECT_EQ(ea->group, eb->group);
    }
    EXPECT_EQ(diffs, st.changed);
    size_t f = 0;
    while ((f = r.find("```", f)) != std::string::npos) {
      size_t e = r.find("```", f + 3);
      if (e == std::string::npos) break;
      EXPECT_NE(out.find(r.substr(f, e - f)), std::string::npos);
      f = e + 3;
    }
  }
  EXPECT_GT(changed_total, 50);
}

TEST(Watermark, StreamedEqualsWholeUnderRandomChunkings) {
  const auto& t = SynonymTable::builtin();
  auto responses = teacher_responses();
  Rng rng(7);
  for (size_t n = 0; n < responses.size(); n += 3) {
    const std::string& r = responses[n];
    const std::string whole = watermark_text(t, kKey, 0.7, r);
    Watermarker w(t, kKey, 0.7);
    std::string out;
    size_t pos = 0;
    while (pos < r.size()) {
      size_t len = 1 + rng.below(12);
      w.feed(std::string_view(r).substr(pos, len), out);
      pos += len;
    }
    w.finish(out);
    ASSERT_EQ(out, whole) << "response " << n;
  }
}

TEST(Watermark, DetectsWatermarkedAndNotCleanText) {
  const auto& t = SynonymTable::builtin();
  auto responses = teacher_responses();
  PositionExtractor clean(t), marked(t);
  for (const auto& r : responses) {
    clean.add_text(r);
    marked.add_text(watermark_text(t, kKey, 0.5, r));
  }
  auto sm = score_positions(marked.positions(), kKey, 0.5);
  auto sc = score_positions(clean.positions(), kKey, 0.5);
  EXPECT_EQ(sm.green, sm.positions) << sm.positions << " " << sc.positions << " " << marked.positions().size();
  EXPECT_LT(sm.p_value, 1e-6);
  EXPECT_GT(sc.p_value, 1e-3);
  // A wrong key sees nothing in the watermarked text.
  auto other = score_positions(marked.positions(), derive_account_key("master-secret", "acct-2"), 0.5);
  EXPECT_GT(other.p_value, 1e-3);
}

TEST(Watermark, PoissonBinomialMatchesBinomial) {
  std::vector<double> p(10, 0.5);
  EXPECT_NEAR(poisson_binomial_upper_tail(p, 10), 1.0 / 1024, 1e-12);
  EXPECT_NEAR(poisson_binomial_upper_tail(p, 0), 1.0, 1e-12);
  EXPECT_NEAR(poisson_binomial_upper_tail(p, 5), 638.0 / 1024, 1e-12);
}

}  // namespace
}  // namespace dg::defend
