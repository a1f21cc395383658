// The capability classifier: which area of the model's abilities a prompt asks
// for (math, code, reasoning, ...). A hashed word uni/bi-gram softmax model
// (fastText-style, without the embedding layer), trained in-process from the
// labelled real prompts in data/classifier/prompts.tsv (built reproducibly by
// data/classifier/build_dataset.py; the file is embedded in the binary), plus
// three high-precision overrides: a request with `tools` is tool use, and
// explicit "translate"/"summarize" requests are translation/summarisation.
//
// Classification is about a microsecond (at most kMaxChars of text are read).
// builtin() trains once per process (about 0.2 s) on first use; thread-safe.
// A trained classifier is immutable and safe to share between threads.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace dg::engine {

class Tokens;

enum class Capability : uint8_t {
  kMath = 0,
  kCode,
  kReasoning,
  kWriting,
  kSummarization,
  kTranslation,
  kFactualQa,
  kScience,
  kConversation,
  kExtraction,
  kToolUse,
  kOther,
};
inline constexpr int kCapabilityCount = 12;
const char* capability_name(Capability c);
std::optional<Capability> capability_from_name(std::string_view name);

struct LabelledPrompt {
  Capability label;
  std::string source;
  std::string text;
};

// Parses "label<TAB>source<TAB>text" lines; lines with an unknown label are skipped.
std::vector<LabelledPrompt> parse_labelled_tsv(std::string_view tsv);
// The embedded data/classifier/prompts.tsv.
std::string_view builtin_training_tsv();

class CapabilityClassifier {
 public:
  static constexpr int kBucketBits = 16;
  static constexpr size_t kMaxChars = 1000;
  static constexpr size_t kMaxFeatures = 512;

  // Deterministic for a given seed.
  static CapabilityClassifier train(const std::vector<LabelledPrompt>& data, uint64_t seed = 1,
                                    int epochs = 6);
  // Trained from the embedded data on first use.
  static const CapabilityClassifier& builtin();

  // Model only (no overrides); `lower` is the lower-cased prompt. Reads at most
  // kMaxChars bytes; no allocation once the thread's token buffer has grown.
  // The features are those of training (word unigrams and bigrams in order,
  // then the code/formula punctuation marks), capped at kMaxFeatures; the cap
  // means only the first kMaxFeatures / 2 tokens count.
  Capability predict(std::string_view lower) const;
  // The same over the tokens of the lower-cased prompt (Tokens::assign, text.h),
  // of any length: it reads the tokens and text of the first kMaxChars bytes.
  Capability predict(const Tokens& tokens) const;
  // The straightforward path (training's feature extraction, scalar
  // accumulation): slower, kept so tests can check predict() against it.
  // Always returns the same label as predict().
  Capability predict_reference(std::string_view lower) const;
  // Model plus the overrides; `lower` is the lower-cased prompt.
  Capability classify(std::string_view lower, bool has_tools) const;
  // Same, over the prompt's tokens with its cues already scanned (scan_cues in
  // text.h): what features.cc calls, tokenising once for both.
  Capability classify(const Tokens& tokens, bool has_tools, uint32_t cues) const;

 private:
  CapabilityClassifier() = default;
  template <typename Fn>
  static void features(std::string_view lower, Fn&& fn);
  Capability argmax(const int32_t* acc, uint32_t nf) const;
  void quantize();          // float weights -> int16 (1.5 MiB, cache-friendly)
  std::vector<float> w_;    // training weights, (1 << kBucketBits) * kCapabilityCount
  std::vector<int16_t> q_;  // quantised weights used by predict()
  float qscale_ = 1.0f;
  std::array<float, kCapabilityCount> bias_{};
};

}  // namespace dg::engine
