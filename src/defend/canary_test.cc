#include "defend/canary.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <filesystem>

namespace dg::defend {
namespace {
namespace json = boost::json;

TEST(Canary, ClassifiesPromptKinds) {
  EXPECT_EQ(classify_prompt("What is a monad?"), "definition");
  EXPECT_EQ(classify_prompt("List five rivers in Europe"), "list");
  EXPECT_EQ(classify_prompt("How do I reset my router?"), "howto");
  EXPECT_EQ(classify_prompt("Write a poem about rain"), "");
}

TEST(Canary, SignatureIsKeyedAndStable) {
  const auto a = canary_signature("m", "acct", "list");
  EXPECT_EQ(a, canary_signature("m", "acct", "list"));
  EXPECT_NE(a, canary_signature("m", "acct2", "list"));
  EXPECT_NE(a, canary_signature("m2", "acct", "list"));
  EXPECT_EQ(a.size(), 14u);
  EXPECT_NE(canary_sentence("list", a).find(a), std::string::npos);
  EXPECT_LT(canary_chance(10, 100, 2000), 1e-4);
}

TEST(CanaryRegistry, RoundTrip) {
  const auto dir = std::filesystem::temp_directory_path() / ("dg_canary_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  const std::string path = (dir / "reg.db").string();
  std::filesystem::remove(path);
  {
    auto reg = CanaryRegistry::open(path);
    ASSERT_TRUE(reg.ok()) << reg.status().to_string();
    (*reg)->record({"a1", "list", "Sig One", 100});
    (*reg)->record({"a1", "list", "Sig One", 200});
    (*reg)->record({"a2", "definition", "Sig Two", 150});
    ASSERT_TRUE((*reg)->flush().ok());
  }
  auto reg = CanaryRegistry::open(path);
  ASSERT_TRUE(reg.ok());
  auto rows = (*reg)->list("a1");
  ASSERT_TRUE(rows.ok());
  ASSERT_EQ(rows->size(), 1u);
  EXPECT_EQ((*rows)[0].signature, "Sig One");
  EXPECT_EQ((*rows)[0].count, 2);
  EXPECT_EQ((*rows)[0].first, 100);
  EXPECT_EQ((*rows)[0].last, 200);
  auto all = (*reg)->list("");
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 2u);
  std::filesystem::remove_all(dir);
}

TEST(CanaryTransform, PlantsOnceInBodyAndStream) {
  CanaryTransform t("a", "list", "Velo Kadu", nullptr, 0);
  json::object body = json::parse(R"({"choices":[{"index":0,"message":{"content":"1. x\n2. y"}}]})").as_object();
  t.on_body(body);
  EXPECT_EQ(body["choices"].as_array()[0].as_object()["message"].as_object()["content"].as_string(),
            "1. x\n2. y" + canary_sentence("list", "Velo Kadu"));
  CanaryTransform s("a", "list", "Velo Kadu", nullptr, 0);
  json::object c1 = json::parse(R"({"choices":[{"index":0,"delta":{"content":"1. x"},"finish_reason":null}]})").as_object();
  json::object c2 = json::parse(R"({"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]})").as_object();
  s.on_chunk(c1);
  s.on_chunk(c2);
  std::vector<json::object> extra;
  s.on_stream_end(&c2, extra);
  EXPECT_TRUE(extra.empty());
  EXPECT_EQ(s.planted(), 1);
  EXPECT_EQ(c2["choices"].as_array()[0].as_object()["delta"].as_object()["content"].as_string(),
            canary_sentence("list", "Velo Kadu"));
}

}  // namespace
}  // namespace dg::defend
