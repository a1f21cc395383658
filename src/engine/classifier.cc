#include "engine/classifier.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <mutex>
#include <numeric>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "distillguard/random.h"
#include "engine/text.h"

// data/classifier/prompts.tsv, embedded at build time (see CMakeLists.txt).
extern "C" const char dg_engine_prompts_begin[];
extern "C" const char dg_engine_prompts_end[];

namespace dg::engine {

namespace {
constexpr const char* kNames[kCapabilityCount] = {
    "math",       "code",    "reasoning",    "writing",    "summarization", "translation",
    "factual_qa", "science", "conversation", "extraction", "tool_use",      "other"};

constexpr uint64_t fnv(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

bool contains(std::string_view s, std::string_view n) {
  return s.find(n) != std::string_view::npos;
}
}  // namespace

const char* capability_name(Capability c) {
  auto i = static_cast<int>(c);
  return i >= 0 && i < kCapabilityCount ? kNames[i] : "other";
}

std::optional<Capability> capability_from_name(std::string_view name) {
  for (int i = 0; i < kCapabilityCount; ++i)
    if (name == kNames[i]) return static_cast<Capability>(i);
  return std::nullopt;
}

std::vector<LabelledPrompt> parse_labelled_tsv(std::string_view tsv) {
  std::vector<LabelledPrompt> out;
  size_t pos = 0;
  while (pos < tsv.size()) {
    size_t end = tsv.find('\n', pos);
    if (end == std::string_view::npos) end = tsv.size();
    std::string_view line = tsv.substr(pos, end - pos);
    pos = end + 1;
    size_t t1 = line.find('\t');
    if (t1 == std::string_view::npos) continue;
    size_t t2 = line.find('\t', t1 + 1);
    if (t2 == std::string_view::npos) continue;
    auto label = capability_from_name(line.substr(0, t1));
    if (!label) continue;
    out.push_back(
        {*label, std::string(line.substr(t1 + 1, t2 - t1 - 1)), std::string(line.substr(t2 + 1))});
  }
  return out;
}

std::string_view builtin_training_tsv() {
  return std::string_view(dg_engine_prompts_begin,
                          static_cast<size_t>(dg_engine_prompts_end - dg_engine_prompts_begin));
}

template <typename Fn>
void CapabilityClassifier::features(std::string_view lower, Fn&& fn) {
  if (lower.size() > kMaxChars) lower = lower.substr(0, kMaxChars);
  constexpr uint64_t kMask = (uint64_t{1} << kBucketBits) - 1;
  uint64_t prev = 0x9ae16a3b2f90404fULL;
  for_each_token(lower, [&](std::string_view tok) {
    uint64_t h = fnv(tok);
    fn(static_cast<uint32_t>(h & kMask));
    fn(static_cast<uint32_t>((h * 31 + prev * 0x9e3779b97f4a7c15ULL) >> 20 & kMask));
    prev = h;
  });
  // Punctuation that marks code and formulas.
  for (std::string_view s :
       {"()", "{", "};", "=", "+", "^", "$", "\\", "#", "```", "->", "[]", "%"})
    if (contains(lower, s)) fn(static_cast<uint32_t>(fnv(s, 77) & kMask));
}

CapabilityClassifier CapabilityClassifier::train(const std::vector<LabelledPrompt>& data,
                                                 uint64_t seed, int epochs) {
  CapabilityClassifier m;
  const size_t buckets = size_t{1} << kBucketBits;
  m.w_.assign(buckets * kCapabilityCount, 0.0f);
  // Pre-extract features.
  std::vector<std::vector<uint32_t>> feats(data.size());
  std::string lower;
  for (size_t i = 0; i < data.size(); ++i) {
    to_lower_ascii(data[i].text, lower);
    features(lower, [&](uint32_t b) { feats[i].push_back(b); });
  }
  // Class weights: balance rare classes (capped) so they are not drowned.
  std::array<double, kCapabilityCount> count{};
  for (auto& d : data) count[static_cast<int>(d.label)] += 1;
  std::array<float, kCapabilityCount> cw{};
  double mean = data.empty() ? 1 : static_cast<double>(data.size()) / kCapabilityCount;
  for (int c = 0; c < kCapabilityCount; ++c)
    cw[c] =
        count[c] > 0 ? static_cast<float>(std::clamp(std::sqrt(mean / count[c]), 0.5, 4.0)) : 0.f;

  std::vector<size_t> order(data.size());
  std::iota(order.begin(), order.end(), 0);
  Rng rng(seed);
  std::array<float, kCapabilityCount> p{};
  for (int ep = 0; ep < epochs; ++ep) {
    for (size_t i = order.size(); i > 1; --i) std::swap(order[i - 1], order[rng.below(i)]);
    float lr = 0.5f / (1.0f + ep);
    for (size_t idx : order) {
      const auto& f = feats[idx];
      if (f.empty()) continue;
      float scale = 1.0f / std::sqrt(static_cast<float>(f.size()));
      p = m.bias_;
      for (uint32_t b : f) {
        const float* w = &m.w_[size_t{b} * kCapabilityCount];
        for (int c = 0; c < kCapabilityCount; ++c) p[c] += w[c] * scale;
      }
      float mx = *std::max_element(p.begin(), p.end()), z = 0;
      for (auto& v : p) {
        v = std::exp(v - mx);
        z += v;
      }
      int y = static_cast<int>(data[idx].label);
      float g_scale = lr * cw[y];
      for (int c = 0; c < kCapabilityCount; ++c) {
        float g = (p[c] / z - (c == y ? 1.f : 0.f)) * g_scale;
        p[c] = g;
        m.bias_[c] -= g * 0.1f;
      }
      for (uint32_t b : f) {
        float* w = &m.w_[size_t{b} * kCapabilityCount];
        for (int c = 0; c < kCapabilityCount; ++c) w[c] -= p[c] * scale;
      }
    }
  }
  m.quantize();
  return m;
}

void CapabilityClassifier::quantize() {
  float mx = 1e-6f;
  for (float w : w_) mx = std::max(mx, std::abs(w));
  qscale_ = mx / 32767.0f;
  q_.resize(w_.size());
  for (size_t i = 0; i < w_.size(); ++i) q_[i] = static_cast<int16_t>(std::lround(w_[i] / qscale_));
  w_.clear();
  w_.shrink_to_fit();
}

const CapabilityClassifier& CapabilityClassifier::builtin() {
  static const CapabilityClassifier* model = [] {
    auto data = parse_labelled_tsv(builtin_training_tsv());
    return new CapabilityClassifier(train(data));
  }();
  return *model;
}

namespace {
#if !defined(__SSE2__)
// The first bytes of the punctuation features.
constexpr std::array<bool, 256> kMarkStart = [] {
  std::array<bool, 256> t{};
  for (unsigned char c : std::string_view("({}=+^$\\#`-[%")) t[c] = true;
  return t;
}();
#endif

// The punctuation features in the order features() emits them.
constexpr std::string_view kMarks[] = {"()", "{", "};",  "=",  "+",  "^", "$",
                                       "\\", "#", "```", "->", "[]", "%"};
constexpr int kMarkCount = 13;
constexpr std::array<uint32_t, kMarkCount> kMarkBucket = [] {
  std::array<uint32_t, kMarkCount> b{};
  for (int m = 0; m < kMarkCount; ++m)
    b[m] = static_cast<uint32_t>(fnv(kMarks[m], 77) &
                                 ((uint64_t{1} << CapabilityClassifier::kBucketBits) - 1));
  return b;
}();

// Bit (1 << index in kMarks) of the mark starting at s[i], if any.
inline uint32_t mark_at(const unsigned char* s, size_t i, size_t n) {
  auto next = [&](size_t k, char c) {
    return i + k < n && s[i + k] == static_cast<unsigned char>(c);
  };
  switch (s[i]) {
    case '(':
      return next(1, ')') ? 1u << 0 : 0;
    case '{':
      return 1u << 1;
    case '}':
      return next(1, ';') ? 1u << 2 : 0;
    case '=':
      return 1u << 3;
    case '+':
      return 1u << 4;
    case '^':
      return 1u << 5;
    case '$':
      return 1u << 6;
    case '\\':
      return 1u << 7;
    case '#':
      return 1u << 8;
    case '`':
      return next(1, '`') && next(2, '`') ? 1u << 9 : 0;
    case '-':
      return next(1, '>') ? 1u << 10 : 0;
    case '[':
      return next(1, ']') ? 1u << 11 : 0;
    case '%':
      return 1u << 12;
    default:
      return 0;
  }
}

// Sums rows of 12 int16 weights into 12 int32 (in registers with SSE2).
struct RowSum {
#if defined(__SSE2__)
  __m128i a0 = _mm_setzero_si128(), a1 = _mm_setzero_si128(), a2 = _mm_setzero_si128();
  void add(const int16_t* w) {
    __m128i a = _mm_loadu_si128(reinterpret_cast<const __m128i*>(w));      // weights 0..7
    __m128i b = _mm_loadl_epi64(reinterpret_cast<const __m128i*>(w + 8));  // weights 8..11
    // Sign-extend int16 -> int32: each in the high half, shifted back arithmetically.
    a0 = _mm_add_epi32(a0, _mm_srai_epi32(_mm_unpacklo_epi16(a, a), 16));
    a1 = _mm_add_epi32(a1, _mm_srai_epi32(_mm_unpackhi_epi16(a, a), 16));
    a2 = _mm_add_epi32(a2, _mm_srai_epi32(_mm_unpacklo_epi16(b, b), 16));
  }
  void store(int32_t* out) const {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out), a0);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 4), a1);
    _mm_storeu_si128(reinterpret_cast<__m128i*>(out + 8), a2);
  }
#else
  std::array<int32_t, kCapabilityCount> acc{};
  void add(const int16_t* w) {
    for (int c = 0; c < kCapabilityCount; ++c) acc[c] += w[c];
  }
  void store(int32_t* out) const { std::copy(acc.begin(), acc.end(), out); }
#endif
};
}  // namespace

Capability CapabilityClassifier::argmax(const int32_t* acc, uint32_t nf) const {
  std::array<float, kCapabilityCount> p = bias_;
  float scale = qscale_ / std::sqrt(static_cast<float>(nf));
  for (int c = 0; c < kCapabilityCount; ++c) p[c] += static_cast<float>(acc[c]) * scale;
  return static_cast<Capability>(std::max_element(p.begin(), p.end()) - p.begin());
}

Capability CapabilityClassifier::predict(std::string_view lower) const {
  thread_local Tokens tokens;
  tokens.assign(lower.substr(0, std::min(lower.size(), kMaxChars)));
  return predict(tokens);
}

Capability CapabilityClassifier::predict(const Tokens& tokens) const {
  const std::string_view lower = tokens.text();
  const size_t n = std::min(lower.size(), kMaxChars);
  constexpr uint64_t kMask = (uint64_t{1} << kBucketBits) - 1;
  constexpr size_t kMaxTokens = kMaxFeatures / 2;  // two features per token

  // 1. The tokens in the first kMaxChars bytes (one crossing that limit is
  //    cut there and hashed again), at most kMaxTokens: after them the
  //    features are full. Each token's two weight rows are prefetched as soon
  //    as they are known: the rows are scattered over the 1.5 MiB table, so
  //    fetching them all before summing overlaps the cache misses. The rows
  //    are kept in features()' order (which only matters for the cap).
  std::array<const int16_t*, kMaxFeatures> rows;
  uint64_t prev = 0x9ae16a3b2f90404fULL;
  size_t nt = 0;
  for (size_t i = 0; i < tokens.size() && nt < kMaxTokens; ++i) {
    const size_t b = tokens.begin(i);
    if (b >= n) break;
    const uint64_t h = tokens.end(i) <= n ? tokens.hash(i) : token_hash(lower.substr(b, n - b));
    const int16_t* uni = &q_[(h & kMask) * kCapabilityCount];
    const int16_t* bi =
        &q_[((h * 31 + prev * 0x9e3779b97f4a7c15ULL) >> 20 & kMask) * kCapabilityCount];
    __builtin_prefetch(uni);
    __builtin_prefetch(uni + kCapabilityCount - 1);  // a 24-byte row may straddle two lines
    __builtin_prefetch(bi);
    __builtin_prefetch(bi + kCapabilityCount - 1);
    rows[2 * nt] = uni;
    rows[2 * nt + 1] = bi;
    prev = h;
    ++nt;
  }
  // 2. The punctuation marks, unless the tokens filled the features.
  const auto* s = reinterpret_cast<const unsigned char*>(lower.data());
  uint32_t marks = 0;
  if (nt < kMaxTokens) {
#if defined(__SSE2__)
    // 16 bytes at a time: a mask of the bytes that may start a mark, a
    // superset of the marks' first bytes (mark_at() rejects the others):
    // '#'..'-' except ',' and '\'', '=', '['..'`', '{'..'}'.
    auto in_range = [](__m128i v, char lo, int count) {  // lo <= v < lo + count, unsigned
      __m128i t = _mm_add_epi8(v, _mm_set1_epi8(static_cast<char>(128 - lo)));
      return _mm_cmplt_epi8(t, _mm_set1_epi8(static_cast<char>(-128 + count)));
    };
    auto eq = [](__m128i v, char c) { return _mm_cmpeq_epi8(v, _mm_set1_epi8(c)); };
    alignas(16) unsigned char pad[16];
    for (size_t base = 0; base < n; base += 16) {
      const unsigned char* blk = s + base;
      if (base + 16 > n) {
        std::memset(pad, 0, sizeof pad);
        std::memcpy(pad, s + base, n - base);
        blk = pad;
      }
      __m128i v = _mm_loadu_si128(reinterpret_cast<const __m128i*>(blk));
      __m128i punct = _mm_andnot_si128(_mm_or_si128(eq(v, ','), eq(v, '\'')), in_range(v, '#', 11));
      punct = _mm_or_si128(_mm_or_si128(punct, eq(v, '=')),
                           _mm_or_si128(in_range(v, '[', 6), in_range(v, '{', 3)));
      for (uint32_t x = static_cast<uint32_t>(_mm_movemask_epi8(punct)); x; x &= x - 1)
        marks |= mark_at(s, base + static_cast<size_t>(__builtin_ctz(x)), n);
    }
#else
    for (size_t i = 0; i < n; ++i)
      if (kMarkStart[s[i]]) marks |= mark_at(s, i, n);
#endif
  }
  if (nt == 0 && marks == 0) return Capability::kOther;

  // 3. Sum the rows.
  RowSum sum;
  for (size_t f = 0; f < 2 * nt; ++f) sum.add(rows[f]);
  uint32_t nf = static_cast<uint32_t>(2 * nt);
  for (int m = 0; m < kMarkCount && marks; ++m) {
    if (!(marks >> m & 1)) continue;
    marks &= ~(1u << m);
    if (nf == kMaxFeatures) break;
    sum.add(&q_[size_t{kMarkBucket[m]} * kCapabilityCount]);
    ++nf;
  }
  std::array<int32_t, kCapabilityCount> acc;
  sum.store(acc.data());
  return argmax(acc.data(), nf);
}

Capability CapabilityClassifier::predict_reference(std::string_view lower) const {
  uint32_t nf = 0;
  std::array<uint32_t, kMaxFeatures> fb;
  features(lower, [&](uint32_t b) {
    if (nf < fb.size()) fb[nf++] = b;
  });
  if (nf == 0) return Capability::kOther;
  std::array<int32_t, kCapabilityCount> acc{};
  for (uint32_t i = 0; i < nf; ++i) {
    const int16_t* w = &q_[size_t{fb[i]} * kCapabilityCount];
    for (int c = 0; c < kCapabilityCount; ++c) acc[c] += w[c];
  }
  return argmax(acc.data(), nf);
}

Capability CapabilityClassifier::classify(std::string_view lower, bool has_tools) const {
  thread_local Tokens tokens;
  tokens.assign(lower);
  return classify(tokens, has_tools, scan_cues(tokens));
}

Capability CapabilityClassifier::classify(const Tokens& tokens, bool has_tools,
                                          uint32_t cues) const {
  if (has_tools || (cues & kCueTools)) return Capability::kToolUse;
  if (cues & kCueTranslation) return Capability::kTranslation;
  if (cues & kCueSummary) return Capability::kSummarization;
  return predict(tokens);
}

}  // namespace dg::engine
