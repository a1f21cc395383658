#include "stages/forward/forwarder.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>

namespace dg::forward {
namespace {

TEST(FindJsonString, FindsValuesWithOrWithoutSpaces) {
  EXPECT_EQ(find_json_string(R"({"finish_reason":"stop"})", "finish_reason").value(), "stop");
  EXPECT_EQ(find_json_string(R"({"finish_reason": "length"})", "finish_reason").value(), "length");
  EXPECT_FALSE(find_json_string(R"({"finish_reason":null})", "finish_reason").has_value());
  EXPECT_EQ(find_json_string(R"({"x_content":"no","content":"a\"b"})", "content").value(), R"(a\"b)");
}

TEST(EstimatePromptTokens, CountsMessagesAndPrompt) {
  auto chat = boost::json::parse(R"({"messages":[{"role":"user","content":"0123456789abcdef"}]})").as_object();
  EXPECT_EQ(estimate_prompt_tokens(chat), 8);
  auto comp = boost::json::parse(R"({"prompt":"01234567"})").as_object();
  EXPECT_EQ(estimate_prompt_tokens(comp), 2);
}

TEST(Forwarder, RoutesByModelAndListsModels) {
  std::vector<http::UpstreamTarget> ts;
  for (const char* url : {"http://127.0.0.1:1", "http://127.0.0.1:2/v1"}) {
    auto t = http::UpstreamTarget::from_url(url);
    ASSERT_TRUE(t.ok());
    ts.push_back(*t);
  }
  ts[0].models = {"a", "b"};
  ts[1].models = {"*"};
  auto set = http::UpstreamSet::create(ts);
  ASSERT_TRUE(set.ok());
  auto f = Forwarder::create(*set, {});
  ASSERT_TRUE(f.ok());
  EXPECT_TRUE((*f)->has_model("a"));
  EXPECT_TRUE((*f)->has_model("zzz"));  // the wildcard upstream
  auto models = boost::json::parse((*f)->models_body());
  EXPECT_EQ(models.at("data").as_array().size(), 2u);
  EXPECT_EQ(models.at("data").as_array()[0].at("id").as_string(), "a");
}

TEST(UpstreamTarget, ParsesUrls) {
  auto t = http::UpstreamTarget::from_url("https://api.example.com/openai/v1/");
  ASSERT_TRUE(t.ok());
  EXPECT_TRUE(t->tls);
  EXPECT_EQ(t->port, "443");
  EXPECT_EQ(t->base_path, "/openai/v1");
  EXPECT_EQ(t->host_header, "api.example.com");
  EXPECT_FALSE(http::UpstreamTarget::from_url("ftp://x").ok());
  auto p = http::UpstreamTarget::from_url("http://127.0.0.1:8000");
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->base_path, "/v1");
  EXPECT_EQ(p->host_header, "127.0.0.1:8000");
}

}  // namespace
}  // namespace dg::forward
