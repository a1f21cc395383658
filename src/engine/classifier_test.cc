// The capability classifier's fast predict() must give the same label as the
// straightforward reference path (training's feature extraction, scalar
// accumulation) on every prompt: the embedded training prompts, prompts cut at
// and around kMaxChars, prompts past the feature cap, and random byte soup
// dense in the punctuation marks and token boundaries. Also the tokenizer
// (Tokens) that predict() and the cue scan share, and the other text scans
// features.cc runs per record, against straightforward references.
#include "engine/classifier.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "distillguard/random.h"
#include "engine/text.h"

namespace dg::engine {
namespace {

// template_keys() walks the words Tokens found instead of tokenising again:
// the same keys as the byte-by-byte walk it replaced (kept here as the
// reference), on training prompts and on random text dense in quotes,
// apostrophes inside and around words, code fences, names and numbers.
uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}
constexpr uint64_t kNum = 0x1001, kQuote = 0x1002, kName = 0x1003, kLong = 0x1004, kCode = 0x1005;
bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
bool is_word(unsigned char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '\'' || c >= 0x80;
}

TemplateKeys template_keys_reference(std::string_view t) {
  // Tokenise the raw text (case matters for names), masking as we go. Keeps:
  // the first and last kFrame masked tokens (for the distinct-template count),
  // and the first and last segments (split at . ? ! : and newlines): when a
  // segment is short boilerplate (3..16 tokens, at least 3 literal words) and
  // the prompt has more than one segment, it is a template key.
  std::array<uint64_t, kFrame> head{}, tail{};
  uint32_t count = 0;
  bool sentence_start = true;
  size_t i = 0, n = t.size();
  struct Seg {
    uint64_t h = 0x7f;
    uint32_t tokens = 0, literal = 0;
  };
  Seg first, cur;
  int segments = 0;
  bool first_done = false;
  auto close_segment = [&] {
    if (cur.tokens == 0) return;
    ++segments;
    if (!first_done) {
      first = cur;
      first_done = true;
    }
  };
  Seg last;
  auto emit = [&](uint64_t tok, bool literal) {
    if (count < kFrame) head[count] = tok;
    tail[count % kFrame] = tok;
    ++count;
    cur.h = mix(cur.h, tok);
    ++cur.tokens;
    cur.literal += literal;
  };
  auto boundary = [&] {
    if (cur.tokens) {
      close_segment();
      last = cur;
    }
    cur = Seg{};
  };
  while (i < n) {
    unsigned char c = static_cast<unsigned char>(t[i]);
    if (c == '`' && i + 2 < n && t[i + 1] == '`' && t[i + 2] == '`') {
      size_t end = t.find("```", i + 3);
      i = end == std::string_view::npos ? n : end + 3;
      boundary();
      emit(kCode, false);
      boundary();
      continue;
    }
    if (c == '"' || c == '\'') {
      // A quoted span (<= 200 chars on one line) is one variable part.
      if (c == '"' || (i > 0 && !is_word(static_cast<unsigned char>(t[i - 1])))) {
        size_t end = t.find(static_cast<char>(c), i + 1);
        if (end != std::string_view::npos && end - i <= 200 &&
            t.substr(i, end - i).find('\n') == std::string_view::npos) {
          i = end + 1;
          emit(kQuote, false);
          sentence_start = false;
          continue;
        }
      }
      ++i;
      continue;
    }
    if (!is_word(c)) {
      if (c == '.' || c == '?' || c == '!' || c == '\n' || c == ':') {
        sentence_start = true;
        boundary();
      }
      ++i;
      continue;
    }
    size_t s = i;
    bool digits = false, upper_first = c >= 'A' && c <= 'Z';
    uint64_t h = 0xcbf29ce484222325ULL;
    while (i < n && is_word(static_cast<unsigned char>(t[i]))) {
      unsigned char d = static_cast<unsigned char>(t[i]);
      digits |= is_digit(d);
      if (d >= 'A' && d <= 'Z') d = static_cast<unsigned char>(d + 32);
      h = (h ^ d) * 0x100000001b3ULL;
      ++i;
    }
    size_t len = i - s;
    uint64_t tok = h;
    bool literal = true;
    if (digits)
      tok = kNum, literal = false;
    else if (len > 18)
      tok = kLong, literal = false;
    else if (upper_first && !sentence_start)
      tok = kName, literal = false;
    emit(tok, literal);
    sentence_start = false;
  }
  boundary();
  TemplateKeys k;
  k.tokens = count;
  if (count == 0) return k;
  uint64_t hp = 0x51, hs = 0x52, hw = 0x53;
  uint32_t nh = std::min<uint32_t>(count, kFrame);
  for (uint32_t j = 0; j < nh; ++j) hp = mix(hp, head[j]);
  uint32_t nt = std::min<uint32_t>(count, kFrame);
  for (uint32_t j = 0; j < nt; ++j) hs = mix(hs, tail[(count - nt + j) % kFrame]);
  hw = mix(mix(hw, hp), hs);
  k.whole = hw | 1;
  auto boiler = [](const Seg& s) { return s.tokens >= 3 && s.tokens <= 40 && s.literal >= 3; };
  if (segments > 1) {
    if (boiler(first)) k.prefix = mix(first.h, 0xa1) | 1;
    if (boiler(last)) k.suffix = mix(last.h, 0xa2) | 1;
  }
  return k;
}

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

// Tokens (the vectorised tokenizer the cue scan and the classifier share)
// finds exactly for_each_token's tokens, with token_hash, wherever the 64-byte
// blocks cut them: leading apostrophes, runs crossing blocks, non-ASCII bytes,
// a token at the very end, NUL bytes inside the text.
std::vector<std::pair<std::string, uint64_t>> reference_tokens(std::string_view lower) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for_each_token(lower,
                 [&](std::string_view t) { out.emplace_back(std::string(t), token_hash(t)); });
  return out;
}

std::vector<std::pair<std::string, uint64_t>> fast_tokens(const Tokens& t) {
  std::vector<std::pair<std::string, uint64_t>> out;
  for (size_t i = 0; i < t.size(); ++i) {
    EXPECT_LT(t.begin(i), t.end(i));
    out.emplace_back(std::string(t.text().substr(t.begin(i), t.end(i) - t.begin(i))), t.hash(i));
  }
  return out;
}

TEST(Tokens, MatchForEachTokenOnEdgeCases) {
  Tokens t;
  std::vector<std::string> cases = {"",
                                    " ",
                                    "a",
                                    "'",
                                    "''a",
                                    "a'",
                                    "don't stop",
                                    "x'y ''z' w''",
                                    "\xc3\xa9t\xc3\xa9 caf\xc3\xa9",
                                    "a_b-c.d,e",
                                    std::string("ab\0cd", 5)};
  for (size_t len : {62, 63, 64, 65, 127, 128, 129}) {
    cases.push_back(std::string(len, 'a'));               // one token up to / across a block end
    cases.push_back(std::string(len - 1, ' ') + "word");  // a token starting at the edge
    cases.push_back(std::string(len - 2, ' ') + "''''tail");  // apostrophes across the edge
    cases.push_back(std::string(len - 1, '\'') + "x");        // a run of apostrophes, then a letter
    cases.push_back(std::string(len, '\''));                  // apostrophes only: no token
  }
  for (const auto& c : cases) {
    t.assign(c);
    EXPECT_EQ(fast_tokens(t), reference_tokens(c)) << "'" << c << "'";
  }
}

TEST(Tokens, MatchForEachTokenOnRandomText) {
  const std::string alphabet = "abz09_' .,;\n\t(){}\xc3\xa9\x80\xff-\"";
  Rng rng(5);
  Tokens t;  // reused: capacity grows and shrinks between texts
  size_t mismatches = 0, tokens = 0;
  for (int i = 0; i < 3000; ++i) {
    std::string s(rng.below(300), ' ');
    for (auto& c : s) c = alphabet[rng.below(alphabet.size())];
    t.assign(s);
    auto want = reference_tokens(s);
    mismatches += fast_tokens(t) != want;
    tokens += want.size();
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(tokens, 10000u);  // not vacuous
}

// The cue scan over shared tokens finds what the phrase list says, on token
// boundaries only, head-only cues only near the start.
TEST(Tokens, CueScanOverTokens) {
  Tokens t;
  auto cues = [&](const std::string& lower) {
    t.assign(lower);
    uint32_t c = scan_cues(t);
    EXPECT_EQ(c, scan_cues(std::string_view(lower))) << lower;
    return c;
  };
  EXPECT_EQ(cues("please think step by step."), kCueCot);
  EXPECT_EQ(cues("please think step bystep."), 0u);
  EXPECT_EQ(cues(std::string(61, 'x') + " step by step"), kCueCot);  // across a block edge
  EXPECT_EQ(cues("grade the essay, step by step"), kCueCot | kCueRubric);
  EXPECT_EQ(cues("translate this"), kCueTranslation);
  EXPECT_EQ(cues(std::string(400, ' ') + "translate this"),
            0u);  // capability cues: first 300 bytes
  EXPECT_EQ(cues("''step by step"), kCueCot);
  EXPECT_EQ(cues("step by step''"), 0u);  // the last token is "step''"
}

// PhraseMatcher over Tokens against a naive matcher: every run of 1..4
// consecutive tokens compared as text with the phrases, head-only tags
// counted when the run's last token starts within the head.
TEST(Tokens, PhraseScanMatchesNaiveMatching) {
  const std::vector<std::pair<std::string, uint32_t>> phrases = {
      {"ab", 1}, {"ab cd", 2}, {"cd ab ef", 4}, {"x y z w", 8}, {"y", 16}, {"q'", 32}};
  PhraseMatcher m{{"ab", 1}, {"ab cd", 2}, {"cd ab ef", 4}, {"x y z w", 8}, {"y", 16}, {"q'", 32}};
  const std::string_view words[] = {"ab", "cd", "ef", "x", "y", "z", "w", "q'", "abc"};
  const std::string_view seps[] = {" ", " ", ". ", "'", "\n", "  ", "-"};
  Rng rng(17);
  Tokens t;
  size_t mismatches = 0, found = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s;
    for (size_t k = rng.below(30); k > 0; --k) {
      s += words[rng.below(std::size(words))];
      s += seps[rng.below(std::size(seps))];
    }
    const size_t head = rng.below(40);
    const uint32_t head_only = 16;
    std::vector<std::pair<std::string_view, size_t>> toks;  // text, begin
    for_each_token(s, [&](std::string_view tok) { toks.emplace_back(tok, tok.data() - s.data()); });
    uint32_t want = 0;
    for (size_t j = 0; j < toks.size(); ++j) {
      std::string run;
      for (size_t k = 0; k < 4 && k <= j; ++k) {
        run = k == 0 ? std::string(toks[j].first) : std::string(toks[j - k].first) + " " + run;
        for (const auto& [p, tag] : phrases)
          if (p == run && (!(tag & head_only) || toks[j].second < head)) want |= tag;
      }
    }
    t.assign(s);
    mismatches += m.scan(t, head, head_only) != want;
    mismatches += m.scan(s, head, head_only) != want;
    found += want != 0;
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(found, 2000u);
}

// features.cc tokenises the whole window (up to 2,101 bytes) once and the
// classifier reads the first kMaxChars bytes of it: the label is the one of
// predict_reference() on the cut text, for cuts inside tokens too.
TEST(Classifier, PredictOverSharedTokensMatchesReference) {
  const auto& m = CapabilityClassifier::builtin();
  auto data = parse_labelled_tsv(builtin_training_tsv());
  Rng rng(3);
  Tokens t;
  std::string lower;
  size_t mismatches = 0, n = 0;
  for (const auto& d : data) {
    if (d.text.size() < 200) continue;
    std::string text = d.text;
    while (text.size() < 2100) text += " " + data[rng.below(data.size())].text;
    text.resize(990 + rng.below(1100));
    to_lower_ascii(text, lower);
    t.assign(lower);
    std::string_view cut(lower.data(), std::min(lower.size(), CapabilityClassifier::kMaxChars));
    mismatches += m.predict(t) != m.predict_reference(cut);
    ++n;
  }
  EXPECT_GT(n, 1000u);
  EXPECT_EQ(mismatches, 0u) << "of " << n;
  // A token crossing byte kMaxChars counts cut there.
  for (size_t pad = 995; pad <= 1001; ++pad) {
    std::string s(pad, ' ');
    s.replace(0, 5, "begin");
    s += "straddling words { here";
    t.assign(s);
    EXPECT_EQ(m.predict(t), m.predict_reference(std::string_view(s).substr(0, 1000))) << pad;
  }
}

// to_lower_ascii() (16 bytes at a time) against the scalar rule.
TEST(Text, ToLowerAsciiChangesOnlyAsciiCapitals) {
  Rng rng(21);
  std::string s, out;
  for (int i = 0; i < 2000; ++i) {
    s.resize(rng.below(70));
    for (auto& c : s)
      c = static_cast<char>(rng.below(256));  // every byte value, 16-byte blocks and tails
    to_lower_ascii(s, out);
    ASSERT_EQ(out.size(), s.size());
    for (size_t k = 0; k < s.size(); ++k) {
      const char c = s[k];
      ASSERT_EQ(out[k], c >= 'A' && c <= 'Z' ? static_cast<char>(c + 32) : c) << k;
    }
  }
}

// has_benchmark_shape() finds its line-start patterns in one pass: the same
// answers as one search per pattern (the reference below), on random text
// dense in line starts, options and slots.
bool benchmark_shape_reference(std::string_view raw) {
  int options = 0;
  for (std::string_view opt : {"\nA)", "\nB)", "\nC)", "\nD)", "\n(A)", "\n(B)", "\n(C)", "\n(D)",
                               "\nA.", "\nB.", "\nC.", "\nD."})
    options += raw.find(opt) != std::string_view::npos;
  if (options >= 3) return true;
  size_t end = raw.find_last_not_of(" \n\t");
  if (end == std::string_view::npos) return false;
  std::string_view tail = raw.substr(0, end + 1);
  if (tail.size() >= 7) {
    std::string_view last = tail.substr(tail.size() - 7);
    if (last == "Answer:" || last == "answer:") return true;
  }
  return raw.find("\nQ:") != std::string_view::npos && raw.find("\nA:") != std::string_view::npos;
}

TEST(Text, BenchmarkShapeMatchesOneSearchPerPattern) {
  const std::string_view pieces[] = {"\n", "A",  "B",       "C",       "D",     "E",
                                     "Q",  "(",  ")",       ".",       ":",     " ",
                                     "x",  "\t", "Answer:", "answer:", "\nA) ", "\n(B)"};
  Rng rng(9);
  size_t mismatches = 0, shaped = 0;
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (size_t k = rng.below(40); k > 0; --k) s += pieces[rng.below(std::size(pieces))];
    bool want = benchmark_shape_reference(s);
    mismatches += has_benchmark_shape(s) != want;
    shaped += want;
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(shaped, 1000u);  // both answers are exercised
  EXPECT_LT(shaped, 19000u);
  EXPECT_TRUE(has_benchmark_shape("Which?\nA) x\n(B) y\nC. z"));
  EXPECT_TRUE(has_benchmark_shape("Q: 1+1?\nA: 2\nQ: 2+2?\nA:"));
  EXPECT_FALSE(has_benchmark_shape("\nA)\nA)\nA)"));  // one option three times is not three options
  EXPECT_FALSE(has_benchmark_shape(""));
  EXPECT_FALSE(has_benchmark_shape("\n"));
}

bool same_keys(const TemplateKeys& a, const TemplateKeys& b) {
  return a.prefix == b.prefix && a.suffix == b.suffix && a.whole == b.whole && a.tokens == b.tokens;
}

TEST(Text, TemplateKeysOverTokensMatchReference) {
  auto data = parse_labelled_tsv(builtin_training_tsv());
  Tokens t;
  std::string lower;
  size_t mismatches = 0, keyed = 0;
  auto check = [&](std::string_view s) {
    to_lower_ascii(s, lower);
    t.assign(lower);
    TemplateKeys want = template_keys_reference(s);
    mismatches += !same_keys(template_keys(s, t), want) || !same_keys(template_keys(s), want);
    keyed += want.prefix != 0 || want.suffix != 0;
  };
  for (const auto& d : data) check(d.text);
  const std::string_view pieces[] = {"word",
                                     "Name",
                                     "x1",
                                     " ",
                                     " ",
                                     "'",
                                     "\"",
                                     "don't",
                                     "``",
                                     "`",
                                     ".",
                                     "?",
                                     ":",
                                     "\n",
                                     "a'b",
                                     "''",
                                     "Question",
                                     "answer",
                                     "the",
                                     "aaaaaaaaaaaaaaaaaaaa",
                                     "\xc3\xa9t\xc3\xa9"};
  Rng rng(13);
  for (int i = 0; i < 20000; ++i) {
    std::string s;
    for (size_t k = rng.below(60); k > 0; --k) s += pieces[rng.below(std::size(pieces))];
    check(s);
  }
  EXPECT_EQ(mismatches, 0u);
  EXPECT_GT(keyed, 1000u);  // boilerplate segments are found, so keys are compared
}

}  // namespace
}  // namespace dg::engine
