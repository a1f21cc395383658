// The forward stage: the last step of the chain, which sends the exchange to an
// upstream and relays the answer.
//
// It is not a dg::Stage: Stage hooks are synchronous, and forwarding is the
// one step that waits on the network. The gateway calls forward() after the
// chain let the request through (config lists "forward" last in
// [stages] order; it cannot be off).
//
// Routing: POST /v1/chat/completions and /v1/completions go to an upstream
// serving the request's "model": upstreams listing the model by name first,
// else those listing "*"; round robin among those (per worker thread).
// GET /v1/models: when every upstream lists its models by name, answered
// locally from those names (merged, de-duplicated: models_body()); when some
// upstream serves "*", proxied to one of those (round robin), whose list is
// the authority on what "*" means.
//
// Streaming: the upstream's SSE events are relayed as they arrive, whole events
// only (an unfinished event is held until its blank line). With no transform
// attached the bytes pass untouched; with transforms each event is parsed and
// passed through pipeline::StreamTransformer. The response head goes out as
// soon as the upstream's head arrives.
//
// Failures: upstream unreachable or refusing -> 502 upstream_unreachable;
// connect / first-byte / idle timeout before the head -> 504 upstream_timeout;
// the upstream dying or stalling mid-stream -> the client's stream ends with
// `data: {"error":{...,"code":"upstream_failed"}}` and ctx.upstream_failed.
// A pooled connection that fails before any response byte is retried once on
// a fresh connection (the upstream closed it while idle). A client that goes
// away cancels the upstream request: its connection is closed at once.
//
// Captured into ctx: status, prompt/completion tokens (the upstream's usage;
// for streams the usage chunk if any, otherwise an estimate, marked
// "estimated": true), finish_reason per choice, and the answer text when
// keep_content (ctx.response_summary, in the exchange-log response shape).
// Non-streamed bodies are parsed once; stream chunks are parsed only when a
// transform needs them, content is kept, or the chunk carries usage.
//
// Thread-safety: Forwarder is immutable and shared; WorkerState is per worker
// thread (upstream pool, round-robin counter).
#pragma once

#include <boost/asio/awaitable.hpp>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "distillguard/stage.h"
#include "http/server.h"
#include "http/upstream.h"

namespace dg::forward {

namespace net = boost::asio;

struct ForwardOptions {
  bool keep_content = true;  // collect answer text into ctx.response_summary
  size_t max_response_bytes = 64 << 20;  // non-streamed upstream bodies
};

// What happened, for metrics.
struct ForwardResult {
  std::optional<LocalReply> error;   // set when nothing was sent yet: the caller replies
  double upstream_first_byte_ms = -1;  // request sent -> response head; -1 = none
  bool client_gone = false;
  bool streamed = false;
  int upstream = -1;                 // index of the upstream used
};

class Forwarder {
 public:
  struct WorkerState {
    WorkerState(net::io_context& ioc, std::shared_ptr<const http::UpstreamSet> set)
        : pool(ioc, std::move(set)) {}
    http::UpstreamPool pool;
    uint64_t rr = 0;
    int active_streams = 0;
  };

  static Result<std::shared_ptr<Forwarder>> create(std::shared_ptr<const http::UpstreamSet> set,
                                                   ForwardOptions options);

  const http::UpstreamSet& upstreams() const { return *set_; }
  std::shared_ptr<const http::UpstreamSet> upstream_set() const { return set_; }

  // Proxies ctx.request (raw_body: the client's bytes, sent as is unless
  // ctx.request_modified) for ctx.endpoint and writes the response on `conn`.
  net::awaitable<ForwardResult> forward(ExchangeContext& ctx, std::string_view raw_body,
                                        http::Connection& conn, WorkerState& ws) const;

  // The /v1/models body, when models_local().
  const std::string& models_body() const { return models_body_; }
  bool models_local() const { return wildcard_.empty(); }
  // Whether some upstream serves `model`.
  bool has_model(std::string_view model) const;

 private:
  Forwarder() = default;
  // Candidate upstreams for a model (empty if none).
  const std::vector<size_t>& candidates(std::string_view model) const;

  std::shared_ptr<const http::UpstreamSet> set_;
  ForwardOptions options_;
  std::map<std::string, std::vector<size_t>, std::less<>> by_model_;
  std::vector<size_t> wildcard_;
  std::string models_body_;
};

// Cheap helpers, exposed for tests. The string value of `"key": "..."` in a
// JSON text (first occurrence, escapes left as they are), or nullopt.
std::optional<std::string_view> find_json_string(std::string_view json, std::string_view key);
// Rough token estimate for a request body's prompt (characters / 4).
int64_t estimate_prompt_tokens(const boost::json::object& request);

}  // namespace dg::forward
