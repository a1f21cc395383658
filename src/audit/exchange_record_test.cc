#include "distillguard/exchange_record.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdio>
#include <string>
#include <utility>

namespace dg {
namespace {

constexpr const char* kSpecExample =
    R"({"ts":"2026-02-01T12:00:00.123Z","account":"acct_9f2","key_id":"key_77","ip":"198.51.100.23","user_agent":"openai-python/1.51.0","endpoint":"/v1/chat/completions","request":{"model":"teacher-1","messages":[{"role":"user","content":"Solve step by step: a train leaves..."}],"temperature":0},"response":{"usage":{"prompt_tokens":41,"completion_tokens":212},"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"..."}}]},"status":200,"latency_ms":812})";

TEST(ExchangeRecord, ParsesSpecExampleAndRoundTrips) {
  auto r = parse_exchange_record(kSpecExample);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->account, "acct_9f2");
  EXPECT_EQ(r->key_id, "key_77");
  EXPECT_EQ(*r->status, 200);
  EXPECT_EQ(format_rfc3339(r->ts), "2026-02-01T12:00:00.123Z");
  EXPECT_EQ(to_json_line(*r), kSpecExample);
}

TEST(ExchangeRecord, LatencyIsAPlainDecimal) {
  auto r = parse_exchange_record(
      R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/v1/completions","request":{},"latency_ms":20.97100})");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(to_json_line(*r).find(R"("latency_ms":20.971)"), std::string::npos) << to_json_line(*r);
  r->latency_ms = 0.0004;
  EXPECT_NE(to_json_line(*r).find(R"("latency_ms":0})"), std::string::npos) << to_json_line(*r);
}

// latency_ms is written as printf("%.3f") would, trailing zeros trimmed,
// including its rounding of ties and large values.
TEST(ExchangeRecord, LatencyMatchesPrintfRounding) {
  ExchangeRecord r;
  r.account = "a";
  r.endpoint = "/v1/completions";
  for (double v : {0.0, 1.0, 0.0625, 0.0005, 2.0005, 123.4565, 812.0, 20.97100, 1e10 + 0.25,
                   1234567.891, 0.1 + 0.2, -0.0, 1e300}) {
    r.latency_ms = v;
    char buf[512];
    int n = std::snprintf(buf, sizeof buf, "%.3f", v);
    while (n > 0 && buf[n - 1] == '0') --n;
    if (n > 0 && buf[n - 1] == '.') --n;
    const std::string want = "\"latency_ms\":" + std::string(buf, static_cast<size_t>(n)) + "}";
    const std::string line = to_json_line(r);
    EXPECT_EQ(line.substr(line.size() - want.size()), want) << v;
  }
}

TEST(ExchangeRecord, KeepsUnknownFields) {
  auto r = parse_exchange_record(
      R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/v1/completions","request":{"prompt":"x"},"vendor_field":[1,2]})");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(to_json_line(*r).find(R"("vendor_field":[1,2])"), std::string::npos);
}

TEST(ExchangeRecord, ErrorsNameTheField) {
  auto missing =
      parse_exchange_record(R"({"ts":"2026-02-01T12:00:00Z","endpoint":"/x","request":{}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'account'"), std::string::npos);
  auto bad_ts =
      parse_exchange_record(R"({"ts":"yesterday","account":"a","endpoint":"/x","request":{}})");
  ASSERT_FALSE(bad_ts.ok());
  EXPECT_NE(bad_ts.status().message().find("'ts'"), std::string::npos);
  EXPECT_FALSE(parse_exchange_record("{not json").ok());
  EXPECT_FALSE(parse_exchange_record("[1]").ok());
}

constexpr const char* kWithText =
    R"({"ts":"2026-02-01T12:00:00.000Z","account":"a","endpoint":"/v1/chat/completions","request":{"messages":[{"role":"user","content":"hi"}],"logprobs":true},"response":{"id":"r1","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"the answer","reasoning_content":"because","tool_calls":[]},"logprobs":{"content":[{"token":"the","logprob":-0.1}]}},{"index":1,"text":"other","finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":5}},"status":200,"vendor":{"x":[1,{"y":null}]}})";

TEST(ExchangeRecord, KeepsEverythingByDefault) {
  auto r = parse_exchange_record(kWithText);
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(boost::json::parse(to_json_line(*r)), boost::json::parse(kWithText));
}

TEST(ExchangeRecord, DropsGeneratedTextWhenAsked) {
  auto r = parse_exchange_record(kWithText, {.keep_response_text = false});
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(
      boost::json::value(*r->response),
      boost::json::parse(
          R"({"id":"r1","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","tool_calls":[]}},{"index":1,"finish_reason":"length"}],"usage":{"prompt_tokens":3,"completion_tokens":5}})"));
  // The request (what the engine reads) and the unknown field are untouched.
  EXPECT_EQ(boost::json::value(r->request),
            boost::json::parse(R"({"messages":[{"role":"user","content":"hi"}],"logprobs":true})"));
  EXPECT_EQ(r->extra.at("vendor"), boost::json::parse(R"({"x":[1,{"y":null}]})"));
}

TEST(ExchangeRecord, DropsUnknownFieldsWhenAsked) {
  auto r = parse_exchange_record(kWithText, {.keep_extra = false});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->extra.empty());
  EXPECT_EQ(*r->status, 200);
  // Dropped fields are still checked as JSON.
  EXPECT_FALSE(
      parse_exchange_record(
          R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/x","request":{},"vendor":[1,}])",
          {.keep_extra = false})
          .ok());
}

TEST(ExchangeRecordParser, ReuseResetsEveryField) {
  ExchangeRecordParser p;
  ExchangeRecord r;
  ASSERT_TRUE(p.parse(kSpecExample, r).ok());
  EXPECT_EQ(r.ip, "198.51.100.23");
  EXPECT_FALSE(
      p.parse(R"({"ts":"2026-02-01T12:00:00Z","account":"b","endpoint":"/x","request":{"prompt":)",
              r)
          .ok());
  ASSERT_TRUE(
      p.parse(
           R"({"ts":"2026-02-01T12:00:01Z","account":"b","endpoint":"/v1/completions","request":{"prompt":"p"}})",
           r)
          .ok());
  EXPECT_EQ(r.account, "b");
  EXPECT_TRUE(r.ip.empty());
  EXPECT_TRUE(r.key_id.empty());
  EXPECT_FALSE(r.response.has_value());
  EXPECT_FALSE(r.status.has_value());
  EXPECT_FALSE(r.latency_ms.has_value());
  EXPECT_EQ(
      to_json_line(r),
      R"({"ts":"2026-02-01T12:00:01.000Z","account":"b","endpoint":"/v1/completions","request":{"prompt":"p"}})");
}

TEST(ExchangeRecord, RejectsMalformedFieldsNamingThem) {
  const std::string head =
      R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/x","request":{})";
  const std::pair<std::string, std::string> cases[] = {
      {head + R"(,"status":200.5})", "'status' must be an integer"},
      {head + R"(,"status":"200"})", "'status' must be an integer"},
      {head + R"(,"status":99999999999})", "'status'"},
      {head + R"(,"status":18446744073709551615})", "'status'"},
      {head + R"(,"latency_ms":"fast"})", "'latency_ms' must be a number"},
      {head + R"(,"response":[]})", "'response' must be an object"},
      {head + R"(,"ip":7})", "'ip' must be a string"},
      {head + R"(,"user_agent":{"a":1}})", "'user_agent' must be a string"},
      {head + R"(,"account_created":"monday"})", "'account_created'"},
      {R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/x","request":null})",
       "'request' must be an object"},
      {R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/x","request":[1]})",
       "'request' must be an object"},
      {R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/x"})",
       "missing required field 'request'"},
      {R"({"ts":"2026-02-01T12:00:00Z","account":"a","request":{}})",
       "missing required field 'endpoint'"},
      {R"({"ts":"2026-02-01T12:00:00Z","account":null,"endpoint":"/x","request":{}})",
       "missing required field 'account'"},
      {R"({"ts":"2026-02-01T12:00:00Z","account":"","endpoint":"/x","request":{}})",
       "'account' is empty"},
      {R"({"ts":1769947200,"account":"a","endpoint":"/x","request":{}})", "'ts' must be a string"},
      {R"({"account":"a","endpoint":"/x","request":{}})", "missing required field 'ts'"},
      {head + "} x", "not JSON"},
      {head + "", "not JSON"},
      {R"("just a string")", "not a JSON object"},
      {"42", "not a JSON object"},
      {"", "not JSON"},
  };
  for (const auto& [line, want] : cases) {
    auto r = parse_exchange_record(line);
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_NE(r.status().message().find(want), std::string::npos)
        << line << " -> " << r.status().message();
  }
}

TEST(ExchangeRecord, AcceptsEquivalentSpellings) {
  // Whitespace, escaped keys and values, null optional fields, a repeated key (the last wins).
  auto r = parse_exchange_record(
      " {\"ts\" : \"2026-02-01T12:00:00Z\", \"acc\\u006funt\":\"x\", "
      "\"account\":\"a\\u00e9\\\"b\", "
      "\"endpoint\":\"/x\",\"request\":{ "
      "},\"ip\":null,\"status\":null,\"response\":null,\"latency_ms\":3} \n");
  ASSERT_TRUE(r.ok()) << r.status().to_string();
  EXPECT_EQ(r->account, "a\u00e9\"b");
  EXPECT_TRUE(r->ip.empty());
  EXPECT_FALSE(r->status.has_value());
  EXPECT_FALSE(r->response.has_value());
  EXPECT_EQ(*r->latency_ms, 3.0);
}

TEST(ExchangeRecord, LongEscapedStringsArriveWhole) {
  // Escaped strings longer than the parser's buffer reach the handler in parts:
  // a top-level field, a captured request string and a dropped response text.
  std::string esc, plain;
  for (int i = 0; i < 3000; ++i) {
    esc += "ab\\n";
    plain += "ab\n";
  }
  std::string line = R"({"ts":"2026-02-01T12:00:00Z","account":")" + esc +
                     R"(","endpoint":"/x","request":{"prompt":")" + esc +
                     R"("},"response":{"choices":[{"text":")" + esc +
                     R"(","finish_reason":"stop"}]},"note":")" + esc + R"("})";
  for (bool lean : {false, true}) {
    auto r = parse_exchange_record(line, {.keep_response_text = !lean, .keep_extra = !lean});
    ASSERT_TRUE(r.ok()) << r.status().to_string();
    EXPECT_EQ(r->account, plain);
    EXPECT_EQ(r->request.at("prompt").as_string(), plain);
    const auto& choice = r->response->at("choices").as_array()[0].as_object();
    EXPECT_EQ(choice.contains("text"), !lean);
    EXPECT_EQ(choice.at("finish_reason").as_string(), "stop");
    if (!lean) {
      EXPECT_EQ(r->extra.at("note").as_string(), plain);
    }
  }
}

TEST(Rfc3339, FormatMatchesParseAcrossYears) {
  // Days around leap years, century rules and the epoch, each with a fraction.
  for (const char* t :
       {"1970-01-01T00:00:00.000Z", "1999-12-31T23:59:59.999Z", "2000-02-29T12:34:56.789Z",
        "2024-02-29T00:00:00.001Z", "2026-11-26T16:59:07.042Z", "2100-03-01T05:06:07.080Z",
        "1969-12-31T23:59:59.500Z"}) {
    auto parsed = parse_rfc3339(t);
    ASSERT_TRUE(parsed.ok()) << t;
    EXPECT_EQ(format_rfc3339(*parsed), t);
  }
}

TEST(ExchangeRecord, EscapesKeysAndValues) {
  ExchangeRecord r;
  r.account = "a\"b\n";
  r.endpoint = "/v1/completions";
  r.request["prompt"] = "line1\nline2 \u00e9";
  r.extra["odd\"key"] = 1;
  std::string line = to_json_line(r);
  auto back = parse_exchange_record(line);
  ASSERT_TRUE(back.ok()) << line;
  EXPECT_EQ(back->account, r.account);
  EXPECT_EQ(to_json_line(*back), line);
}

// to_json_line writes JSON itself; it must match Boost.JSON's serializer byte
// for byte (the audit chain hashes these bytes, and lines written before and
// after must read the same).
TEST(ExchangeRecord, WritesJsonExactlyAsBoostSerializes) {
  namespace json = boost::json;
  json::object req;
  // Every ASCII byte, and each escaped byte at every offset of strings of 0 to
  // 40 bytes (the scanner takes 8 bytes a step), next to multi-byte UTF-8.
  std::string all;
  for (int c = 1; c < 128; ++c) all.push_back(static_cast<char>(c));
  all.push_back('\0');
  json::array strings;
  strings.emplace_back(json::string_view(all.data(), all.size()));
  for (char special : {'"', '\\', '\n', '\x01', '\x1f', '\x7f', '\t', '\x0b'}) {
    for (size_t len = 0; len <= 40; ++len) {
      for (size_t at = 0; at < len; ++at) {
        std::string s(len, 'a');
        s[at] = special;
        strings.emplace_back(s);
      }
    }
  }
  strings.emplace_back("caf\u00e9 \u4e2d\u6587 \U0001F600 \xe2\x80\xa8");
  req["strings"] = std::move(strings);
  req["numbers"] = json::array{0,    -1,    INT64_MIN, INT64_MAX, UINT64_MAX, 0.7,
                               -0.0, 1e300, 1.5e-7,    2.0,       123456.789};
  req["nested"] = json::parse(R"({"a":[[],{},[{"b":null,"c":true,"d":false}]],"":"","k\"\n":[1]})");
  req["messages"] = json::parse(R"([{"role":"user","content":"Say \"hi\"\u0000\nand \\ bye"}])");

  ExchangeRecord r;
  r.ts = 1'700'000'000LL * kNsPerSec;
  r.account = all;
  r.endpoint = "/v1/chat/completions";
  r.request = req;
  r.response = json::object{{"choices", json::array{json::object{{"text", all}}}}};
  r.status = 200;
  r.extra["x\x01y"] = json::array{1.25, "z", nullptr};
  r.extra["n"] = 7;

  std::string want = R"({"ts":")";
  want += format_rfc3339(r.ts);
  want += R"(","account":)";
  want += json::serialize(json::value(json::string_view(all.data(), all.size())));
  want += R"(,"endpoint":"/v1/chat/completions","request":)";
  want += json::serialize(r.request);
  want += R"(,"response":)";
  want += json::serialize(*r.response);
  want += R"(,"status":200)";
  for (const auto& kv : r.extra) {
    want += ',';
    want += json::serialize(json::value(kv.key()));
    want += ':';
    want += json::serialize(kv.value());
  }
  want += "}";
  const std::string line = to_json_line(r);
  EXPECT_EQ(line, want);
  auto back = parse_exchange_record(line);
  ASSERT_TRUE(back.ok()) << back.status().to_string();
  EXPECT_EQ(back->account, all);
  EXPECT_EQ(to_json_line(*back), line);
}

TEST(Rfc3339, OffsetsAndFractions) {
  auto a = parse_rfc3339("2026-02-01T13:00:00.5+01:00");
  auto b = parse_rfc3339("2026-02-01T12:00:00.500000Z");
  ASSERT_TRUE(a.ok());
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(format_rfc3339(0), "1970-01-01T00:00:00.000Z");
  EXPECT_FALSE(parse_rfc3339("2026-02-01T12:00:00").ok());
}

}  // namespace
}  // namespace dg
