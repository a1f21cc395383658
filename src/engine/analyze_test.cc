// analyze's RecordReader against the full path it stands for
// (ExchangeRecordParser + extract_features): the same account, features and
// errors, line for line, and the fast path taken for ordinary records.
#include "engine/analyze.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace dg::engine {
namespace {

// What RecordReader::read() must equal.
struct Full {
  Status status;
  std::string account;
  RecordFeatures f;
};
Full full_read(std::string_view line) {
  ExchangeRecordParser parser(
      ExchangeParseOptions{.keep_response_text = false, .keep_extra = false});
  ExchangeRecord r;
  Full out;
  out.status = parser.parse(line, r);
  if (out.status.ok()) {
    std::string scratch;
    out.account = r.account;
    out.f = extract_features(r, CapabilityClassifier::builtin(), scratch);
  }
  return out;
}

void expect_same_features(const RecordFeatures& a, const RecordFeatures& b) {
  EXPECT_EQ(a.ts, b.ts);
  EXPECT_EQ(a.capability, b.capability);
  EXPECT_EQ(a.temp0, b.temp0);
  EXPECT_EQ(a.multi_sample, b.multi_sample);
  EXPECT_EQ(a.logprobs, b.logprobs);
  EXPECT_EQ(a.has_system, b.has_system);
  EXPECT_EQ(a.app_system, b.app_system);
  EXPECT_EQ(a.multi_turn, b.multi_turn);
  EXPECT_EQ(a.has_tools, b.has_tools);
  EXPECT_EQ(a.cot, b.cot);
  EXPECT_EQ(a.rubric, b.rubric);
  EXPECT_EQ(a.benchmark, b.benchmark);
  EXPECT_EQ(a.prompt_tokens, b.prompt_tokens);
  EXPECT_EQ(a.completion_tokens, b.completion_tokens);
  EXPECT_EQ(a.prompt_hash, b.prompt_hash);
  EXPECT_EQ(a.system_hash, b.system_hash);
  EXPECT_EQ(a.model_hash, b.model_hash);
  EXPECT_EQ(a.tmpl.prefix, b.tmpl.prefix);
  EXPECT_EQ(a.tmpl.suffix, b.tmpl.suffix);
  EXPECT_EQ(a.tmpl.whole, b.tmpl.whole);
  EXPECT_EQ(a.tmpl.tokens, b.tmpl.tokens);
  EXPECT_EQ(a.ip_hash, b.ip_hash);
  EXPECT_EQ(a.ip_block, b.ip_block);
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  EXPECT_EQ(a.account_created, b.account_created);
}

// Reads `line` both ways and compares; returns whether the fast path took it.
bool check(RecordReader& reader, const std::string& line) {
  SCOPED_TRACE(line.size() > 300 ? line.substr(0, 300) + "..." : line);
  std::string padded = line + std::string(kLinePadding, 'x');  // what LineReader guarantees
  std::string account = "stale";
  RecordFeatures f;
  Status st = reader.read(std::string_view(padded.data(), line.size()), account, f);
  Full want = full_read(line);
  EXPECT_EQ(st.ok(), want.status.ok()) << st.to_string() << " vs " << want.status.to_string();
  if (!st.ok() || !want.status.ok()) {
    EXPECT_EQ(st.to_string(), want.status.to_string());
    EXPECT_TRUE(reader.last_was_full_parse())
        << "a rejected line must be worded by ExchangeRecordParser";
    return false;
  }
  EXPECT_EQ(account, want.account);
  expect_same_features(f, want.f);
  return !reader.last_was_full_parse();
}

std::string record(const std::string& request, const std::string& more = "") {
  return R"({"ts":"2026-02-01T12:00:00.123Z","account":"acct_1","endpoint":"/v1/chat/completions","request":)" +
         request + more + "}";
}

const char* kChat =
    R"({"model":"teacher-1","messages":[{"role":"system","content":"You are the grading assistant of Example Corp. Score each answer from 1 to 10 with reasons."},{"role":"user","content":"Question: what is 12 * 7?\nThink step by step."},{"role":"assistant","content":"84"},{"role":"user","content":"Now explain why 84 is right. Answer in detail:"}],"temperature":0,"n":1,"logprobs":true,"top_logprobs":3})";

TEST(RecordReader, OrdinaryRecordsTakeTheFastPathWithTheSameFeatures) {
  RecordReader reader;
  EXPECT_TRUE(check(reader, record(kChat)));
  EXPECT_TRUE(check(
      reader,
      R"({"ts":"2026-02-01T12:00:00Z","account":"acct_9f2","key_id":"key_77","ip":"198.51.100.23","user_agent":"openai-python/1.51.0","headers_fp":"h1","account_created":"2025-12-01T00:00:00+01:00","endpoint":"/v1/chat/completions","request":{"model":"teacher-1","messages":[{"role":"user","content":"Solve step by step: a train leaves..."}],"temperature":0.7},"response":{"usage":{"prompt_tokens":41,"completion_tokens":212},"choices":[{"finish_reason":"stop","message":{"role":"assistant","content":"..."}}]},"status":200,"latency_ms":812.5,"action":"allow","extra_field":{"a":[1,2,{"b":null}]}})"));
  EXPECT_TRUE(check(
      reader, record(R"({"model":"m","prompt":"Translate to French: good morning","best_of":3})",
                     R"(,"ip":"2001:db8:1:2::7","response":{"usage":{"prompt_tokens":7.9}})")));
  EXPECT_TRUE(check(reader, record(R"({"prompt":["Summarise: the cat sat.","second"],"n":2})")));
  EXPECT_TRUE(check(reader, record(R"({"prompt":[1,"x"],"temperature":"0"})")));
  EXPECT_TRUE(
      check(reader,
            record(R"({"messages":"not an array","prompt":"ignored when messages is present"})")));
  EXPECT_TRUE(check(
      reader,
      record("{}", R"(,"response":null,"status":null,"latency_ms":null,"account_created":"")")));
  EXPECT_TRUE(check(
      reader,
      record(
          R"({"tools":[{"type":"function"}],"messages":[{"role":"user","content":"call it"}]})")));
  EXPECT_TRUE(check(
      reader,
      record(
          R"({"functions":[],"logprobs":2,"messages":[{"role":"user"},{"role":7,"content":"x"},{"role":"user","content":null}]})")));
}

TEST(RecordReader, ContentPartsAreJoinedAsTheFullPathJoinsThem) {
  RecordReader reader;
  EXPECT_TRUE(check(
      reader,
      record(
          R"({"messages":[{"role":"developer","content":[{"type":"text","text":"Rules, part one. Always answer in JSON with fields a, b and c, nothing else."},{"type":"image_url"},"tail"]},{"role":"user","content":[{"type":"text","text":"first"},{"type":"text","text":"second"},"third",{"text":4}]}]})")));
  EXPECT_TRUE(check(
      reader,
      record(
          R"({"messages":[{"role":"system","content":""},{"role":"system","content":[]},{"role":"system","content":[{"text":"the first non-empty system text counts"}]},{"role":"user","content":[]}]})")));
}

TEST(RecordReader, EscapesAndUnicode) {
  RecordReader reader;
  EXPECT_TRUE(check(
      reader,
      record(
          R"({"messages":[{"role":"user","content":"Line one\nline \"two\"\ttab \\ back \/ slash \u00e9t\u00E9 \ud83d\ude00 \u4e2d\u6587 \u0000 end"}]})")));
  EXPECT_TRUE(
      check(reader, record("{\"messages\":[{\"role\":\"user\",\"content\":\"Raw UTF-8: "
                           "\xc3\xa9t\xc3\xa9, \xe4\xb8\xad\xe6\x96\x87, \xf0\x9f\x98\x80.\"}]}")));
  // Escaped keys are keys.
  EXPECT_TRUE(check(
      reader,
      R"({"\u0074s":"2026-02-01T12:00:00Z","acc\u006funt":"a\"b","endpoint":"/e","request":{"m\u0065ssages":[{"role":"us\u0065r","content":"hi"}]}})"));
  // A long prompt (head and tail windows) with escapes all along.
  std::string long_prompt;
  for (int i = 0; i < 400; ++i)
    long_prompt += "Item " + std::to_string(i) + ":\\n\\\"quoted\\\" text \\u00e9. ";
  EXPECT_TRUE(check(
      reader, record(R"({"messages":[{"role":"user","content":")" + long_prompt + R"("}]})")));
}

TEST(RecordReader, DuplicateKeysTheLastCounts) {
  RecordReader reader;
  EXPECT_TRUE(check(
      reader,
      R"({"ts":"2026-02-01T12:00:00Z","ts":"2026-03-01T12:00:00Z","account":"a","account":"b","endpoint":"/e","request":{"temperature":0,"temperature":1,"model":"x","model":3,"tools":[1],"tools":[],"messages":[{"role":"user","content":"one"}],"messages":[{"role":"user","role":"system","content":"two is a system prompt now","content":"three"}]},"response":{"usage":{"prompt_tokens":1},"usage":{"completion_tokens":5}}})"));
  EXPECT_TRUE(check(
      reader, record("{}", R"(,"account_created":"2025-01-01T00:00:00Z","account_created":null)")));
}

TEST(RecordReader, MalformedLinesGetTheFullParsersError) {
  RecordReader reader;
  const std::vector<std::string> bad = {
      "not json",
      "[1,2]",
      "\"string\"",
      "{}",
      R"({"ts":"2026-02-01T12:00:00Z")",
      record("{}", "}"),
      record("{}", " x"),
      record("{}", ","),
      record("{},"),
      record("{/* comment */}"),
      record(R"({"a":NaN})"),
      record(R"({'a':1})"),
      record(R"({"a":01})"),
      record(R"({"a":1.})"),
      record(R"({"a":"\x"})"),
      record(R"({"a":"\u12"})"),
      record(R"({"a":"lone high \ud83d end"})"),
      record(R"({"a":"lone low \ude00 end"})"),
      record(R"({"a":"high then high \ud83d\ud83d"})"),
      record("{\"a\":\"tab\tinside\"}"),
      record("{\"a\":\"bad utf-8 \xff\"}"),
      record("{\"a\":\"overlong \xc0\xaf\"}"),
      record("{\"a\":\"surrogate in utf-8 \xed\xa0\x80\"}"),
      record("{\"a\":\"truncated \xe4\xb8\"}"),
      "\xef\xbb\xbf" + record("{}"),
      record("null"),
      record("[]"),
      record(R"("text")"),
      record("{}", R"(,"response":[])"),
      record("{}", R"(,"response":"x")"),
      record("{}", R"(,"status":"200")"),
      record("{}", R"(,"status":200.0)"),
      record("{}", R"(,"status":2e2)"),
      record("{}", R"(,"status":3000000000)"),
      record("{}", R"(,"status":-3000000000)"),
      record("{}", R"(,"status":18446744073709551615)"),
      record("{}", R"(,"status":true)"),
      record("{}", R"(,"latency_ms":"5")"),
      record("{}", R"(,"ip":5)"),
      record("{}", R"(,"action":{})"),
      record("{}", R"(,"ts":null)"),
      record("{}", R"(,"ts":"yesterday")"),
      record("{}", R"(,"account_created":"2026-02-30")"),
      record("{}", R"(,"account":"")"),
      record("{}", R"(,"account":null)"),
      record("{}", R"(,"endpoint":null)"),
      record("{}", R"(,"request":null)"),
      R"({"ts":"bad","ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/e","request":{}})",
      R"({"ts":"2026-02-01T12:00:00Z","endpoint":"/e","request":{}})",
      R"({"ts":"2026-02-01T12:00:00Z","account":"a","request":{}})",
      R"({"ts":"2026-02-01T12:00:00Z","account":"a","endpoint":"/e"})",
  };
  for (const auto& line : bad) EXPECT_FALSE(check(reader, line));
}

// Numbers the full parser takes and simdjson leaves to it, or reads alike.
TEST(RecordReader, NumbersAtTheEdges) {
  RecordReader reader;
  for (const char* v : {"123456789012345678901234567890", "1e400", "-1e400", "1e-400", "-0", "-0.0",
                        "0e5", "18446744073709551615", "9223372036854775808",
                        "-9223372036854775808", "1.7976931348623157e308"}) {
    std::string req = std::string(R"({"temperature":)") + v + R"(,"n":)" + v + R"(,"logprobs":)" +
                      v + R"(,"messages":[{"role":"user","content":"x"}]})";
    check(reader, record(req, std::string(R"(,"latency_ms":)") + v +
                                  R"(,"response":{"usage":{"prompt_tokens":)" + v + "}}"));
  }
}

// Nesting: simdjson's limit is below the full parser's (32); deeper lines
// are left to it, and it decides.
TEST(RecordReader, DeepNesting) {
  RecordReader reader;
  for (int depth : {20, 28, 29, 30, 31, 32, 33, 40}) {
    std::string v = "1";
    for (int i = 0; i < depth - 2; ++i) v = (i % 2 ? "[" : "{\"k\":") + v + (i % 2 ? "]" : "}");
    check(reader, record(R"({"x":)" + v + "}"));
  }
  // The fast path still reads a moderately nested record.
  EXPECT_TRUE(check(reader, record(R"({"x":[[[[[[[[[[1]]]]]]]]]]})")));
}

}  // namespace
}  // namespace dg::engine
