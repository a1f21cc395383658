// The stage chain: the one small interface every gateway defence implements.
//
// A request passes the configured stages in order (auth → classify → limit →
// assess → policy → … → forward). Each stage has an immutable, validated
// config shared by all requests (its constructor / create()) and works on the
// per-request ExchangeContext. A stage may:
//   - let the exchange go on:        return FilterStatus::kContinue;
//   - answer the request itself:     ctx.reply(LocalReply{...}); return kStop;
//   - attach a response transform:   ctx.add_transform(std::make_unique<...>());
// Adding a defence means adding a stage, never editing the others.
//
// Threading: a Stage object is shared by all requests on all threads; its
// hooks must be thread-safe (per-request state lives in the context). Hooks
// run on the I/O thread and must not block on disk or network.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/exchange_record.h"

namespace dg {

// What the gateway did with an exchange (the record's `action`), in rising order.
enum class Action { kAllow = 0, kThrottle, kDegrade, kTrace, kBlock };
const char* action_name(Action a);

// off: the stage is skipped. shadow: decides and records, does not act. enforce: acts.
enum class StageMode { kOff, kShadow, kEnforce };

enum class FilterStatus { kContinue, kStop };

// A reply the gateway gives itself, in the OpenAI error shape
// {"error":{"message","type","code"}}. `code` is a stable reason code
// (rate_limited, invalid_api_key, account_disabled, ...) that reaches the audit
// log and the metrics.
struct LocalReply {
  int status = 500;
  std::string type;     // e.g. "invalid_request_error", "rate_limit_error"
  std::string code;     // stable reason code
  std::string message;  // for humans
  std::vector<std::pair<std::string, std::string>> headers;  // e.g. Retry-After
};

// Edits the response content on its way to the client. Attached per request by
// a stage; owned by the context. Streamed responses are never buffered whole:
// on_chunk sees each SSE `data:` object as it arrives.
class ResponseTransform {
 public:
  virtual ~ResponseTransform() = default;
  // Non-streamed response: the whole body (chat.completion / text_completion).
  virtual void on_body(boost::json::object& body) = 0;
  // Streamed response: one chunk object, in order. May edit it in place (e.g.
  // hold back the tail of an unfinished word).
  virtual void on_chunk(boost::json::object& chunk) = 0;
  // Streamed response, after the last chunk and before [DONE]: append chunks
  // that flush anything held back. `last` is the last chunk seen (a template
  // for id/model/created), or null if there was none.
  virtual void on_stream_end(const boost::json::object* last,
                             std::vector<boost::json::object>& extra_chunks) {
    (void)last;
    (void)extra_chunks;
  }
};

// The account a request authenticated as.
struct AccountInfo {
  std::string account;
  std::string key_id;
  std::string tier;
  TimeNs created = 0;
};

// Per-request state. Created by the server for each request, destroyed after
// the exchange record is written.
class ExchangeContext {
 public:
  // --- request, filled by the server before the first stage
  TimeNs arrived = 0;
  std::string method;
  std::string endpoint;  // path, e.g. /v1/chat/completions
  std::string client_ip;
  std::string user_agent;
  std::string headers_fp;
  std::string bearer_token;     // the secret; never copied into a record
  boost::json::object request;  // parsed body (empty for GET)
  bool stream = false;

  // --- filled by stages
  AccountInfo account;  // by auth
  std::string capability;  // by classify (may stay empty)
  double risk = 0.0;       // by assess
  Action action = Action::kAllow;  // by policy
  // By policy, for the limit stage after it: the share (0, 1] of its limits the
  // account keeps (lowered at throttle and above, 1 for allow). Unset: the limit
  // stage's own rule (risk_multiplier(risk)).
  std::optional<double> limit_multiplier;
  int64_t estimated_tokens = 0;    // charged at admission by limit
  // Extra headers for the client's response, local reply or not (e.g. x-ratelimit-*).
  std::vector<std::pair<std::string, std::string>> response_headers;
  // Why each stage decided what it did, for the record and the audit log
  // (e.g. {"limit", "tokens_per_minute 90% used"}).
  std::vector<std::pair<std::string, std::string>> notes;

  // --- response, filled by the forward stage / server
  int status = 0;
  boost::json::object response_summary;  // usage, choices[].finish_reason, content
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  bool upstream_failed = false;
  std::string upstream_error;

  void reply(LocalReply r) { local_reply_ = std::make_unique<LocalReply>(std::move(r)); }
  const LocalReply* local_reply() const { return local_reply_.get(); }
  // Removes and returns the local reply (the chain runner uses it for shadow mode).
  std::unique_ptr<LocalReply> take_reply() { return std::move(local_reply_); }

  // Set by a stage that edited `request` (e.g. capped max_tokens): the forward
  // stage then sends the edited body instead of the client's bytes.
  bool request_modified = false;

  void add_transform(std::unique_ptr<ResponseTransform> t) { transforms_.push_back(std::move(t)); }
  std::vector<std::unique_ptr<ResponseTransform>>& transforms() { return transforms_; }

 private:
  std::unique_ptr<LocalReply> local_reply_;
  std::vector<std::unique_ptr<ResponseTransform>> transforms_;
};

class Stage {
 public:
  virtual ~Stage() = default;
  // Stable name used in config, metrics and logs ("auth", "limit", ...).
  virtual std::string_view name() const = 0;
  // Request path, in chain order. Return kStop only after ctx.reply().
  virtual FilterStatus on_request(ExchangeContext& ctx) = 0;
  // After the response has ended (or failed, or a local reply was sent), in
  // reverse chain order, before the record is written: reconcile token charges,
  // feed the engine. Called for every stage whose on_request ran.
  virtual void on_complete(ExchangeContext& ctx) { (void)ctx; }
};

}  // namespace dg
