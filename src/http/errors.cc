#include "http/errors.h"

#include <boost/json/serialize.hpp>
#include <boost/json/string.hpp>

namespace dg::http {
namespace {

struct ErrorInfo {
  int status;
  const char* type;
  const char* code;
};

ErrorInfo info(GatewayError e) {
  switch (e) {
    case GatewayError::kMalformedJson: return {400, "invalid_request_error", "invalid_json"};
    case GatewayError::kBadRequest: return {400, "invalid_request_error", "invalid_request"};
    case GatewayError::kUnknownModel: return {404, "invalid_request_error", "model_not_found"};
    case GatewayError::kUnknownRoute: return {404, "invalid_request_error", "unknown_url"};
    case GatewayError::kMethodNotAllowed: return {405, "invalid_request_error", "method_not_allowed"};
    case GatewayError::kBodyTooLarge: return {413, "invalid_request_error", "request_too_large"};
    case GatewayError::kUpstreamUnreachable: return {502, "upstream_error", "upstream_unreachable"};
    case GatewayError::kUpstreamFailed: return {502, "upstream_error", "upstream_failed"};
    case GatewayError::kAuditBacklogFull: return {503, "server_error", "audit_backlog_full"};
    case GatewayError::kUpstreamTimeout: return {504, "upstream_error", "upstream_timeout"};
    case GatewayError::kInternal: return {500, "server_error", "internal_error"};
  }
  return {500, "server_error", "internal_error"};
}

void append_json_string(std::string& out, std::string_view s) {
  out += boost::json::serialize(boost::json::string(s));
}

}  // namespace

LocalReply gateway_error(GatewayError e, std::string message) {
  ErrorInfo i = info(e);
  LocalReply r;
  r.status = i.status;
  r.type = i.type;
  r.code = i.code;
  r.message = std::move(message);
  return r;
}

std::string error_body(std::string_view message, std::string_view type, std::string_view code) {
  std::string out;
  out.reserve(64 + message.size() + type.size() + code.size());
  out += "{\"error\":{\"message\":";
  append_json_string(out, message);
  out += ",\"type\":";
  append_json_string(out, type);
  out += ",\"param\":null,\"code\":";
  if (code.empty()) out += "null";
  else append_json_string(out, code);
  out += "}}";
  return out;
}

std::string sse_error_event(const LocalReply& r) {
  return "data: " + error_body(r) + "\n\n";
}

}  // namespace dg::http
