#include "engine/text.h"

#include <algorithm>
#include <array>
#include <cstring>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "common/hash.h"

namespace dg::engine {

namespace {
#if defined(__SSE2__)
// Bytes of v in [lo, lo + count), unsigned, as 0xff.
inline __m128i in_range(__m128i v, char lo, int count) {
  __m128i x = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(128 - lo)));
  return _mm_cmplt_epi8(x, _mm_set1_epi8(static_cast<char>(-128 + count)));
}
inline __m128i eq(__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); }
#endif
}  // namespace

void to_lower_ascii(std::string_view text, std::string& out) {
  out.resize(text.size());
  size_t i = 0;
#if defined(__SSE2__)
  for (; i + 16 <= text.size(); i += 16) {
    __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(text.data() + i));
    v = _mm_add_epi8(v, _mm_and_si128(in_range(v, 'A', 26), _mm_set1_epi8(32)));
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out.data() + i), v);
  }
#endif
  for (; i < text.size(); ++i) {
    char c = text[i];
    out[i] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  }
}

namespace {

uint64_t mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

constexpr uint64_t kNum = 0x1001, kQuote = 0x1002, kName = 0x1003, kLong = 0x1004, kCode = 0x1005;

bool is_alpha(unsigned char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(unsigned char c) { return c >= '0' && c <= '9'; }
// Bytes between words that template_keys() acts on: quotes, fences, segment ends.
constexpr std::array<bool, 256> kGapMark = [] {
  std::array<bool, 256> m{};
  for (unsigned char c : std::string_view("\"'`.?!:\n")) m[c] = true;
  return m;
}();
bool is_word(unsigned char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '\'' || c >= 0x80;
}

}  // namespace

TemplateKeys template_keys(std::string_view raw) {
  thread_local std::string lower;
  thread_local Tokens tokens;
  to_lower_ascii(raw, lower);
  tokens.assign(lower);
  return template_keys(raw, tokens);
}

TemplateKeys template_keys(std::string_view t, const Tokens& words) {
  // Walk the raw text (case matters for names), masking as we go: the words
  // are the tokens already found (and hashed) in the lower-cased text; the
  // bytes between them are read one by one for quotes, code blocks and
  // segment ends. Keeps the first and last kFrame masked tokens (for the
  // distinct-template count), and the first and last segments (split at . ? !
  // : and newlines): when a segment is short boilerplate (3..40 tokens, at
  // least 3 literal words) and the prompt has more than one segment, it is a
  // template key.
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
  // A word t[b, e) whose lower-cased text hashes to h (digits: one of its bytes is a digit).
  auto word = [&](size_t b, size_t e, uint64_t h, bool digits) {
    uint64_t tok = h;
    bool literal = true;
    if (digits)
      tok = kNum, literal = false;
    else if (e - b > 18)
      tok = kLong, literal = false;
    else if (t[b] >= 'A' && t[b] <= 'Z' && !sentence_start)
      tok = kName, literal = false;
    emit(tok, literal);
    sentence_start = false;
  };
  size_t w = 0;  // the next word not yet passed
  const size_t nw = words.size();
  while (i < n) {
    while (w < nw && words.end(w) <= i) ++w;  // words inside a quoted span or code block
    if (w < nw && words.begin(w) <= i) {
      const size_t e = words.end(w++);
      if (i == words.begin(w - 1)) {
        word(i, e, words.hash(w - 1), words.has_digit(w - 1));
      } else {
        // A quoted span ended inside this word ("'a don't"): the rest of it,
        // after any apostrophes, is a word of its own.
        while (i < e && t[i] == '\'') ++i;
        if (i < e) {
          bool digits;
          const uint64_t h = token_hash(words.text().substr(i, e - i), &digits);
          word(i, e, h, digits);
        }
      }
      i = e;
      continue;
    }
    // Between words: punctuation, spaces, and apostrophes before a word.
    // Bytes that neither quote, fence nor end a segment are passed at once.
    const size_t next = w < nw ? words.begin(w) : n;
    while (i < next && !kGapMark[static_cast<unsigned char>(t[i])]) ++i;
    if (i == next) continue;
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
    if (c == '.' || c == '?' || c == '!' || c == '\n' || c == ':') {
      sentence_start = true;
      boundary();
    }
    ++i;
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

void Tokens::add(size_t b, size_t e) {
  bool digit;
  hash_[size_] = token_hash(text_.substr(b, e - b), &digit);
  digit_[size_] = digit;
  begin_[size_] = static_cast<uint32_t>(b);
  end_[size_] = static_cast<uint32_t>(e);
  ++size_;
}

void Tokens::assign(std::string_view t) {
  text_ = t;
  size_ = 0;
  const size_t n = t.size();
  if (n / 2 + 1 > capacity_) {  // a token and its separator take two bytes
    capacity_ = std::max(n / 2 + 1, 2 * capacity_);
    hash_.reset(new uint64_t[capacity_]);
    begin_.reset(new uint32_t[capacity_]);
    end_.reset(new uint32_t[capacity_]);
    digit_.reset(new bool[capacity_]);
  }
#if defined(__SSE2__)
  // Bit mask of the token bytes (letters, digits, '_', '\'', non-ASCII), 64
  // bytes at a time. E = C xor (C shifted by one byte) has a bit where a run
  // of C starts and where it ends, alternately; the block past the text is
  // zero, so the last run ends. A token is its run from the first byte that
  // is not an apostrophe.
  const auto* s = reinterpret_cast<const unsigned char*>(t.data());
  alignas(16) unsigned char pad[64];
  uint64_t carry = 0;
  size_t run = 0;
  bool in_run = false;
  for (size_t base = 0; base <= n; base += 64) {
    const unsigned char* blk = s + base;
    if (base + 64 > n) {
      std::memset(pad, 0, sizeof pad);
      std::memcpy(pad, s + base, n - base);
      blk = pad;
    }
    uint64_t c = 0;
    for (int q = 0; q < 4; ++q) {
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk + q * 16));
      __m128i w = _mm_or_si128(_mm_or_si128(in_range(v, 'a', 26), in_range(v, '0', 10)),
                               _mm_or_si128(eq(v, '_'), eq(v, '\'')));
      c |= uint64_t{static_cast<uint32_t>(_mm_movemask_epi8(w) | _mm_movemask_epi8(v))} << (q * 16);
    }
    for (uint64_t e = c ^ ((c << 1) | carry); e; e &= e - 1) {
      const size_t pos = base + static_cast<size_t>(__builtin_ctzll(e));
      if (!in_run) {
        run = pos;
        in_run = true;
        continue;
      }
      in_run = false;
      while (run < pos && s[run] == '\'') ++run;
      if (run < pos) add(run, pos);
    }
    carry = c >> 63;
  }
#else
  for_each_token(t, [&](std::string_view tok) {
    size_t b = static_cast<size_t>(tok.data() - t.data());
    add(b, b + tok.size());
  });
#endif
}

namespace {
constexpr uint64_t kPhraseP = 0x100000001b3ULL;
}

PhraseMatcher::PhraseMatcher(std::initializer_list<std::pair<std::string_view, uint32_t>> phrases) {
  for (auto [p, tag] : phrases) {
    std::vector<uint64_t> toks;
    for_each_token(p, [&](std::string_view tok) { toks.push_back(token_hash(tok)); });
    int k = static_cast<int>(toks.size());
    if (k == 0 || k > kMaxPhraseTokens) continue;
    // Same polynomial as matches(): newest token has power 0.
    uint64_t h = 0, pw = 1;
    for (int j = k - 1; j >= 0; --j) {
      h += toks[static_cast<size_t>(j)] * pw;
      pw *= kPhraseP;
    }
    h ^= static_cast<uint64_t>(k) * 0x9e3779b97f4a7c15ULL;
    entries_.push_back({h, tag});
    filter_[(h >> 20) & 63] |= uint64_t{1} << ((h >> 7) & 63);
    const uint64_t end = toks.back();
    last_filter_[(end >> 20) & 63] |= uint64_t{1} << ((end >> 7) & 63);
  }
  std::sort(entries_.begin(), entries_.end());
}

uint32_t PhraseMatcher::scan(std::string_view lower, size_t head_bytes,
                             uint32_t head_only_tags) const {
  thread_local Tokens tokens;
  tokens.assign(lower);
  return scan(tokens, head_bytes, head_only_tags);
}

uint32_t PhraseMatcher::scan(const Tokens& t, size_t head_bytes, uint32_t head_only_tags) const {
  // Every phrase of 1..kMaxPhraseTokens tokens ending at each token that
  // may end a phrase (a 4096-bit filter of the phrases' last tokens): a
  // polynomial of the token hashes (the newest has power 0), tried against a
  // 4096-bit filter of the phrases before the sorted entries.
  uint32_t tags = 0;
  for (size_t i = 0; i < t.size(); ++i) {
    const uint64_t end = t.hash(i);
    if (!(last_filter_[(end >> 20) & 63] & (uint64_t{1} << ((end >> 7) & 63)))) continue;
    const bool in_head = t.begin(i) < head_bytes;
    const size_t upto = std::min<size_t>(i + 1, kMaxPhraseTokens);
    uint64_t h = 0, pw = 1;
    for (size_t k = 1; k <= upto; ++k) {
      h += t.hash(i + 1 - k) * pw;
      pw *= kPhraseP;
      uint64_t hk = h ^ (static_cast<uint64_t>(k) * 0x9e3779b97f4a7c15ULL);
      if (!(filter_[(hk >> 20) & 63] & (uint64_t{1} << ((hk >> 7) & 63)))) continue;
      auto it =
          std::lower_bound(entries_.begin(), entries_.end(), std::pair<uint64_t, uint32_t>{hk, 0});
      for (; it != entries_.end() && it->first == hk; ++it) {
        if ((it->second & head_only_tags) && !in_head) continue;
        tags |= it->second;
      }
    }
  }
  return tags;
}

const PhraseMatcher& cue_matcher() {
  static const PhraseMatcher m{
      // chain-of-thought elicitation
      {"step by step", kCueCot},
      {"show your reasoning", kCueCot},
      {"explain your reasoning", kCueCot},
      {"reasoning behind", kCueCot},
      {"chain of thought", kCueCot},
      {"show your work", kCueCot},
      {"show all your work", kCueCot},
      {"explain each step", kCueCot},
      {"every step", kCueCot},
      {"each step of", kCueCot},
      {"walk me through", kCueCot},
      {"walk through your", kCueCot},
      {"internal reasoning", kCueCot},
      {"thought process", kCueCot},
      {"think through", kCueCot},
      {"think carefully", kCueCot},
      {"reason through", kCueCot},
      {"how you arrived", kCueCot},
      {"justify each", kCueCot},
      {"reasoning trace", kCueCot},
      {"full reasoning", kCueCot},
      {"all of your reasoning", kCueCot},
      {"all your reasoning", kCueCot},
      {"detailed reasoning", kCueCot},
      {"reasoning process", kCueCot},
      {"intermediate steps", kCueCot},
      {"intermediate reasoning", kCueCot},
      {"let's think", kCueCot},
      {"reasoning in full", kCueCot},
      {"no step out", kCueCot},
      {"step of your reasoning", kCueCot},
      {"reasoning steps", kCueCot},
      {"your reasoning", kCueCot},
      {"the reasoning that", kCueCot},
      // rubric / grading (reward-model use)
      {"rubric", kCueRubric},
      {"grade the", kCueRubric},
      {"grade this", kCueRubric},
      {"score the", kCueRubric},
      {"score this", kCueRubric},
      {"rate the response", kCueRubric},
      {"rate the answer", kCueRubric},
      {"rate this response", kCueRubric},
      {"rate this answer", kCueRubric},
      {"on a scale of", kCueRubric},
      {"on a scale from", kCueRubric},
      {"evaluate the response", kCueRubric},
      {"evaluate the answer", kCueRubric},
      {"evaluate this response", kCueRubric},
      {"which response is better", kCueRubric},
      {"which answer is better", kCueRubric},
      {"assistant a", kCueRubric},
      {"response a", kCueRubric},
      {"as a judge", kCueRubric},
      {"impartial judge", kCueRubric},
      {"give a score", kCueRubric},
      {"assign a score", kCueRubric},
      {"score from 1", kCueRubric},
      {"score between", kCueRubric},
      {"out of 10", kCueRubric},
      {"grader", kCueRubric},
      {"reward model", kCueRubric},
      {"judge the quality", kCueRubric},
      {"preference between", kCueRubric},
      {"your rating", kCueRubric},
      // capability overrides (only near the start of the prompt)
      {"translate", kCueTranslation},
      {"translation of", kCueTranslation},
      {"into english", kCueTranslation},
      {"into french", kCueTranslation},
      {"into spanish", kCueTranslation},
      {"into german", kCueTranslation},
      {"into chinese", kCueTranslation},
      {"into japanese", kCueTranslation},
      {"into italian", kCueTranslation},
      {"into portuguese", kCueTranslation},
      {"into russian", kCueTranslation},
      {"into korean", kCueTranslation},
      {"summarize", kCueSummary},
      {"summarise", kCueSummary},
      {"tl dr", kCueSummary},
      {"summary of", kCueSummary},
      {"key points of", kCueSummary},
      {"have access to the following tools", kCueTools},
      {"available tools", kCueTools},
      {"function_call", kCueTools},
      {"tool_call", kCueTools},
      {"call a tool", kCueTools},
  };
  return m;
}

namespace {
constexpr size_t kCueHeadBytes = 300;
constexpr uint32_t kCueHeadTags = kCueTranslation | kCueSummary | kCueTools;
}  // namespace

uint32_t scan_cues(std::string_view lower) {
  return cue_matcher().scan(lower, kCueHeadBytes, kCueHeadTags);
}
uint32_t scan_cues(const Tokens& tokens) {
  return cue_matcher().scan(tokens, kCueHeadBytes, kCueHeadTags);
}

bool has_cot_cue(std::string_view l) { return scan_cues(l) & kCueCot; }
bool has_rubric_cue(std::string_view l) { return scan_cues(l) & kCueRubric; }

bool has_benchmark_shape(std::string_view raw) {
  // Multiple-choice options on their own lines ("\nA)", "\n(A)", "\nA." for
  // A..D: three of the twelve), an "Answer:" slot at the end, or few-shot
  // "\nQ:" and "\nA:" lines. One pass over the line starts.
  uint32_t seen = 0;  // bits 0-3 "X)", 4-7 "(X)", 8-11 "X." for X = A..D; 12 "Q:", 13 "A:"
  const char* p = raw.data();
  const char* const end = p + raw.size();
  while (p < end &&
         (p = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p))))) {
    ++p;  // the line's first byte
    if (end - p < 2) break;
    const char c0 = p[0], c1 = p[1];
    if (c0 >= 'A' && c0 <= 'D') {
      if (c1 == ')')
        seen |= 1u << (c0 - 'A');
      else if (c1 == '.')
        seen |= 1u << (8 + c0 - 'A');
      else if (c1 == ':' && c0 == 'A')
        seen |= 1u << 13;
    } else if (c0 == 'Q' && c1 == ':') {
      seen |= 1u << 12;
    } else if (c0 == '(' && end - p >= 3 && c1 >= 'A' && c1 <= 'D' && p[2] == ')') {
      seen |= 1u << (4 + c1 - 'A');
    }
  }
  if (__builtin_popcount(seen & 0xfff) >= 3) return true;
  size_t last = raw.find_last_not_of(" \n\t");
  if (last == std::string_view::npos) return false;
  if (last + 1 >= 7) {
    std::string_view slot = raw.substr(last + 1 - 7, 7);
    if (slot == "Answer:" || slot == "answer:") return true;
  }
  return (seen >> 12 & 3) == 3;
}

}  // namespace dg::engine
