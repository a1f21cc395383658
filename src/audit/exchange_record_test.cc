#include <gtest/gtest.h>

#include "distillguard/exchange_record.h"

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

TEST(ExchangeRecord, KeepsUnknownFields) {
  auto r = parse_exchange_record(
      R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/v1/completions","request":{"prompt":"x"},"vendor_field":[1,2]})");
  ASSERT_TRUE(r.ok());
  EXPECT_NE(to_json_line(*r).find(R"("vendor_field":[1,2])"), std::string::npos);
}

TEST(ExchangeRecord, ErrorsNameTheField) {
  auto missing = parse_exchange_record(R"({"ts":"2026-02-01T12:00:00Z","endpoint":"/x","request":{}})");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("'account'"), std::string::npos);
  auto bad_ts = parse_exchange_record(R"({"ts":"yesterday","account":"a","endpoint":"/x","request":{}})");
  ASSERT_FALSE(bad_ts.ok());
  EXPECT_NE(bad_ts.status().message().find("'ts'"), std::string::npos);
  EXPECT_FALSE(parse_exchange_record("{not json").ok());
  EXPECT_FALSE(parse_exchange_record("[1]").ok());
}

TEST(Rfc3339, FormatMatchesParseAcrossYears) {
  // Days around leap years, century rules and the epoch, each with a fraction.
  for (const char* t : {"1970-01-01T00:00:00.000Z", "1999-12-31T23:59:59.999Z", "2000-02-29T12:34:56.789Z",
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
