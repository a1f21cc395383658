#include "http/errors.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace dg::http {
namespace {

TEST(Errors, BodyIsOpenAiShapedAndEscaped) {
  auto v = boost::json::parse(error_body("bad \"thing\"\n", "invalid_request_error", "invalid_json"));
  const auto& e = v.at("error");
  EXPECT_EQ(e.at("message").as_string(), "bad \"thing\"\n");
  EXPECT_EQ(e.at("type").as_string(), "invalid_request_error");
  EXPECT_EQ(e.at("code").as_string(), "invalid_json");
  EXPECT_TRUE(e.at("param").is_null());
}

TEST(Errors, GatewayErrorsHaveTheirStatus) {
  EXPECT_EQ(gateway_error(GatewayError::kMalformedJson, "x").status, 400);
  EXPECT_EQ(gateway_error(GatewayError::kUnknownRoute, "x").status, 404);
  EXPECT_EQ(gateway_error(GatewayError::kMethodNotAllowed, "x").status, 405);
  EXPECT_EQ(gateway_error(GatewayError::kBodyTooLarge, "x").status, 413);
  EXPECT_EQ(gateway_error(GatewayError::kUpstreamUnreachable, "x").status, 502);
  EXPECT_EQ(gateway_error(GatewayError::kUpstreamTimeout, "x").status, 504);
  EXPECT_EQ(gateway_error(GatewayError::kAuditBacklogFull, "x").status, 503);
}

TEST(Errors, SseErrorEventIsOneDataLine) {
  std::string ev = sse_error_event(gateway_error(GatewayError::kUpstreamFailed, "gone"));
  EXPECT_EQ(ev.rfind("data: {\"error\":", 0), 0u);
  EXPECT_EQ(ev.substr(ev.size() - 2), "\n\n");
}

}  // namespace
}  // namespace dg::http
