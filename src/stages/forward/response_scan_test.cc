#include "stages/forward/response_scan.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <string>
#include <vector>

namespace dg::forward {
namespace {
namespace json = boost::json;

// The same fields read from the parsed tree, as the forwarder did before the
// scanner (the reference the scanner must agree with).
struct Expected {
  bool ok = false;
  bool has_error = false;
  bool has_usage = false;
  int64_t prompt = 0, completion = 0;
  std::vector<ScannedChoice> choices;
};

Expected reference(std::string_view text, ResponseShape shape) {
  Expected e;
  json::error_code ec;
  json::value v = json::parse(text, ec);
  if (ec || !v.is_object()) return e;
  e.ok = true;
  const json::object& o = v.get_object();
  e.has_error = o.contains("error");
  if (auto u = o.find("usage"); u != o.end() && u->value().is_object()) {
    e.has_usage = true;
    auto num = [&](std::string_view k) -> int64_t {
      auto f = u->value().get_object().find(k);
      if (f == u->value().get_object().end()) return 0;
      // (The old reader's to_number<int64_t>() threw on a fraction or on a
      // count above INT64_MAX; the scanner truncates and clamps.)
      if (f->value().is_int64()) return f->value().get_int64();
      if (f->value().is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(f->value().get_uint64(), INT64_MAX));
      if (f->value().is_double()) return static_cast<int64_t>(f->value().get_double());
      return 0;
    };
    e.prompt = num("prompt_tokens");
    e.completion = num("completion_tokens");
  }
  auto ch = o.find("choices");
  if (ch == o.end() || !ch->value().is_array()) return e;
  for (const auto& cv : ch->value().get_array()) {
    if (!cv.is_object()) continue;
    const auto& c = cv.get_object();
    ScannedChoice s;
    if (auto it = c.find("index"); it != c.end() && it->value().is_int64()) {
      int64_t i = it->value().get_int64();
      if (i >= 0 && i < 128) s.index = static_cast<size_t>(i);
    }
    if (auto f = c.find("finish_reason"); f != c.end() && f->value().is_string()) {
      s.has_finish = true;
      s.finish = f->value().get_string();
    }
    const json::object* src = &c;
    if (shape != ResponseShape::kText) {
      auto m = c.find(shape == ResponseShape::kChatBody ? "message" : "delta");
      src = m != c.end() && m->value().is_object() ? &m->value().get_object() : nullptr;
    }
    if (src) {
      auto t = src->find(shape == ResponseShape::kText ? "text" : "content");
      if (t != src->end() && t->value().is_string()) {
        s.has_content = true;
        s.content = t->value().get_string();
      }
      auto r = src->find("reasoning_content");
      if (r != src->end() && r->value().is_string()) {
        s.has_reasoning = true;
        s.reasoning = r->value().get_string();
      }
    }
    e.choices.push_back(s);
  }
  return e;
}

void expect_same(ResponseScanner& scanner, std::string_view text, ResponseShape shape) {
  SCOPED_TRACE(std::string(text.substr(0, 200)));
  Expected e = reference(text, shape);
  ScanResult r = scanner.scan(text, shape);
  ASSERT_EQ(r.ok, e.ok);
  if (!e.ok) return;
  EXPECT_EQ(r.has_error, e.has_error);
  EXPECT_EQ(r.has_usage, e.has_usage);
  if (e.has_usage) {
    EXPECT_EQ(r.prompt_tokens, e.prompt);
    EXPECT_EQ(r.completion_tokens, e.completion);
  }
  ASSERT_EQ(r.choice_count, e.choices.size());
  for (size_t i = 0; i < e.choices.size(); ++i) {
    const ScannedChoice& a = r.choices[i];
    const ScannedChoice& b = e.choices[i];
    EXPECT_EQ(a.index, b.index) << "choice " << i;
    EXPECT_EQ(a.has_finish, b.has_finish) << "choice " << i;
    if (b.has_finish) {
      EXPECT_EQ(a.finish, b.finish);
    }
    EXPECT_EQ(a.has_content, b.has_content) << "choice " << i;
    if (b.has_content) {
      EXPECT_EQ(a.content, b.content);
    }
    EXPECT_EQ(a.has_reasoning, b.has_reasoning) << "choice " << i;
    if (b.has_reasoning) {
      EXPECT_EQ(a.reasoning, b.reasoning);
    }
  }
}

TEST(ResponseScanner, ReadsAChatCompletionBody) {
  ResponseScanner s;
  const std::string body =
      R"({"id":"chatcmpl-1","object":"chat.completion","created":1,"model":"m",)"
      R"("choices":[{"index":0,"message":{"role":"assistant","content":"Hello \"there\"\n",)"
      R"("reasoning_content":"think"},"finish_reason":"stop"}],)"
      R"("usage":{"prompt_tokens":12,"completion_tokens":5,"total_tokens":17}})";
  ScanResult r = s.scan(body, ResponseShape::kChatBody);
  ASSERT_TRUE(r.ok);
  EXPECT_FALSE(r.has_error);
  EXPECT_TRUE(r.has_usage);
  EXPECT_EQ(r.prompt_tokens, 12);
  EXPECT_EQ(r.completion_tokens, 5);
  ASSERT_EQ(r.choice_count, 1u);
  EXPECT_EQ(r.choices[0].content, "Hello \"there\"\n");
  EXPECT_EQ(r.choices[0].reasoning, "think");
  EXPECT_EQ(r.choices[0].finish, "stop");
  expect_same(s, body, ResponseShape::kChatBody);
}

TEST(ResponseScanner, AgreesWithTheTreeOnEdgeCases) {
  ResponseScanner s;
  const std::vector<std::string> texts = {
      // stream chunks
      R"({"choices":[{"index":0,"delta":{"role":"assistant"},"finish_reason":null}]})",
      R"({"choices":[{"delta":{"content":"Hi"},"index":1}]})",
      R"({"choices":[],"usage":{"prompt_tokens":3,"completion_tokens":4}})",
      R"({"choices":[{"index":0,"delta":{},"finish_reason":"length"}],"usage":null})",
      // the index after the text; several choices; out-of-range and non-integer indexes
      R"({"choices":[{"message":{"content":"b"},"index":1},{"index":0,"message":{"content":"a"}}]})",
      R"({"choices":[{"index":500,"message":{"content":"x"}},{"index":-1},{"index":1.0},{"index":"2"}]})",
      // duplicate keys: the last one wins
      R"({"usage":{"prompt_tokens":1},"usage":{"completion_tokens":2}})",
      R"({"usage":{"prompt_tokens":1},"usage":7})",
      R"({"choices":[{"index":0}],"choices":"none"})",
      R"({"choices":[{"finish_reason":"stop","finish_reason":null,"message":{"content":"a","content":"b"}}]})",
      R"({"choices":[{"message":{"content":"a"},"message":{"reasoning_content":"r"}}]})",
      R"({"choices":[{"message":{"content":"a"},"message":null}]})",
      // wrong types
      R"({"choices":[{"message":{"content":null,"reasoning_content":5}}]})",
      R"({"choices":[{"message":{"content":["part"]}}]})",
      R"({"choices":[{"message":"text"},7,null,"x",[1]]})",
      R"({"choices":{"0":{"message":{"content":"x"}}}})",
      R"({"usage":{"prompt_tokens":"5","completion_tokens":true}})",
      R"({"usage":{"prompt_tokens":18446744073709551615,"completion_tokens":2.5}})",
      // nesting that looks like the fields but is elsewhere
      R"({"data":{"usage":{"prompt_tokens":9},"choices":[{"message":{"content":"no"}}]}})",
      R"({"choices":[{"message":{"content":"yes","extra":{"content":"no","choices":[]}}}]})",
      R"({"choices":[{"logprobs":{"content":[{"token":"a"}]},"message":{"content":"c"}}]})",
      // errors
      R"({"error":{"message":"boom","type":"server_error","code":null}})",
      R"({"error":null,"choices":[]})",
      // not an object / not JSON
      R"([{"choices":[]}])",
      R"("string")",
      R"(42)",
      R"({"choices":[{"message":{"content":"unterminated})",
      R"({"a":1} {"b":2})",
      R"({"a":1,})",
      R"()",
      "  {\"choices\":[{\"message\":{\"content\":\"ws\"}}]}  \n",
      // unicode escapes and raw UTF-8
      R"({"choices":[{"message":{"content":"caf\u00e9 \ud83d\ude00 – ok"}}]})",
  };
  for (const auto& t : texts) {
    expect_same(s, t, ResponseShape::kChatBody);
    expect_same(s, t, ResponseShape::kChatChunk);
    expect_same(s, t, ResponseShape::kText);
  }
  expect_same(s, R"({"choices":[{"text":"done","reasoning_content":"r","index":0,"finish_reason":"stop"}]})",
              ResponseShape::kText);
}

TEST(ResponseScanner, LongEscapedStringsAndKeysArriveWhole) {
  // Long strings with escapes are handed over in parts by the parser.
  std::string content;
  for (int i = 0; i < 5000; ++i) content += "line \\\"" + std::to_string(i) + "\\\"\\n";
  std::string long_key(9000, 'k');
  const std::string body = R"({")" + long_key + R"(":1,"choices":[{"index":0,"message":{"content":")" +
                           content + R"("}}],"usage":{"prompt_tokens":1,"completion_tokens":2}})";
  ResponseScanner s;
  expect_same(s, body, ResponseShape::kChatBody);
  ScanResult r = s.scan(body, ResponseShape::kChatBody);
  ASSERT_TRUE(r.ok);
  ASSERT_EQ(r.choice_count, 1u);
  EXPECT_GT(r.choices[0].content.size(), 50000u);
  // The scanner is reused: a later, short document is read afresh.
  expect_same(s, R"({"choices":[{"message":{"content":"short"}}]})", ResponseShape::kChatBody);
}

TEST(ResponseScanner, RejectsTooDeepDocumentsLikeTheTree) {
  std::string deep = R"({"choices":[{"message":{"content":"x"}}],"x":)";
  for (int i = 0; i < 40; ++i) deep += "[";
  for (int i = 0; i < 40; ++i) deep += "]";
  deep += "}";
  ResponseScanner s;
  expect_same(s, deep, ResponseShape::kChatBody);
}

}  // namespace
}  // namespace dg::forward
