#include "defend/watermark_transform.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>

#include "defend/verify.h"
#include "distillguard/random.h"

namespace dg::defend {
namespace {
namespace json = boost::json;

std::vector<std::string> responses() {
  const char* src = std::getenv("DG_SOURCE_DIR");
  std::ifstream in(std::string(src ? src : ".") + "/data/teacher/teacher.jsonl");
  std::vector<std::string> out;
  std::string line;
  while (std::getline(in, line))
    out.emplace_back(json::parse(line).at("response").as_string().c_str());
  return out;
}

// Streamed SSE chunks (random chunking, finish_reason on a content-less final
// chunk) reassemble to exactly the non-streamed body's content.
TEST(WatermarkTransform, StreamedChunksEqualBody) {
  const auto& t = SynonymTable::builtin();
  const WatermarkKey key = derive_account_key("m", "acct");
  Rng rng(11);
  auto rs = responses();
  for (size_t n = 0; n < rs.size(); n += 5) {
    const std::string& text = rs[n];
    json::object body{
        {"object", "chat.completion"},
        {"choices", json::array{json::object{
                        {"index", 0},
                        {"message", json::object{{"role", "assistant"}, {"content", text}}},
                        {"finish_reason", "stop"}}}}};
    WatermarkTransform whole(t, key, 0.5);
    whole.on_body(body);
    const std::string expect(body["choices"]
                                 .as_array()[0]
                                 .as_object()["message"]
                                 .as_object()["content"]
                                 .as_string()
                                 .c_str());

    auto tally = std::make_shared<WatermarkTally>();
    WatermarkTransform stream(t, key, 0.5, tally);
    std::string got;
    size_t pos = 0;
    json::object last;
    while (pos < text.size()) {
      size_t len = 1 + rng.below(20);
      json::object chunk{
          {"object", "chat.completion.chunk"},
          {"choices",
           json::array{json::object{{"index", 0},
                                    {"delta", json::object{{"content", text.substr(pos, len)}}},
                                    {"finish_reason", nullptr}}}}};
      stream.on_chunk(chunk);
      got += chunk["choices"]
                 .as_array()[0]
                 .as_object()["delta"]
                 .as_object()["content"]
                 .as_string()
                 .c_str();
      pos += len;
      last = chunk;
    }
    if (n % 2 == 0) {  // finish chunk carries finish_reason
      json::object fin{
          {"object", "chat.completion.chunk"},
          {"choices", json::array{json::object{
                          {"index", 0}, {"delta", json::object{}}, {"finish_reason", "stop"}}}}};
      stream.on_chunk(fin);
      auto& d = fin["choices"].as_array()[0].as_object()["delta"].as_object();
      if (d.contains("content")) got += d["content"].as_string().c_str();
    }
    std::vector<json::object> extra;
    stream.on_stream_end(&last, extra);
    for (auto& e : extra)
      got += e["choices"]
                 .as_array()[0]
                 .as_object()["delta"]
                 .as_object()["content"]
                 .as_string()
                 .c_str();
    ASSERT_EQ(got, expect) << n;
  }
}

TEST(WatermarkTransform, ToolCallsUntouched) {
  const auto& t = SynonymTable::builtin();
  json::object body{
      {"choices",
       json::array{json::object{
           {"index", 0},
           {"message",
            json::object{
                {"role", "assistant"},
                {"content", nullptr},
                {"tool_calls",
                 json::array{json::object{
                     {"function",
                      json::object{{"name", "f"},
                                   {"arguments", "{\"often\": \"often quickly\"}"}}}}}}}}}}}};
  const std::string before = json::serialize(body);
  WatermarkTransform w(t, derive_account_key("m", "a"), 1.0);
  w.on_body(body);
  EXPECT_EQ(json::serialize(body), before);
}

// Among 200 account keys, text watermarked for one of them is attributed to
// it, and clean text is attributed to nobody.
TEST(Verify, AttributesAmongManyKeys) {
  const auto& t = SynonymTable::builtin();
  VerifyOptions opt;
  for (int i = 0; i < 200; ++i) {
    std::string a = "acct-";
    a += std::to_string(i);
    opt.keys.push_back({a, derive_account_key("master", a)});
  }
  auto rs = responses();
  std::string clean, marked;
  for (size_t i = 0; i < rs.size(); ++i) {
    clean += rs[i] + "\n\n";
    marked += watermark_text(t, opt.keys[137].key, 0.5, rs[i]) + "\n\n";
  }
  VerifyResult m = verify_text(t, marked, opt);
  EXPECT_EQ(m.account, "acct-137");
  EXPECT_LT(m.account_p_value, 1e-6);
  VerifyResult c = verify_text(t, clean, opt);
  EXPECT_EQ(c.account, "");
  EXPECT_GT(c.account_p_value, 1e-3);
  opt.account = "acct-5";
  VerifyResult named = verify_text(t, marked, opt);
  EXPECT_GT(named.p_value, 1e-3);
  EXPECT_EQ(named.account, "acct-137");
}

}  // namespace
}  // namespace dg::defend
