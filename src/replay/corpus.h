// The replay corpus: recorded (prompt, response) pairs of real models, and the
// lookup the replay upstream answers from.
//
// lookup(prompt) returns, in order of preference:
//   kExact      the record whose prompt equals `prompt` (after trimming surrounding
//               whitespace), or equals it after lower-casing and collapsing whitespace;
//   kNearest    the record whose prompt is nearest by TF-IDF cosine over lower-cased
//               word tokens (an in-memory inverted index; ties go to the earlier record);
//   kFallback   when no word of `prompt` occurs in any recorded prompt: a record chosen
//               by a hash of the prompt (stable across runs).
// Immutable after create(); lookups are thread-safe. Memory: the records plus one
// posting (doc, weight) per distinct word per record.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "distillguard/status.h"

namespace dg::replay {

struct Record {
  std::string prompt;
  std::string response;
  std::string model;
  std::string source;
  std::string category;
};

enum class MatchKind { kExact, kNearest, kFallback };
const char* match_kind_name(MatchKind kind);

struct Match {
  const Record* record = nullptr;  // never null when the corpus is non-empty
  size_t index = 0;
  MatchKind kind = MatchKind::kFallback;
  double score = 0;  // cosine similarity for kNearest, 1 for kExact, 0 for kFallback
};

class Corpus {
 public:
  // Builds the index. Fails on an empty record list.
  static Result<Corpus> create(std::vector<Record> records);
  // Reads every *.jsonl file in `dir` (sorted by name), one record per line with
  // string fields "prompt" and "response" (required), "model", "source", "category".
  // A malformed line fails with its file and line number.
  static Result<Corpus> load_dir(const std::string& dir);

  Match lookup(std::string_view prompt) const;
  // Records with exactly the same prompt as records_[index] (including it), in file
  // order: used to vary the n choices of one request.
  const std::vector<size_t>& same_prompt(size_t index) const;

  const std::vector<Record>& records() const { return records_; }
  size_t size() const { return records_.size(); }

 private:
  struct Posting {
    uint32_t doc;
    float weight;
  };
  Corpus() = default;
  void build();

  std::vector<Record> records_;
  std::unordered_map<std::string, size_t> exact_;       // trimmed prompt -> first index
  std::unordered_map<std::string, size_t> normalized_;  // normalized prompt -> first index
  std::vector<size_t> group_of_;                        // index -> group id
  std::vector<std::vector<size_t>> groups_;
  std::unordered_map<std::string, std::vector<Posting>> postings_;
  std::unordered_map<std::string, float> idf_;
};

// Lower-cased runs of letters and digits (ASCII; other bytes >= 0x80 kept as part of
// words so non-English text still matches itself).
std::vector<std::string> word_tokens(std::string_view text);
std::string normalize_prompt(std::string_view text);
std::string_view trim(std::string_view text);

}  // namespace dg::replay
