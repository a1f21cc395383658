// The OpenAI error body, built in one place.
//
// Every error the gateway answers itself -- its own (bad route, bad JSON,
// upstream down) and a stage's LocalReply (401, 403, 429, ...) -- is rendered
// here as {"error":{"message","type","code"}} with `param: null` as OpenAI
// sends it. The gateway's own errors are listed once, in GatewayError, with
// their status, type and stable reason code (the code reaches the audit log
// and the `dg_local_replies_total{code=...}` metric).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include "distillguard/stage.h"

namespace dg::http {

enum class GatewayError {
  kMalformedJson,      // 400 invalid_request_error / invalid_json
  kBadRequest,         // 400 invalid_request_error / invalid_request (e.g. missing "model")
  kUnknownModel,       // 404 invalid_request_error / model_not_found
  kUnknownRoute,       // 404 invalid_request_error / unknown_url
  kMethodNotAllowed,   // 405 invalid_request_error / method_not_allowed
  kBodyTooLarge,       // 413 invalid_request_error / request_too_large
  kUpstreamUnreachable,// 502 upstream_error / upstream_unreachable
  kUpstreamFailed,     // 502 upstream_error / upstream_failed (died mid-stream, bad response)
  kAuditBacklogFull,   // 503 server_error / audit_backlog_full
  kUpstreamTimeout,    // 504 upstream_error / upstream_timeout
  kInternal,           // 500 server_error / internal_error
};

// A LocalReply for one of the gateway's own errors; `message` is for humans.
LocalReply gateway_error(GatewayError e, std::string message);

// {"error":{"message":...,"type":...,"param":null,"code":...}} (no newline).
std::string error_body(std::string_view message, std::string_view type, std::string_view code);
inline std::string error_body(const LocalReply& r) { return error_body(r.message, r.type, r.code); }

// The SSE event that ends a stream whose upstream failed: "data: {error...}\n\n".
std::string sse_error_event(const LocalReply& r);

}  // namespace dg::http
