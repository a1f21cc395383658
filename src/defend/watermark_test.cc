#include "defend/watermark.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cctype>
#include <cstdlib>
#include <fstream>
#include <set>
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
      EXPECT_TRUE(out.rfind("Frequently it rains.", 0) == 0 ||
                  out.find("frequently rains") != std::string::npos)
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

std::vector<std::string> split_runs(const std::string& s) {
  std::vector<std::string> runs;
  std::string cur;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      if (!cur.empty()) runs.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  if (!cur.empty()) runs.push_back(cur);
  return runs;
}

// Letters lowercased, apostrophes (' or ’) kept as '.
std::string form_of(const std::string& run) {
  std::string out;
  for (size_t i = 0; i < run.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(run[i]);
    if (std::isalpha(c)) {
      out.push_back(static_cast<char>(std::tolower(c)));
    } else if (c == '\'' && !out.empty()) {
      out.push_back('\'');
    } else if (run.compare(i, 3, "\xe2\x80\x99") == 0 && !out.empty()) {
      out.push_back('\'');
      i += 2;
    }
  }
  while (!out.empty() && out.back() == '\'') out.pop_back();
  return out;
}

std::string join2(std::string x, const std::string& y) { return x.append(" ").append(y); }

// Aligns the runs of an original and a watermarked text. Every difference must
// be one table form replaced by another form of the same group, where a form is
// one run or two runs (a two-word member). Returns the number of replacements,
// or -1 (with a gtest failure) if some difference is not such a swap.
int aligned_swaps(const SynonymTable& t, const std::vector<std::string>& a,
                  const std::vector<std::string>& b) {
  size_t i = 0, j = 0;
  int swaps = 0;
  bool prev_equal = false;
  while (i < a.size() && j < b.size()) {
    if (a[i] == b[j]) {
      ++i, ++j;
      prev_equal = true;
      continue;
    }
    // A phrase whose first word stays ("make sure" -> "make certain").
    if (prev_equal && i + 1 <= a.size() && j + 1 <= b.size()) {
      const auto* ea = t.find(join2(form_of(a[i - 1]), form_of(a[i])));
      const auto* eb = t.find(join2(form_of(b[j - 1]), form_of(b[j])));
      if (ea != nullptr && eb != nullptr && ea->group == eb->group) {
        EXPECT_EQ(a[i].find_first_of("`\"{}[]<>0123456789@/_\\"), std::string::npos) << a[i];
        ++i, ++j, ++swaps;
        prev_equal = false;
        continue;
      }
    }
    prev_equal = false;
    bool matched = false;
    for (int pass = 0; pass < 2 && !matched;
         ++pass)  // prefer a swap after which the runs line up again
      for (int la = 1; la <= 2 && !matched; ++la) {
        for (int lb = 1; lb <= 2 && !matched; ++lb) {
          if (i + la > a.size() || j + lb > b.size()) continue;
          std::string fa = form_of(a[i]), fb = form_of(b[j]);
          if (la == 2) fa.append(" ").append(form_of(a[i + 1]));
          if (lb == 2) fb.append(" ").append(form_of(b[j + 1]));
          const auto* ea = t.find(fa);
          const auto* eb = t.find(fb);
          if (ea == nullptr || eb == nullptr || ea->group != eb->group) continue;
          // What follows must line up again (or both end).
          const bool ends = i + la == a.size() && j + lb == b.size();
          if (pass == 0 && !ends &&
              (i + la >= a.size() || j + lb >= b.size() || a[i + la] != b[j + lb]))
            continue;
          for (int k = 0; k < la; ++k) {
            EXPECT_EQ(a[i + k].find_first_of("`\"{}[]<>0123456789@/_\\"), std::string::npos)
                << a[i + k];
          }
          i += la, j += lb;
          ++swaps;
          matched = true;
        }
      }
    if (!matched) {
      ADD_FAILURE() << "not a table swap: '" << a[i] << "' -> '" << b[j] << "'";
      return -1;
    }
  }
  EXPECT_EQ(i, a.size());
  EXPECT_EQ(j, b.size());
  return swaps;
}

// On real responses: every run that differs was a plain table form (no code,
// quote, digit, URL or markup character) replaced by a form of its own group,
// line breaks are untouched, and fenced code blocks survive byte for byte.
TEST(Watermark, PropertyOnlyTableFormsChangeOnRealResponses) {
  const auto& t = SynonymTable::builtin();
  auto responses = teacher_responses();
  ASSERT_GT(responses.size(), 100u);
  int changed_total = 0;
  for (const auto& r : responses) {
    WatermarkStats st;
    std::string out = watermark_text(t, kKey, 1.0, r, &st);
    changed_total += st.changed;
    EXPECT_EQ(std::count(r.begin(), r.end(), '\n'), std::count(out.begin(), out.end(), '\n'));
    const int swaps = aligned_swaps(t, split_runs(r), split_runs(out));
    ASSERT_GE(swaps, 0);
    EXPECT_EQ(swaps, st.changed);
    size_t f = 0;
    while ((f = r.find("```", f)) != std::string::npos) {
      size_t e = r.find("```", f + 3);
      if (e == std::string::npos) break;
      EXPECT_NE(out.find(r.substr(f, e - f)), std::string::npos);
      f = e + 3;
    }
  }
  EXPECT_GT(changed_total, 300);  // 560 with the v2 table
}

// Counts the positions `text` has, and checks every key's output is one of `allowed`.
int positions_of(const std::string& text) {
  WatermarkStats st;
  watermark_text(SynonymTable::builtin(), kKey, 1.0, text, &st);
  return st.eligible;
}

std::set<std::string> outputs_over_keys(const std::string& text, int keys = 64) {
  std::set<std::string> seen;
  for (int i = 0; i < keys; ++i) {
    seen.insert(watermark_text(SynonymTable::builtin(),
                               derive_account_key("m", std::string("k").append(std::to_string(i))),
                               1.0, text));
  }
  return seen;
}

TEST(Watermark, ContractionsSwapBothWays) {
  EXPECT_EQ(outputs_over_keys("You do not need it."),
            (std::set<std::string>{"You do not need it.", "You don't need it."}));
  EXPECT_EQ(outputs_over_keys("Don't worry."),
            (std::set<std::string>{"Don't worry.", "Do not worry."}));
  EXPECT_EQ(outputs_over_keys("It is a tool"),
            (std::set<std::string>{"It is a tool", "It's a tool"}));
  EXPECT_EQ(outputs_over_keys("Here's a plan"),
            (std::set<std::string>{"Here's a plan", "Here is a plan"}));
  EXPECT_EQ(outputs_over_keys("so I am sure"),
            (std::set<std::string>{"so I am sure", "so I'm sure"}));
  EXPECT_EQ(outputs_over_keys("We cannot stop."),
            (std::set<std::string>{"We cannot stop.", "We can't stop."}));
  EXPECT_EQ(outputs_over_keys("For example, this"),
            (std::set<std::string>{"For example, this", "For instance, this"}));
  // A text written with ’ gets ’ in the contractions the watermark writes.
  EXPECT_EQ(
      outputs_over_keys("I can’t say. It does not work"),
      (std::set<std::string>{"I can’t say. It does not work", "I can’t say. It doesn’t work",
                             "I cannot say. It does not work", "I cannot say. It doesn’t work"}));
}

TEST(Watermark, HaveContractsOnlyAsAuxiliary) {
  EXPECT_EQ(outputs_over_keys("You have seen it"),
            (std::set<std::string>{"You have seen it", "You've seen it"}));
  EXPECT_EQ(outputs_over_keys("We've added the tests"),
            (std::set<std::string>{"We've added the tests", "We have added the tests"}));
  EXPECT_EQ(positions_of("You have two options"), 0);
  EXPECT_EQ(positions_of("We have advanced features"), 0);
}

// Reference vectors of SipHash-2-4 (Aumasson & Bernstein, appendix A): key
// 00 01 … 0f, messages 00 01 … (n-1).
TEST(Watermark, SipHashMatchesReferenceVectors) {
  uint8_t key[16];
  for (int i = 0; i < 16; ++i) key[i] = static_cast<uint8_t>(i);
  std::string msg;
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  EXPECT_EQ(siphash24(key, ""), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(siphash24(key, std::string_view(msg).substr(0, 8)), 0x93f5f5799a932462ULL);
  EXPECT_EQ(siphash24(key, msg), 0xa129ca6149be45e5ULL);
}

TEST(Watermark, ContractionRulesSkipUnsafeForms) {
  for (const char* text : {
           "I know what it is.",          // clause-final
           "Leave it the way it is now",  // stranded
           "As they are seen",            // stranded after "as"
           "Don't you see",               // inversion: "Do not you" is wrong
           "It works, doesn't it",        // tag question
           "Isn't the sky blue",          // sentence-initial inversion before a determiner
           "It's been a while",           // 's = has
           "It's already gone",           // 's = has, after an adverb
           "It's changed a lot",          // 's = has (-ed)
           "The code here is fine",       // locative "here"
           "That is, we stop",            // "that is," = i.e.
           "What is it",                  // stranded subject
           "it isn't easy",               // belongs to the "it is" unit when expanded
           "i am here",                   // lowercase i: left alone
           "an instance of the class",    // "instance" alone is not in the table
           "Let's go and let us know",    // let's is not listed
       }) {
    EXPECT_EQ(positions_of(text), 0) << text;
  }
}

TEST(Watermark, ContractionsNeverTouchProtectedSpans) {
  const std::string text =
      "```\nit is do not don't\n```\n`don't` \"do not\" “it is” 'don't' {\"k\": \"it is\"}\n"
      "    it is indented\n> do not quote\nit's_x don't2 do-not can't/cannot\n";
  WatermarkStats st;
  std::string out = watermark_text(SynonymTable::builtin(), kKey, 1.0, text, &st);
  EXPECT_EQ(st.eligible, 0);
  EXPECT_EQ(out, text);
}

// Units split at every byte boundary give the same text as the whole.
TEST(Watermark, ContractionsStreamedByteByByte) {
  const std::string text =
      "It is a plan. You do not need it, and here is why: I am sure it's fine. For example, we "
      "cannot "
      "stop; they are ready, don't worry. There is more. It is";
  for (int k = 0; k < 16; ++k) {
    const auto key = derive_account_key("m", std::string("s").append(std::to_string(k)));
    const std::string whole = watermark_text(SynonymTable::builtin(), key, 1.0, text);
    Watermarker w(SynonymTable::builtin(), key, 1.0);
    std::string out;
    for (char c : text) w.feed(std::string_view(&c, 1), out);
    w.finish(out);
    EXPECT_EQ(out, whole);
  }
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
  EXPECT_EQ(sm.green, sm.positions)
      << sm.positions << " " << sc.positions << " " << marked.positions().size();
  EXPECT_LT(sm.p_value, 1e-6);
  EXPECT_GT(sc.p_value, 1e-3);
  // A wrong key sees nothing in the watermarked text.
  auto other =
      score_positions(marked.positions(), derive_account_key("master-secret", "acct-2"), 0.5);
  EXPECT_GT(other.p_value, 1e-3);
}

// Pins the marked text of every shipped teacher answer (data/teacher, 822
// answers) at the strengths the policy ships (0.5 throttle/degrade, 1.0 trace),
// whole and streamed in 1-7 byte pieces, and the positions the detector
// extracts: speed work on the scanner must not change one byte. The digests
// change only when the scheme, the synonym table or the answers change; then
// re-pin them from a build of the previous commit, not from the new code.
TEST(Watermark, PinnedOutputOnRealAnswers) {
  const auto& t = SynonymTable::builtin();
  const auto responses = teacher_responses();
  ASSERT_EQ(responses.size(), 822u);
  struct Pin {
    double strength;
    const char* digest;  // SHA-256 of the marked answers, each followed by 0x1e
    int eligible;
    int changed;
  };
  const Pin pins[] = {
      {0.5, "b3fb0bcaaa5d2f12fc19eea812d132cf02e32c0244fb6bf85e571aa79fea627b", 1299, 269},
      {1.0, "519768469dbd5d724b3a54cf374894b6f6f760af4f8531391f76010ed8dac2e8", 1299, 560}};
  for (const Pin& pin : pins) {
    std::string all, streamed_all;
    int eligible = 0, changed = 0;
    for (size_t n = 0; n < responses.size(); ++n) {
      const std::string& r = responses[n];
      WatermarkStats st;
      all += watermark_text(t, kKey, pin.strength, r, &st);
      all += '\x1e';
      eligible += st.eligible;
      changed += st.changed;
      Watermarker w(t, kKey, pin.strength);
      for (size_t pos = 0, len = 1; pos < r.size(); pos += len, len = len % 7 + 1) {
        w.feed(std::string_view(r).substr(pos, len), streamed_all);
      }
      w.finish(streamed_all);
      streamed_all += '\x1e';
    }
    EXPECT_EQ(sha256_hex(all), pin.digest) << "strength " << pin.strength;
    EXPECT_EQ(streamed_all, all) << "strength " << pin.strength;
    EXPECT_EQ(eligible, pin.eligible) << "strength " << pin.strength;
    EXPECT_EQ(changed, pin.changed) << "strength " << pin.strength;
  }
  PositionExtractor clean(t);
  for (const auto& r : responses) clean.add_text(r);
  std::string positions;
  for (const Position& p : clean.positions()) {
    positions +=
        p.context + '\x1f' + std::to_string(p.group) + ':' + std::to_string(p.member) + '\n';
  }
  EXPECT_EQ(sha256_hex(positions),
            "946227a4375257d346d7ac92e1776392a4c58b1c46e18eb73ee2540730f973e4")
      << clean.positions().size() << " positions";
}

TEST(Watermark, PoissonBinomialMatchesBinomial) {
  std::vector<double> p(10, 0.5);
  EXPECT_NEAR(poisson_binomial_upper_tail(p, 10), 1.0 / 1024, 1e-12);
  EXPECT_NEAR(poisson_binomial_upper_tail(p, 0), 1.0, 1e-12);
  EXPECT_NEAR(poisson_binomial_upper_tail(p, 5), 638.0 / 1024, 1e-12);
}

}  // namespace
}  // namespace dg::defend
