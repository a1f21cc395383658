#include "engine/text.h"

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
  auto boiler = [](const Seg& s) { return s.tokens >= 3 && s.tokens <= 16 && s.literal >= 3; };
  if (segments > 1) {
    if (boiler(first)) k.prefix = mix(first.h, 0xa1) | 1;
    if (boiler(last)) k.suffix = mix(last.h, 0xa2) | 1;
  }
  return k;
}

namespace {

bool contains_any(std::string_view s, std::initializer_list<std::string_view> needles) {
  for (auto n : needles)
    if (s.find(n) != std::string_view::npos) return true;
  return false;
}

}  // namespace

bool has_cot_cue(std::string_view l) {
  return contains_any(l, {"step by step", "step-by-step", "show your reasoning", "explain your reasoning",
                          "reasoning behind", "chain of thought", "chain-of-thought", "show your work",
                          "show all your work", "explain each step", "every step", "each step of",
                          "walk me through", "walk through your", "internal reasoning", "thought process",
                          "think through", "think carefully", "reason through", "explain how you arrived",
                          "how you arrived at", "justify each", "reasoning trace", "your full reasoning",
                          "detailed reasoning", "reasoning process", "intermediate steps", "let's think"});
}

bool has_rubric_cue(std::string_view l) {
  return contains_any(l, {"rubric", "grade the", "grade this", "score the", "score this", "rate the response",
                          "rate the answer", "rate this response", "rate this answer", "on a scale of",
                          "on a scale from", "evaluate the response", "evaluate the answer",
                          "evaluate this response", "which response is better", "which answer is better",
                          "assistant a", "response a", "as a judge", "impartial judge", "give a score",
                          "assign a score", "score from 1", "score between", "out of 10", "[[rating", "grader",
                          "reward model", "judge the quality", "preference between"});
}

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
