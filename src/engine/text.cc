#include "engine/text.h"

#include <algorithm>
#include <array>

#include "common/hash.h"

namespace dg::engine {

void to_lower_ascii(std::string_view text, std::string& out) {
  out.resize(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
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
bool is_word(unsigned char c) { return is_alpha(c) || is_digit(c) || c == '_' || c == '\'' || c >= 0x80; }

}  // namespace

TemplateKeys template_keys(std::string_view t) {
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
    if (digits) tok = kNum, literal = false;
    else if (len > 18) tok = kLong, literal = false;
    else if (upper_first && !sentence_start) tok = kName, literal = false;
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
  }
  std::sort(entries_.begin(), entries_.end());
}

uint32_t PhraseMatcher::scan(std::string_view lower, size_t head_bytes, uint32_t head_only_tags) const {
  std::array<uint64_t, kMaxPhraseTokens> last{};
  int seen = 0;
  uint32_t tags = 0;
  for_each_token(lower, [&](std::string_view tok) {
    for (int j = kMaxPhraseTokens - 1; j > 0; --j) last[j] = last[j - 1];
    last[0] = token_hash(tok);
    ++seen;
    bool in_head = static_cast<size_t>(tok.data() - lower.data()) < head_bytes;
    uint64_t h = 0, pw = 1;
    int upto = std::min(seen, kMaxPhraseTokens);
    for (int k = 1; k <= upto; ++k) {
      h += last[k - 1] * pw;
      pw *= kPhraseP;
      uint64_t hk = h ^ (static_cast<uint64_t>(k) * 0x9e3779b97f4a7c15ULL);
      if (!(filter_[(hk >> 20) & 63] & (uint64_t{1} << ((hk >> 7) & 63)))) continue;
      auto it = std::lower_bound(entries_.begin(), entries_.end(), std::pair<uint64_t, uint32_t>{hk, 0});
      for (; it != entries_.end() && it->first == hk; ++it) {
        if ((it->second & head_only_tags) && !in_head) continue;
        tags |= it->second;
      }
    }
  });
  return tags;
}

const PhraseMatcher& cue_matcher() {
  static const PhraseMatcher m{
      // chain-of-thought elicitation
      {"step by step", kCueCot}, {"show your reasoning", kCueCot}, {"explain your reasoning", kCueCot},
      {"reasoning behind", kCueCot}, {"chain of thought", kCueCot}, {"show your work", kCueCot},
      {"show all your work", kCueCot}, {"explain each step", kCueCot}, {"every step", kCueCot},
      {"each step of", kCueCot}, {"walk me through", kCueCot}, {"walk through your", kCueCot},
      {"internal reasoning", kCueCot}, {"thought process", kCueCot}, {"think through", kCueCot},
      {"think carefully", kCueCot}, {"reason through", kCueCot}, {"how you arrived", kCueCot},
      {"justify each", kCueCot}, {"reasoning trace", kCueCot}, {"full reasoning", kCueCot},
      {"all of your reasoning", kCueCot}, {"all your reasoning", kCueCot}, {"detailed reasoning", kCueCot},
      {"reasoning process", kCueCot}, {"intermediate steps", kCueCot}, {"intermediate reasoning", kCueCot},
      {"let's think", kCueCot}, {"reasoning in full", kCueCot}, {"no step out", kCueCot},
      {"step of your reasoning", kCueCot}, {"reasoning steps", kCueCot}, {"your reasoning", kCueCot},
      {"the reasoning that", kCueCot},
      // rubric / grading (reward-model use)
      {"rubric", kCueRubric}, {"grade the", kCueRubric}, {"grade this", kCueRubric}, {"score the", kCueRubric},
      {"score this", kCueRubric}, {"rate the response", kCueRubric}, {"rate the answer", kCueRubric},
      {"rate this response", kCueRubric}, {"rate this answer", kCueRubric}, {"on a scale of", kCueRubric},
      {"on a scale from", kCueRubric}, {"evaluate the response", kCueRubric}, {"evaluate the answer", kCueRubric},
      {"evaluate this response", kCueRubric}, {"which response is better", kCueRubric},
      {"which answer is better", kCueRubric}, {"assistant a", kCueRubric}, {"response a", kCueRubric},
      {"as a judge", kCueRubric}, {"impartial judge", kCueRubric}, {"give a score", kCueRubric},
      {"assign a score", kCueRubric}, {"score from 1", kCueRubric}, {"score between", kCueRubric},
      {"out of 10", kCueRubric}, {"grader", kCueRubric}, {"reward model", kCueRubric},
      {"judge the quality", kCueRubric}, {"preference between", kCueRubric}, {"your rating", kCueRubric},
      // capability overrides (only near the start of the prompt)
      {"translate", kCueTranslation}, {"translation of", kCueTranslation}, {"into english", kCueTranslation},
      {"into french", kCueTranslation}, {"into spanish", kCueTranslation}, {"into german", kCueTranslation},
      {"into chinese", kCueTranslation}, {"into japanese", kCueTranslation}, {"into italian", kCueTranslation},
      {"into portuguese", kCueTranslation}, {"into russian", kCueTranslation}, {"into korean", kCueTranslation},
      {"summarize", kCueSummary}, {"summarise", kCueSummary}, {"tl dr", kCueSummary}, {"summary of", kCueSummary},
      {"key points of", kCueSummary},
      {"have access to the following tools", kCueTools}, {"available tools", kCueTools},
      {"function_call", kCueTools}, {"tool_call", kCueTools}, {"call a tool", kCueTools},
  };
  return m;
}

uint32_t scan_cues(std::string_view lower) {
  return cue_matcher().scan(lower, 300, kCueTranslation | kCueSummary | kCueTools);
}

bool has_cot_cue(std::string_view l) { return scan_cues(l) & kCueCot; }
bool has_rubric_cue(std::string_view l) { return scan_cues(l) & kCueRubric; }

bool has_benchmark_shape(std::string_view raw) {
  // Multiple-choice options on their own lines, or an "Answer:" slot at the end.
  int options = 0;
  for (std::string_view opt : {"\nA)", "\nB)", "\nC)", "\nD)", "\n(A)", "\n(B)", "\n(C)", "\n(D)", "\nA.",
                               "\nB.", "\nC.", "\nD."})
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

}  // namespace dg::engine
