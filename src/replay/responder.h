// The replay upstream's request handling, without networking: turns one HTTP
// request (method, path, body) into a Reply — a status and JSON body, or a list of
// Server-Sent Events with the delay before each — so it is unit-testable and the
// server only moves bytes and waits.
//
// Endpoints: POST /v1/chat/completions, POST /v1/completions, GET /v1/models,
// GET /healthz. The answer is the corpus record for the last user message (chat)
// or the prompt (completions); see Corpus::lookup. Honours `n` (1..16), `max_tokens` /
// `max_completion_tokens` (truncates at a token, finish_reason "length"), `stream`,
// `stream_options.include_usage`, `logprobs` / `top_logprobs` (synthesized,
// deterministic), and reasoning: a model whose name contains "reasoning" gets
// `reasoning_content` (deltas first when streamed); a name ending in "-think" gets the
// trace inline as "<think>…</think>" before the answer. Reasoning tokens count in
// `usage.completion_tokens` and are not cut by max_tokens.
// Thread-safe: respond() is const and uses only atomics.
#pragma once

#include <atomic>
#include <string>
#include <string_view>
#include <vector>

#include "distillguard/clock.h"
#include "replay/corpus.h"

namespace dg::replay {

struct ReplayOptions {
  // Generation speed in tokens per second; 0 = as fast as possible.
  double tokens_per_second = 0;
  // Time to first token (stream) or added before the body (non-stream), ms.
  double ttft_ms = 0;
  // Instant fixed small response for every request (the benchmark's mock).
  bool fixed = false;
  // Served model names (GET /v1/models). Requests for other models are still
  // answered unless strict_models is set (then 404 model_not_found).
  std::vector<std::string> models = {"teacher-1", "teacher-reasoning"};
  bool strict_models = false;
  // Tokens per streamed content chunk ("a few words").
  size_t chunk_tokens = 4;
};

struct Reply {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;                  // when !stream
  bool stream = false;
  std::vector<std::string> events;   // when stream: each "data: ...\n\n", last "data: [DONE]\n\n"
  std::vector<TimeNs> delays_ns;     // when stream: wait before events[i]; else before body
  std::string match;                 // "exact" | "nearest" | "fallback" | "fixed" | ""
  std::string source;                // the record's source, when a record answered
};

class Responder {
 public:
  // `corpus` may be null only when options.fixed. Both must outlive the Responder.
  Responder(const Corpus* corpus, ReplayOptions options, const Clock& clock);

  Reply respond(std::string_view method, std::string_view target, std::string_view body) const;

  const ReplayOptions& options() const { return options_; }

 private:
  Reply completions(bool chat, std::string_view body, bool use_cache = true) const;
  // Fixed mode: precomputed replies for plain requests (n=1, no logprobs, no
  // include_usage, no max_tokens below the answer) per (endpoint, stream, model), so
  // the benchmark's mock spends its CPU on HTTP, not on building JSON. Their id and
  // created time are fixed at start-up.
  struct FixedKey {
    bool chat, stream;
    std::string model;
    bool operator==(const FixedKey&) const = default;
  };
  std::vector<std::pair<FixedKey, Reply>> fixed_cache_;

  const Corpus* corpus_;
  ReplayOptions options_;
  const Clock& clock_;
  mutable std::atomic<uint64_t> counter_{0};
};

// {"error":{"message","type","code"}} with the given status.
Reply error_reply(int status, std::string_view message, std::string_view type,
                  std::string_view code);

}  // namespace dg::replay
