// Prompt text analysis for the engine: tokenising, masking the variable parts
// of a prompt into a template, and cue detectors (chain-of-thought elicitation,
// rubric/grading, benchmark-item shape). Pure functions, thread-safe, no
// allocation beyond the caller's reusable buffers.
#pragma once

#include <array>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace dg::engine {

// Lower-cases ASCII letters of `text` into `out` (other bytes unchanged).
void to_lower_ascii(std::string_view text, std::string& out);

// Calls fn(token) for each word token of already lower-cased text: runs of
// letters, digits, '_', '\'' and any non-ASCII byte (so UTF-8 words stay whole).
template <typename Fn>
void for_each_token(std::string_view lower, Fn&& fn) {
  size_t i = 0, n = lower.size();
  while (i < n) {
    while (i < n) {
      unsigned char c = static_cast<unsigned char>(lower[i]);
      bool w = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c >= 0x80;
      if (w) break;
      ++i;
    }
    size_t s = i;
    while (i < n) {
      unsigned char c = static_cast<unsigned char>(lower[i]);
      bool w =
          (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '\'' || c >= 0x80;
      if (!w) break;
      ++i;
    }
    if (i > s) fn(lower.substr(s, i - s));
  }
}

// The word tokens of lower-cased text, exactly those of for_each_token, with
// their token_hash, found in one pass over SSE2 byte-class masks (a scalar
// loop without SSE2). The cue scan and the capability classifier read the
// same tokens, so features.cc finds and hashes them once for both. Reusable:
// keeps its buffers (no allocation once grown). Offsets are 32-bit: texts
// up to 4 GiB.
class Tokens {
 public:
  // Tokenises `lower`, which must outlive the tokens (text() views it).
  void assign(std::string_view lower);
  std::string_view text() const { return text_; }
  size_t size() const { return size_; }
  uint64_t hash(size_t i) const { return hash_[i]; }
  uint32_t begin(size_t i) const { return begin_[i]; }  // byte offsets in text()
  uint32_t end(size_t i) const { return end_[i]; }
  bool has_digit(size_t i) const { return digit_[i]; }

 private:
  void add(size_t b, size_t e);
  std::string_view text_;
  size_t size_ = 0, capacity_ = 0;
  std::unique_ptr<uint64_t[]> hash_;
  std::unique_ptr<uint32_t[]> begin_, end_;
  std::unique_ptr<bool[]> digit_;
};

// A prompt with its variable parts masked. Numbers, quoted spans, code blocks,
// capitalised words inside a sentence (names), and over-long tokens become
// placeholders. A template is the boilerplate around the variable content: the
// first and the last segment (split at . ? ! : and newlines) when at most 40
// tokens and mostly literal words ("Question: {q}\nAnswer in detail:"). The variable
// middle of a long prompt (the "long tail") is dropped.
struct TemplateKeys {
  uint64_t prefix = 0;  // hash of the opening boilerplate segment (0 if none)
  uint64_t suffix = 0;  // hash of the closing boilerplate segment (0 if none)
  uint64_t whole = 0;   // hash of the first and last kFrame masked tokens
  uint32_t tokens = 0;  // word tokens in the prompt
};
inline constexpr int kFrame = 8;
TemplateKeys template_keys(std::string_view text);
// The same, with `lower_tokens` the Tokens of to_lower_ascii(text) (features.cc
// has them already for the cues and the classifier).
TemplateKeys template_keys(std::string_view text, const Tokens& lower_tokens);

// FNV-1a of a token's bytes; sets `*digit` (when given) to whether one of
// them is a digit (found in the same pass, in the multiply's shadow).
inline uint64_t token_hash(std::string_view tok, bool* digit = nullptr) {
  uint64_t h = 0xcbf29ce484222325ULL;
  bool d = false;
  for (unsigned char c : tok) {
    h = (h ^ c) * 0x100000001b3ULL;
    d |= static_cast<unsigned char>(c - '0') < 10;
  }
  if (digit) *digit = d;
  return h;
}
inline uint64_t phrase_mix(uint64_t h, uint64_t x) {
  h ^= x + 0x9e3779b97f4a7c15ULL + (h << 6) + (h >> 2);
  return h * 0xff51afd7ed558ccdULL;
}

// Finds tagged word phrases (1..4 tokens, on token boundaries) in lower-cased
// text in one pass over its tokens, returning the OR of the tags found.
// Immutable after construction; thread-safe.
class PhraseMatcher {
 public:
  static constexpr int kMaxPhraseTokens = 4;
  PhraseMatcher(std::initializer_list<std::pair<std::string_view, uint32_t>> phrases);
  // Tags in `head_only_tags` count only when the phrase starts in the first
  // `head_bytes` bytes.
  uint32_t scan(std::string_view lower, size_t head_bytes = SIZE_MAX,
                uint32_t head_only_tags = 0) const;
  // The same over tokens already found (Tokens::assign of the lower-cased text).
  uint32_t scan(const Tokens& tokens, size_t head_bytes = SIZE_MAX,
                uint32_t head_only_tags = 0) const;

 private:
  std::array<uint64_t, 64> filter_{};       // phrase hashes
  std::array<uint64_t, 64> last_filter_{};  // hashes of the phrases' last tokens
  std::vector<std::pair<uint64_t, uint32_t>> entries_;
};

enum CueTag : uint32_t {
  kCueCot = 1,
  kCueRubric = 2,
  kCueTranslation = 4,
  kCueSummary = 8,
  kCueTools = 16,
};
// All cues of a lower-cased prompt in one pass (capability cues only in its first 300 bytes).
uint32_t scan_cues(std::string_view lower);
uint32_t scan_cues(const Tokens& tokens);  // the same over the lower-cased prompt's tokens

// Cue detectors, on lower-cased text.
bool has_cot_cue(
    std::string_view lower);  // asks for step-by-step reasoning / the reasoning behind an answer
bool has_rubric_cue(std::string_view lower);  // asks to grade/score/judge responses
bool has_benchmark_shape(
    std::string_view raw);  // multiple-choice options, "Answer:" slots, few-shot Q/A

}  // namespace dg::engine
