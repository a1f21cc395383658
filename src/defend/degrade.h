// The `degrade` rung's response edits:
//  - LogprobTransform: keyed, deterministic perturbation of returned
//    log-probabilities (chat `choices[].logprobs.content[]`, streamed or not).
//    At each position the top alternative keeps its rank (argmax preserved),
//    so the returned text and top token are unchanged; every other
//    alternative's log-probability gets noise drawn from
//      SHA-256(key ‖ request fingerprint ‖ position ‖ token)
//    scaled by `sigma` (nats), is clamped strictly below the top one, and the
//    list is re-sorted. The sampled token's `logprob` follows its entry. The
//    same request (same fingerprint) gets the same numbers, so asking again
//    and averaging does not remove the noise.
//  - ReasoningTransform: `reasoning_content` fields and <think>…</think>
//    spans in content are withheld, or replaced by a short summary (the first
//    sentence, at most `summary_words` words, prefixed "[reasoning summary] ";
//    deterministic, no model). Streamed: only a bounded prefix of the
//    reasoning is held (max(4096, 64 × summary_words) bytes) for the summary.
//    Streamed: tags split across chunks are handled (only a possible tag
//    prefix is held back).
//  - cap_output_tokens(): the output length cap, applied to the request.
//
// Thread-safety: transforms are per response; functions are pure.
#pragma once

#include <boost/json/object.hpp>
#include <string>
#include <vector>

#include "common/hash.h"
#include "distillguard/stage.h"
#include "pipeline/text_chunk.h"

namespace dg::defend {

// Fingerprint of a request for deterministic perturbation: SHA-256 of the
// account and the request body serialized with sorted keys.
Sha256 request_fingerprint(std::string_view account, const boost::json::object& request);

// A TextChunkTransform too: a text-path chunk has no log-probabilities (the
// scan sends chunks with non-null `logprobs` to the tree path), so nothing to do.
class LogprobTransform : public ResponseTransform, public pipeline::TextChunkTransform {
 public:
  LogprobTransform(const Sha256& key, const Sha256& request_fp, double sigma = 1.5)
      : key_(key), fp_(request_fp), sigma_(sigma) {}
  void on_body(boost::json::object& body) override;
  void on_chunk(boost::json::object& chunk) override;
  void on_text_chunk(pipeline::TextChunk& c) override { (void)c; }

  // Perturbs one position's entry {token, logprob, top_logprobs:[...]} in place.
  void perturb_entry(boost::json::object& entry, int64_t position, int64_t choice);

 private:
  void perturb_choices(boost::json::object& obj);
  double noise(int64_t choice, int64_t position, std::string_view token);

  Sha256 key_;
  Sha256 fp_;
  double sigma_;
  std::vector<std::pair<int64_t, int64_t>> positions_;  // per choice: tokens seen (streaming)
  std::string scratch_;
};

enum class ReasoningMode { kKeep, kWithhold, kSummarize };

// "keep" | "withhold" | "summarize".
Result<ReasoningMode> parse_reasoning_mode(std::string_view s);

// First sentence of `text`, at most `max_words` words (an ellipsis marks a cut).
std::string summarize_reasoning(std::string_view text, int max_words);

// A TextChunkTransform too: content-only chunks need no tree, except the
// first content after reasoning in summarize mode (it adds reasoning_content).
class ReasoningTransform : public ResponseTransform, public pipeline::TextChunkTransform {
 public:
  explicit ReasoningTransform(ReasoningMode mode, int summary_words = 30)
      : mode_(mode), summary_words_(summary_words) {}
  void on_body(boost::json::object& body) override;
  void on_chunk(boost::json::object& chunk) override;
  void on_stream_end(const boost::json::object* last,
                     std::vector<boost::json::object>& extra) override;
  bool needs_tree(int64_t index) const override;
  void on_text_chunk(pipeline::TextChunk& c) override;

  // Number of reasoning characters withheld so far.
  int64_t withheld_chars() const { return withheld_; }

 private:
  struct StreamState {
    int64_t index = 0;
    bool in_think = false;
    std::string pending;    // possible partial tag at chunk end
    std::string reasoning;  // a bounded prefix of the reasoning (for the summary)
    bool summary_sent = false;
  };
  StreamState& state(int64_t index);
  // True if the summary goes out with this state's next content (in front of it).
  bool summary_due(const StreamState& st) const {
    return mode_ == ReasoningMode::kSummarize && !st.in_think && !st.reasoning.empty() &&
           !st.summary_sent;
  }
  // A streamed chat choice's content step, shared by on_chunk and
  // on_text_chunk: `content` is the delta's content string (null: none);
  // returns true with the new value in `out` if the field is to be written.
  bool content_step(StreamState& st, const std::string_view* content, bool finished,
                    std::string& out);
  // Filters streamed content; returns the text to emit.
  std::string filter_content(StreamState& st, std::string_view in, bool final);
  std::string summary_text(const std::string& reasoning) const;
  void keep_for_summary(StreamState& st, std::string_view text);

  ReasoningMode mode_;
  int summary_words_;
  int64_t withheld_ = 0;
  std::vector<StreamState> states_;
};

// Lowers the request's max_tokens / max_completion_tokens to `cap` (sets
// max_tokens when neither is present). Returns true if the request changed.
bool cap_output_tokens(boost::json::object& request, int64_t cap);

}  // namespace dg::defend
