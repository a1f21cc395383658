#include "defend/watermark.h"

#include <array>
#include <cmath>
#include <cstring>

namespace dg::defend {
namespace {

// Character classes, one table lookup per byte (the scanner runs on every
// streamed token).
enum : uint8_t { kAlpha = 1, kUpper = 2, kDigit = 4, kSpace = 8, kSpecial = 16, kStateChar = 32 };
constexpr std::array<uint8_t, 256> make_classes() {
  std::array<uint8_t, 256> t{};
  for (int c = 'a'; c <= 'z'; ++c) t[c] = kAlpha;
  for (int c = 'A'; c <= 'Z'; ++c) t[c] = kAlpha | kUpper;
  // Runs containing a digit, a non-ASCII byte or any of these are never
  // edited: code, markup, paths, e-mail, URLs, numbers, identifiers, quotations.
  for (int c = '0'; c <= '9'; ++c) t[c] = kDigit | kSpecial;
  for (int c = 0x80; c < 0x100; ++c) t[c] = kSpecial;
  for (char c : std::string_view("`\"'{}[]<>@/\\_=#$%&|~^+"))
    t[static_cast<unsigned char>(c)] = kSpecial;
  for (char c : std::string_view(" \t\n\r")) t[static_cast<unsigned char>(c)] = kSpace;
  // Bytes that change the protection state (inline code, JSON, quotes, “ ”).
  for (char c : std::string_view("`{}\"")) t[static_cast<unsigned char>(c)] |= kStateChar;
  t[0xe2] |= kStateChar;
  return t;
}
constexpr std::array<uint8_t, 256> kClasses = make_classes();
inline uint8_t cls(char c) { return kClasses[static_cast<unsigned char>(c)]; }

bool is_space(char c) { return (cls(c) & kSpace) != 0; }
bool is_alpha(char c) { return (cls(c) & kAlpha) != 0; }
bool is_digit(char c) { return (cls(c) & kDigit) != 0; }
bool is_upper(char c) { return (cls(c) & kUpper) != 0; }
char to_lower(char c) { return is_upper(c) ? static_cast<char>(c - 'A' + 'a') : c; }
bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }
bool is_special(char c) { return (cls(c) & kSpecial) != 0; }

// Length of an apostrophe at s[k]: 1 for ', 3 for ’ (U+2019), else 0.
size_t apostrophe_len(std::string_view s, size_t k) {
  if (s[k] == '\'') return 1;
  if (s[k] == '\xe2' && k + 2 < s.size() && s[k + 1] == '\x80' && s[k + 2] == '\x99') return 3;
  return 0;
}

// The first word of a run, lowercased: leading non-letters skipped, up to the
// first non-letter ("**Very**" -> "very", "it's" -> "it"). Invariant under the
// watermark's own contractions and expansions of that run.
std::string_view head_of(std::string_view run, std::string& buf) {
  buf.clear();
  size_t k = 0;
  while (k < run.size() && !is_alpha(run[k])) ++k;
  while (k < run.size() && is_alpha(run[k])) buf.push_back(to_lower(run[k++]));
  return buf;
}

template <size_t N>
bool in(const std::string_view (&set)[N], std::string_view w) {
  for (std::string_view s : set) {
    if (s == w) return true;
  }
  return false;
}

// Word lists of the contraction rules (docs/countermeasures.md, "Contractions").
constexpr std::string_view kSubjects[] = {"it", "that", "there", "here", "what", "you",
                                          "we", "they", "i",     "he",   "she"};
constexpr std::string_view kInversionPronouns[] = {"i",  "you", "we", "they",
                                                   "he", "she", "it", "there"};
constexpr std::string_view kDeterminers[] = {
    "the", "a",      "an",       "this",    "that",     "these",      "those",  "your",
    "my",  "our",    "their",    "his",     "her",      "its",        "any",    "some",
    "all", "anyone", "everyone", "someone", "anything", "everything", "people", "one"};
constexpr std::string_view kInversionContexts[] = {"why", "how",   "what", "where", "when",
                                                   "who", "which", "nor",  "so",    "neither"};
constexpr std::string_view kStrandingContexts[] = {
    "what",    "where",     "who",   "whom", "how", "whatever", "wherever", "whoever",
    "however", "whichever", "which", "than", "as",  "why",      "way"};
constexpr std::string_view kThereContexts[] = {
    "if",   "and",     "but",    "because",  "since",  "when",  "while", "that",
    "or",   "whether", "unless", "although", "though", "where", "then",  "until",
    "once", "before",  "after",  "so",       "also",   "now"};
constexpr std::string_view kStopAfterSubject[] = {
    "",        "it",       "this",      "that",    "these", "those",  "they",   "he",
    "she",     "you",      "we",        "i",       "them",  "there",  "here",   "now",
    "today",   "tomorrow", "yesterday", "too",     "again", "anyway", "though", "yet",
    "anymore", "either",   "still",     "instead", "to",    "then"};
constexpr std::string_view kGapAdverbs[] = {"already", "just", "never", "always", "also", "not",
                                            "still",   "ever", "since", "even",   "only", "long",
                                            "both",    "all",  "now",   "often",  "yet"};
constexpr std::string_view kIrregularParticiples[] = {
    "been",   "had",     "got",    "become", "come",  "done",  "gone",       "made",   "put",
    "set",    "let",     "cut",    "hit",    "run",   "read",  "left",       "kept",   "brought",
    "bought", "thought", "taught", "caught", "found", "held",  "built",      "sent",   "spent",
    "lost",   "won",     "begun",  "sung",   "grown", "known", "shown",      "drawn",  "thrown",
    "flown",  "said",    "paid",   "laid",   "told",  "sold",  "heard",      "meant",  "felt",
    "dealt",  "led",     "fed",    "met",    "sat",   "stood", "understood", "struck", "stuck",
    "hung",   "dug",     "spun",   "swung",  "slept", "swept", "lent",       "bent",   "burnt",
    "learnt", "dreamt",  "spelt",  "upset",  "shut",  "hurt",  "quit",       "split",  "spread",
    "cost",   "worn",    "torn",   "sworn",  "born",  "borne", "blown"};

constexpr std::string_view kEnParticiples[] = {
    "been",        "seen",      "taken",     "given",    "written",   "spoken",     "chosen",
    "broken",      "forgotten", "gotten",    "hidden",   "driven",    "eaten",      "fallen",
    "beaten",      "proven",    "woken",     "stolen",   "frozen",    "shaken",     "risen",
    "ridden",      "bitten",    "forbidden", "mistaken", "overtaken", "undertaken", "rewritten",
    "overwritten", "done",      "gone"};
// Words after "<subject> have <-ed word>" that show the -ed word is a verb with an object.
constexpr std::string_view kObjects[] = {
    "the",   "a",   "an",  "this", "that",  "these",   "those", "your", "my",  "our",
    "their", "his", "her", "its",  "it",    "them",    "me",    "us",   "him", "you",
    "some",  "all", "any", "each", "every", "several", "many",  "both"};
bool ends_with(std::string_view s, std::string_view p) {
  return s.size() >= p.size() && s.substr(s.size() - p.size()) == p;
}
bool gap_adverb(std::string_view h) { return in(kGapAdverbs, h) || ends_with(h, "ly"); }

}  // namespace

WatermarkKey derive_account_key(std::string_view master_secret, std::string_view account) {
  std::string msg = "distillguard/watermark/v2/account:";
  msg.append(account);
  return hmac_sha256(master_secret, msg);
}

namespace {
inline uint64_t rotl(uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }
inline uint64_t load_le64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}
}  // namespace

uint64_t siphash24(const uint8_t key[16], std::string_view msg) {
  const uint64_t k0 = load_le64(key), k1 = load_le64(key + 8);
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  const auto round = [&] {
    v0 += v1, v1 = rotl(v1, 13), v1 ^= v0, v0 = rotl(v0, 32);
    v2 += v3, v3 = rotl(v3, 16), v3 ^= v2;
    v0 += v3, v3 = rotl(v3, 21), v3 ^= v0;
    v2 += v1, v1 = rotl(v1, 17), v1 ^= v2, v2 = rotl(v2, 32);
  };
  const auto* p = reinterpret_cast<const uint8_t*>(msg.data());
  const size_t n = msg.size();
  const size_t full = n & ~static_cast<size_t>(7);
  for (size_t i = 0; i < full; i += 8) {
    const uint64_t m = load_le64(p + i);
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
  uint64_t last = static_cast<uint64_t>(n & 0xff) << 56;
  for (size_t i = 0; i < (n & 7); ++i) last |= static_cast<uint64_t>(p[full + i]) << (8 * i);
  v3 ^= last;
  round();
  round();
  v0 ^= last;
  v2 ^= 0xff;
  round();
  round();
  round();
  round();
  return v0 ^ v1 ^ v2 ^ v3;
}

PositionHash position_hash(const WatermarkKey& key, std::string_view context, uint32_t group,
                           uint32_t k) {
  // Message: context ‖ 0x1f ‖ group (4 bytes, little-endian). Built on the
  // stack for ordinary contexts (a run is rarely longer than 100 bytes).
  char stack[128];
  std::string heap;
  char* m = stack;
  const size_t len = context.size() + 5;
  if (len > sizeof(stack)) {
    heap.resize(len);
    m = heap.data();
  }
  std::memcpy(m, context.data(), context.size());
  m[context.size()] = '\x1f';
  for (int i = 0; i < 4; ++i)
    m[context.size() + 1 + i] = static_cast<char>((group >> (8 * i)) & 0xff);
  const uint64_t h = siphash24(key.data(), std::string_view(m, len));
  return {static_cast<double>(h >> 32) * 0x1.0p-32, static_cast<uint32_t>((h & 0xffffffffULL) % k)};
}

void WordScanner::feed(std::string_view in, std::string& out) {
  if (in.empty()) {
    if (need_ == 0) drain(out, false);
    return;
  }
  if (start_ >= kCompactAt) {  // drop what was emitted, now and then rather than at every run
    buf_.erase(0, start_);
    start_ = 0;
  }
  buf_.append(in);
  // Nothing can be decided until `need_` more runs have ended (a run ends at
  // the whitespace after it): count those ends in the new bytes only, and only
  // until enough have arrived, so a stream cut into small chunks is not
  // rescanned chunk after chunk.
  bool last_space = last_was_space_;
  for (size_t k = 0; k < in.size() && need_ > 0; ++k) {
    const bool space = is_space(in[k]);
    if (space && !last_space) --need_;
    last_space = space;
  }
  last_was_space_ = is_space(in.back());
  if (need_ > 0) return;
  drain(out, false);
}

void WordScanner::finish(std::string& out) { drain(out, true); }

void WordScanner::drain(std::string& out, bool final) {
  size_t i = start_;
  const size_t n = buf_.size();
  while (i < n) {
    if (is_space(buf_[i])) {
      const size_t s = i;
      do {
        on_space(buf_[i++]);
      } while (i < n && is_space(buf_[i]));
      out.append(buf_, s, i - s);
      continue;
    }
    size_t j = i;
    uint8_t classes = 0;  // union of the run's character classes
    for (uint8_t c; j < n && ((c = cls(buf_[j])) & kSpace) == 0; ++j) classes |= c;
    if (j == n && !final) {  // unfinished run: hold back until a boundary arrives
      need_ = 1;
      break;
    }
    const size_t end = process_run(i, j, classes, final, out);
    if (end == kNeedMore) {  // a unit's lookahead has not arrived yet
      need_ = lookahead_missing_;
      break;
    }
    i = end;
  }
  if (final) need_ = 0;
  start_ = i;
  if (start_ == n) {
    buf_.clear();
    start_ = 0;
  }
}

void WordScanner::reset() {
  buf_.clear();
  start_ = 0;
  prev_.clear();
  at_line_start_ = true;
  line_indent_ = 0;
  line_protected_ = false;
  in_fence_ = false;
  inline_code_ = false;
  in_quote_ = false;
  curly_quote_ = 0;
  brace_depth_ = 0;
  sentence_start_ = true;
  curly_apostrophe_ = false;
  need_ = 0;
  last_was_space_ = true;
}

void WordScanner::on_space(char c) {
  if (c == '\n') {
    if (at_line_start_ && !in_fence_) {
      // A blank line ends a paragraph: an unbalanced quote, backtick or brace
      // in one paragraph must not silence the rest of the text.
      inline_code_ = false;
      in_quote_ = false;
      curly_quote_ = 0;
      brace_depth_ = 0;
    }
    at_line_start_ = true;
    line_indent_ = 0;
    line_protected_ = false;
    sentence_start_ = true;
  } else if (at_line_start_ && c != '\r') {
    line_indent_ += c == '\t' ? 4 : 1;
  }
}

bool WordScanner::unit_allowed(const SynonymTable::GroupInfo& gi, bool trailing_punct,
                               std::string_view next1, std::string_view next2,
                               bool have_next1) const {
  std::string b1, b2;  // short words: no allocation (small-string buffer)
  const std::string_view h1 = head_of(next1, b1);
  // A word that reads as a past participle (or is a table word, whose form the
  // watermark may change), so that 's could mean "has".
  const auto participle_like = [this](std::string_view h) {
    return in(kIrregularParticiples, h) || ends_with(h, "ed") || ends_with(h, "en") ||
           table_.find(h) != nullptr || table_.starts_unit(h);
  };
  const auto table_word = [this](std::string_view h) {
    return table_.find(h) != nullptr || table_.starts_unit(h);
  };
  const auto participle_strict = [&](std::string_view h) {
    return !table_word(h) && (in(kIrregularParticiples, h) || in(kEnParticiples, h));
  };
  switch (gi.kind) {
    case GroupKind::kWord:
    case GroupKind::kPhrase:
      return true;
    case GroupKind::kNegation:
      // "it is not" is an "it is" unit; "it isn't" must not become one when expanded.
      if (gi.aux_contracts && in(kSubjects, prev_)) return false;
      // Inversion and tag questions: "Don't you…?", "…, isn't it?" cannot expand.
      if (in(kInversionPronouns, h1)) return false;
      if ((sentence_start_ || in(kInversionContexts, prev_)) && in(kDeterminers, h1)) return false;
      return true;
    case GroupKind::kSubject:
      // "it's" never ends a clause; "…what it is." / "as they are," cannot contract.
      if (trailing_punct || !have_next1) return false;
      if (in(kStrandingContexts, prev_)) return false;
      if (gi.first == "here" && !sentence_start_) return false;  // "the code here is…"
      if (gi.first == "there" && !(sentence_start_ || in(kThereContexts, prev_))) return false;
      if (in(kStopAfterSubject, h1)) return false;  // "…the way it is now", "What is it?"
      if (gi.has_ve) {
        // "have" contracts only as an auxiliary: "you've seen", "we've added the", "I've
        // already done"; never "you have two options" or "we have advanced features".
        const bool aux =
            participle_strict(h1) ||
            (ends_with(h1, "ed") && !table_word(h1) && in(kObjects, head_of(next2, b2))) ||
            (gap_adverb(h1) && participle_strict(head_of(next2, b2)));
        if (!aux) return false;
      }
      if (gi.has_s) {
        // 's is also "has": "it's been", "it's changed", "it's already gone".
        if (participle_like(h1)) return false;
        if (gap_adverb(h1) && participle_like(head_of(next2, b2))) return false;
      }
      return true;
  }
  return false;
}

size_t WordScanner::process_run(size_t i, size_t j, uint8_t classes, bool final, std::string& out) {
  const std::string_view tok = std::string_view(buf_).substr(i, j - i);
  // The form: letters (and one inner apostrophe) between leading and trailing punctuation.
  size_t a = 0, b = tok.size();
  while (a < b && !is_alpha(tok[a])) ++a;
  while (b > a && !is_alpha(tok[b - 1])) --b;
  const std::string_view core = tok.substr(a, b - a);
  size_t apos_at = std::string_view::npos, apos_len = 0;
  bool form_ok = !core.empty();
  const bool capitalised = form_ok && is_upper(core[0]);
  // Most runs are no table form: a (first letter, last letter, length) mask
  // answers that without building the lowercase form or hashing it. A run
  // without special bytes has no apostrophe, so its form length is known now.
  if (form_ok && (classes & kSpecial) == 0) {
    form_ok = table_.may_contain(to_lower(core.front()), to_lower(core.back()), core.size());
  }
  for (size_t k = 0; k < core.size() && form_ok; ++k) {
    const char c = core[k];
    if (is_alpha(c)) {
      if (k > 0 && is_upper(c)) form_ok = false;  // acronyms, CamelCase
    } else if (const size_t len = apostrophe_len(core, k);
               len > 0 && apos_at == std::string_view::npos && k > 0 && k + len < core.size() &&
               is_alpha(core[k + len])) {
      apos_at = a + k;
      apos_len = len;
      k += len - 1;
    } else {
      form_ok = false;
    }
  }
  const size_t form_len = core.size() - (apos_len > 1 ? apos_len - 1 : 0);
  form_ok = form_ok && table_.may_contain(to_lower(core.front()), to_lower(core.back()), form_len);
  if (form_ok) {
    lower_.clear();
    for (size_t k = 0; k < core.size(); ++k) {
      if (a + k == apos_at) {
        lower_.push_back('\'');
        k += apos_len - 1;
      } else {
        lower_.push_back(to_lower(core[k]));
      }
    }
  }
  // Does this run need lookahead (a two-word unit, a contraction's rules)?
  const SynonymTable::Entry* raw = form_ok ? table_.lookup(lower_) : nullptr;
  const SynonymTable::Entry* entry =
      raw != nullptr && raw->group != SynonymTable::kNoGroup ? raw : nullptr;
  const bool starts_unit =
      raw != nullptr && raw->starts_unit && apos_at == std::string_view::npos && b == tok.size();
  const bool needs_next =
      starts_unit || (entry != nullptr && table_.info(entry->group).kind != GroupKind::kWord);
  size_t nb[3] = {0, 0, 0}, ne[3] = {0, 0, 0};  // next runs [nb, ne)
  int have = 0;
  if (needs_next) {
    const size_t n = buf_.size();
    size_t p = j;
    for (; have < 3; ++have) {
      size_t s = p;
      while (s < n && is_space(buf_[s])) ++s;
      if (s == n) {
        if (!final) {
          lookahead_missing_ = 3 - have;
          return kNeedMore;
        }
        break;
      }
      size_t e = s;
      while (e < n && !is_space(buf_[e])) ++e;
      if (e == n && !final) {
        lookahead_missing_ = 3 - have;
        return kNeedMore;
      }
      nb[have] = s;
      ne[have] = e;
      p = e;
    }
  }

  // Protection state.
  if (at_line_start_) {
    at_line_start_ = false;
    if (starts_with(tok, "```") || starts_with(tok, "~~~")) {
      in_fence_ = !in_fence_;
      line_protected_ = true;
    } else if (in_fence_ || line_indent_ >= 4 || tok[0] == '>') {
      line_protected_ = true;
    }
  }
  bool eligible = !(in_fence_ || line_protected_ || inline_code_ || in_quote_ || curly_quote_ > 0 ||
                    brace_depth_ > 0);
  if (!in_fence_ && !line_protected_ && (classes & (kSpecial | kStateChar)) != 0) {
    for (size_t k = 0; k < tok.size(); ++k) {
      const char c = tok[k];
      if (k == apos_at) {  // the contraction's apostrophe is not a quotation mark
        curly_apostrophe_ = apos_len == 3;
        k += apos_len - 1;
        continue;
      }
      if (is_special(c)) eligible = false;
      if (c == '`') {
        inline_code_ = !inline_code_;
      } else if (inline_code_) {
        continue;
      } else if (c == '{') {
        ++brace_depth_;
      } else if (c == '}') {
        if (brace_depth_ > 0) --brace_depth_;
      } else if (c == '"' && brace_depth_ == 0) {
        in_quote_ = !in_quote_;
      } else if (c == '\xe2' && k + 2 < tok.size() && tok[k + 1] == '\x80') {
        if (tok[k + 2] == '\x9c') ++curly_quote_;                      // “
        if (tok[k + 2] == '\x9d' && curly_quote_ > 0) --curly_quote_;  // ”
      }
    }
  }
  const bool pronoun_i =
      core.size() >= 1 && core[0] == 'I' && (core.size() == 1 || !is_alpha(core[1]));
  if (capitalised && !sentence_start_ && !pronoun_i) eligible = false;  // names

  // Which unit, if any: a two-word form (this run + the next), or this run alone.
  size_t end = j;               // consumed up to here
  std::string_view last = tok;  // the unit's last run (trailing punctuation, sentence end)
  size_t last_b = b;            // end of the form in `last`
  int next_at = 0;              // index of the first lookahead run after the unit
  const SynonymTable::Entry* unit = nullptr;
  if (eligible && form_ok) {
    if (starts_unit && have > 0 && nb[0] == j + 1 && buf_[j] == ' ') {
      const std::string_view r2 = std::string_view(buf_).substr(nb[0], ne[0] - nb[0]);
      size_t b2 = 0;
      while (b2 < r2.size() && r2[b2] >= 'a' && r2[b2] <= 'z') ++b2;
      bool r2_ok = b2 > 0;
      for (size_t k = b2; k < r2.size() && r2_ok; ++k)
        r2_ok = !is_alpha(r2[k]) && !is_special(r2[k]);
      if (r2_ok) {
        scratch_key_.assign(lower_);
        scratch_key_.push_back(' ');
        scratch_key_.append(r2.substr(0, b2));
        unit = table_.find(scratch_key_);
        if (unit != nullptr) {
          end = ne[0];
          last = r2;
          last_b = b2;
          next_at = 1;
        }
      }
    }
    if (unit == nullptr && entry != nullptr) unit = entry;
    if (unit != nullptr) {
      const auto& gi = table_.info(unit->group);
      if (gi.first == "i" && !capitalised) unit = nullptr;  // "I am", "I'm": only with a capital I
    }
    if (unit != nullptr) {
      const auto& gi = table_.info(unit->group);
      const auto run_at = [&](int k) {
        return k < have ? std::string_view(buf_).substr(nb[k], ne[k] - nb[k]) : std::string_view();
      };
      if (gi.kind == GroupKind::kWord && apos_at != std::string_view::npos)
        unit = nullptr;
      else if (!unit_allowed(gi, last_b < last.size(), run_at(next_at), run_at(next_at + 1),
                             next_at < have))
        unit = nullptr;
    }
    if (unit == nullptr) {
      end = j;
      last = tok;
      last_b = b;
    }
  }

  if (unit != nullptr) {
    const uint32_t pick = on_candidate(prev_, *unit);
    out.append(tok.substr(0, a));
    const std::string& word = table_.group(unit->group)[pick];
    const size_t start = out.size();
    for (char c : word) {
      if (c == '\'' && curly_apostrophe_) {
        out.append("\xe2\x80\x99");
      } else {
        out.push_back(c);
      }
    }
    const bool writes_i = word.size() > 1 && word[0] == 'i' && (word[1] == ' ' || word[1] == '\'');
    if (capitalised || writes_i) out[start] = static_cast<char>(out[start] - 'a' + 'A');
    out.append(last.substr(last_b));
    // The context for the next position is the (last word of the) form as written.
    const size_t sp = word.rfind(' ');
    prev_.assign(sp == std::string::npos ? std::string_view(word)
                                         : std::string_view(word).substr(sp + 1));
  } else {
    out.append(tok);
    // Context: the run lowercased, trimmed of punctuation on both ends.
    size_t s = 0, e = tok.size();
    while (s < e && !(is_alpha(tok[s]) || is_digit(tok[s]))) ++s;
    while (e > s && !(is_alpha(tok[e - 1]) || is_digit(tok[e - 1]))) --e;
    prev_.assign(tok.data() + s, e - s);
    if ((classes & kUpper) != 0) {
      for (char& c : prev_) c = to_lower(c);
    }
  }
  // A two-word form's last run has letters; otherwise `last` is this run.
  const bool has_alnum = end != j || (classes & (kAlpha | kDigit)) != 0;
  if (has_alnum) {
    size_t e = last.size();
    while (e > 0 && (last[e - 1] == ')' || last[e - 1] == '*' || last[e - 1] == '"' ||
                     last[e - 1] == '\'' || last[e - 1] == ']' || last[e - 1] == '_')) {
      --e;
    }
    sentence_start_ = e > 0 && (last[e - 1] == '.' || last[e - 1] == '!' || last[e - 1] == '?');
  }
  return end;
}

uint32_t Watermarker::on_candidate(std::string_view context, const SynonymTable::Entry& entry) {
  ++eligible_;
  const auto k = static_cast<uint32_t>(table_.group(entry.group).size());
  const PositionHash h = position_hash(key_, context, entry.group, k);
  if (h.u >= strength_) return entry.member;
  if (h.green != entry.member) ++changed_;
  return h.green;
}

std::string watermark_text(const SynonymTable& table, const WatermarkKey& key, double strength,
                           std::string_view text, WatermarkStats* stats) {
  Watermarker w(table, key, strength);
  std::string out;
  out.reserve(text.size() + 16);
  w.feed(text, out);
  w.finish(out);
  if (stats != nullptr) *stats = {w.eligible(), w.changed()};
  return out;
}

void PositionExtractor::add_text(std::string_view text) {
  reset();
  feed(text, sink_);
  finish(sink_);
  sink_.clear();
}

uint32_t PositionExtractor::on_candidate(std::string_view context,
                                         const SynonymTable::Entry& entry) {
  std::string key(context);
  key.push_back('\x1f');
  key.append(std::to_string(entry.group));
  if (seen_.insert(std::move(key)).second) {
    positions_.push_back({std::string(context), entry.group, entry.member,
                          static_cast<uint32_t>(table_.group(entry.group).size())});
  }
  return entry.member;
}

double poisson_binomial_upper_tail(const std::vector<double>& p, int x) {
  const int n = static_cast<int>(p.size());
  if (x <= 0) return 1.0;
  if (x > n) return 0.0;
  if (n > 3000) {
    double mean = 0, var = 0;
    for (double q : p) {
      mean += q;
      var += q * (1 - q);
    }
    if (var <= 0) return x <= mean ? 1.0 : 0.0;
    const double z = (x - 0.5 - mean) / std::sqrt(var);
    return 0.5 * std::erfc(z / std::sqrt(2.0));
  }
  // dist[j] = P(X = j) after the terms so far.
  std::vector<double> dist(n + 1, 0.0);
  dist[0] = 1.0;
  for (int i = 0; i < n; ++i) {
    for (int j = i + 1; j >= 1; --j) dist[j] = dist[j] * (1 - p[i]) + dist[j - 1] * p[i];
    dist[0] *= 1 - p[i];
  }
  double tail = 0;
  for (int j = n; j >= x; --j) tail += dist[j];
  return std::min(1.0, tail);
}

WatermarkScore score_positions(const std::vector<Position>& positions, const WatermarkKey& key,
                               double detect_strength) {
  WatermarkScore s;
  std::vector<double> probs;
  probs.reserve(positions.size());
  double var = 0;
  for (const Position& pos : positions) {
    const PositionHash h = position_hash(key, pos.context, pos.group, pos.k);
    if (h.u >= detect_strength) continue;
    const double q = 1.0 / pos.k;
    probs.push_back(q);
    s.expected += q;
    var += q * (1 - q);
    if (h.green == pos.member) ++s.green;
  }
  s.positions = static_cast<int>(probs.size());
  s.z = var > 0 ? (s.green - s.expected) / std::sqrt(var) : 0.0;
  s.p_value = poisson_binomial_upper_tail(probs, s.green);
  return s;
}

}  // namespace dg::defend
