#include "engine/classifier.h"

#include <algorithm>
#include <cmath>
#include <mutex>
#include <numeric>

#include "distillguard/random.h"
#include "engine/text.h"

// data/classifier/prompts.tsv, embedded at build time (see CMakeLists.txt).
extern "C" const char dg_engine_prompts_begin[];
extern "C" const char dg_engine_prompts_end[];

namespace dg::engine {

namespace {
constexpr const char* kNames[kCapabilityCount] = {
    "math",       "code",    "reasoning",  "writing",      "summarization", "translation",
    "factual_qa", "science", "conversation", "extraction", "tool_use",      "other"};

uint64_t fnv(std::string_view s, uint64_t h = 0xcbf29ce484222325ULL) {
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ULL;
  return h;
}

bool contains(std::string_view s, std::string_view n) { return s.find(n) != std::string_view::npos; }
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
    out.push_back({*label, std::string(line.substr(t1 + 1, t2 - t1 - 1)), std::string(line.substr(t2 + 1))});
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
  for (std::string_view s : {"()", "{", "};", "=", "+", "^", "$", "\\", "#", "```", "->", "[]", "%"})
    if (contains(lower, s)) fn(static_cast<uint32_t>(fnv(s, 77) & kMask));
}

CapabilityClassifier CapabilityClassifier::train(const std::vector<LabelledPrompt>& data, uint64_t seed,
                                                 int epochs) {
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
    cw[c] = count[c] > 0 ? static_cast<float>(std::clamp(std::sqrt(mean / count[c]), 0.5, 4.0)) : 0.f;

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
      for (auto& v : p) { v = std::exp(v - mx); z += v; }
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

Capability CapabilityClassifier::predict(std::string_view lower) const {
  std::array<float, kCapabilityCount> p = bias_;
  uint32_t nf = 0;
  std::array<uint32_t, 512> fb;
  features(lower, [&](uint32_t b) {
    if (nf < fb.size()) fb[nf++] = b;
  });
  if (nf == 0) return Capability::kOther;
  std::array<int32_t, kCapabilityCount> acc{};
  for (uint32_t i = 0; i < nf; ++i) {
    const int16_t* w = &q_[size_t{fb[i]} * kCapabilityCount];
    for (int c = 0; c < kCapabilityCount; ++c) acc[c] += w[c];
  }
  float scale = qscale_ / std::sqrt(static_cast<float>(nf));
  for (int c = 0; c < kCapabilityCount; ++c) p[c] += static_cast<float>(acc[c]) * scale;
  return static_cast<Capability>(std::max_element(p.begin(), p.end()) - p.begin());
}

Capability CapabilityClassifier::classify(std::string_view lower, bool has_tools) const {
  return classify(lower, has_tools, scan_cues(lower));
}

Capability CapabilityClassifier::classify(std::string_view lower, bool has_tools, uint32_t cues) const {
  if (has_tools || (cues & kCueTools)) return Capability::kToolUse;
  if (cues & kCueTranslation) return Capability::kTranslation;
  if (cues & kCueSummary) return Capability::kSummarization;
  return predict(lower);
}

}  // namespace dg::engine
