#include "gateway/gateway.h"

#include <gtest/gtest.h>

#include "gateway/metrics.h"

namespace dg::gateway {
namespace {

TEST(ParseListen, AcceptsHostPortAndV6) {
  auto a = parse_listen("127.0.0.1:0");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 0);
  auto b = parse_listen("[::1]:8080");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_EQ(b->second, 8080);
  EXPECT_FALSE(parse_listen("localhost").ok());
  EXPECT_FALSE(parse_listen("h:99999").ok());
}

TEST(Metrics, RendersCountersByLabel) {
  MetricsLayout layout({"new", "standard"}, {"up1"});
  WorkerMetrics a = layout.make(), b = layout.make();
  layout.count_request(a, RouteId::kChat, 200, "standard");
  layout.count_request(b, RouteId::kChat, 200, "standard");
  layout.count_request(b, RouteId::kOther, 404, "");
  MetricsLayout::observe_upstream(a, 0.002);
  a.add(b);
  std::string text = layout.render(a, {});
  EXPECT_NE(text.find("dg_requests_total{route=\"/v1/chat/completions\",status=\"200\",tier=\"standard\"} 2\n"),
            std::string::npos);
  EXPECT_NE(text.find("dg_requests_total{route=\"other\",status=\"404\",tier=\"-\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("dg_upstream_first_byte_seconds_bucket{le=\"0.0025\"} 1\n"), std::string::npos);
  EXPECT_NE(text.find("dg_upstream_first_byte_seconds_bucket{le=\"0.001\"} 0\n"), std::string::npos);
}

}  // namespace
}  // namespace dg::gateway
