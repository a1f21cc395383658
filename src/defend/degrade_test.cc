#include "defend/degrade.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cmath>

#include "distillguard/random.h"

namespace dg::defend {
namespace {
namespace json = boost::json;

json::object logprob_body(Rng& rng, int positions) {
  json::array content;
  for (int p = 0; p < positions; ++p) {
    json::array tops;
    double lp = -rng.uniform(0.01, 0.5);
    for (int k = 0; k < 5; ++k) {
      std::string tok = "t";
      tok += std::to_string(p * 10 + k);
      tops.push_back(json::object{{"token", tok}, {"logprob", lp}});
      lp -= rng.uniform(0.1, 2.0);
    }
    content.push_back(json::object{{"token", tops[0].as_object()["token"]}, {"logprob", tops[0].as_object()["logprob"]}, {"top_logprobs", tops}});
  }
  return json::object{{"choices", json::array{json::object{{"index", 0}, {"message", json::object{{"content", "x"}}}, {"logprobs", json::object{{"content", content}}}}}}};
}

json::array& entries(json::object& body) {
  return body["choices"].as_array()[0].as_object()["logprobs"].as_object()["content"].as_array();
}

double kl_topk(const json::array& a, const json::array& b) {
  // KL(P||Q) over the top-k tokens (renormalised), matched by token.
  double za = 0, zb = 0;
  for (auto& e : a) za += std::exp(e.as_object().at("logprob").as_double());
  for (auto& e : b) zb += std::exp(e.as_object().at("logprob").as_double());
  double kl = 0;
  for (auto& e : a) {
    double p = std::exp(e.as_object().at("logprob").as_double()) / za;
    for (auto& f : b) {
      if (f.as_object().at("token") == e.as_object().at("token")) {
        double q = std::exp(f.as_object().at("logprob").as_double()) / zb;
        kl += p * std::log(p / q);
      }
    }
  }
  return kl;
}

// Regression: an entry without its own "logprob" got one inserted mid-loop,
// rehashing the object under a live reference to its top_logprobs (ASan:
// heap-use-after-free). Alternatives without a logprob must be left alone.
TEST(LogprobTransform, RegressionEntryWithoutLogprobDoesNotDangle) {
  json::object body = json::parse(R"({"choices":[{"index":0,"logprobs":{"content":[
      {"token":"b","top_logprobs":[{"token":"a","logprob":-0.1},{"token":"b","logprob":-1.5},
                                   {"token":"c"},{"token":"d","logprob":-3}]}]}}]})").as_object();
  LogprobTransform(sha256("k"), sha256("fp")).on_body(body);
  auto& entry = body["choices"].as_array()[0].as_object()["logprobs"].as_object()["content"]
                    .as_array()[0].as_object();
  auto& tops = entry["top_logprobs"].as_array();
  EXPECT_EQ(tops[0].as_object()["token"], "a");  // argmax kept
  EXPECT_EQ(tops[0].as_object()["logprob"].as_double(), -0.1);
  ASSERT_TRUE(entry.contains("logprob"));  // the sampled token's distorted value
  EXPECT_LT(entry["logprob"].as_double(), -0.1);
  bool c_untouched = false;
  for (auto& t : tops)
    if (t.as_object()["token"] == "c") c_untouched = !t.as_object().contains("logprob");
  EXPECT_TRUE(c_untouched);
}

TEST(LogprobTransform, KeepsArgmaxAndIsDeterministic) {
  Rng rng(3);
  json::object original = logprob_body(rng, 200);
  const Sha256 key = sha256("k");
  const Sha256 fp = request_fingerprint("acct", json::object{{"model", "m"}, {"logprobs", true}});
  json::object a = original, b = original;
  LogprobTransform(key, fp).on_body(a);
  LogprobTransform(key, fp).on_body(b);
  EXPECT_EQ(json::serialize(a), json::serialize(b));  // same request, same numbers
  double kl = 0;
  int changed_order = 0;
  for (size_t i = 0; i < entries(original).size(); ++i) {
    auto& o = entries(original)[i].as_object();
    auto& p = entries(a)[i].as_object();
    EXPECT_EQ(o["token"], p["token"]);  // returned text unchanged
    EXPECT_EQ(o["logprob"], p["logprob"]);  // sampled = top keeps its value
    auto& ot = o["top_logprobs"].as_array();
    auto& pt = p["top_logprobs"].as_array();
    EXPECT_EQ(ot[0].as_object()["token"], pt[0].as_object()["token"]);  // argmax kept
    for (size_t k = 1; k < pt.size(); ++k) {
      EXPECT_LT(pt[k].as_object()["logprob"].as_double(), pt[0].as_object()["logprob"].as_double());
    }
    for (size_t k = 1; k < pt.size(); ++k) changed_order += ot[k].as_object()["token"] != pt[k].as_object()["token"];
    kl += kl_topk(ot, pt);
  }
  kl /= static_cast<double>(entries(original).size());
  EXPECT_GT(kl, 0.01);  // alternatives really distorted
  EXPECT_GT(changed_order, 50);
  std::printf("mean top-5 KL(original || perturbed) = %.4f nats; alternatives reordered: %d\n", kl, changed_order);
  // Another request gets other numbers.
  json::object c = original;
  LogprobTransform(key, request_fingerprint("acct", json::object{{"model", "m2"}})).on_body(c);
  EXPECT_NE(json::serialize(a), json::serialize(c));
}

TEST(LogprobTransform, FingerprintIgnoresKeyOrder) {
  EXPECT_EQ(request_fingerprint("a", json::parse(R"({"x":1,"y":[1,{"b":2,"a":1}]})").as_object()),
            request_fingerprint("a", json::parse(R"({"y":[1,{"a":1,"b":2}],"x":1})").as_object()));
}

TEST(ReasoningTransform, WithholdsBothFormsInBody) {
  json::object body = json::parse(R"({"choices":[{"index":0,"message":{"role":"assistant",
    "reasoning_content":"First I add the numbers. Then I check.","content":"<think>secret steps here</think>The answer is 4."}}]})").as_object();
  ReasoningTransform w(ReasoningMode::kWithhold);
  json::object b1 = body;
  w.on_body(b1);
  auto& m = b1["choices"].as_array()[0].as_object()["message"].as_object();
  EXPECT_FALSE(m.contains("reasoning_content"));
  EXPECT_EQ(m["content"].as_string(), "The answer is 4.");

  ReasoningTransform s(ReasoningMode::kSummarize, 5);
  json::object b2 = body;
  s.on_body(b2);
  auto& m2 = b2["choices"].as_array()[0].as_object()["message"].as_object();
  EXPECT_EQ(m2["reasoning_content"].as_string(), "[reasoning summary] First I add the numbers.");
  EXPECT_EQ(m2["content"].as_string(), "<think>[reasoning summary] secret steps here…</think>The answer is 4.");
}

TEST(ReasoningTransform, WithholdsStreamedThinkSplitAcrossChunks) {
  const std::string text = "<think>step one, step two</think>Answer: 42.";
  for (size_t cut = 1; cut < 12; ++cut) {
    ReasoningTransform w(ReasoningMode::kWithhold);
    std::string got;
    for (size_t i = 0; i < text.size(); i += cut) {
      json::object ch{{"choices", json::array{json::object{{"index", 0}, {"delta", json::object{{"content", text.substr(i, cut)}}}, {"finish_reason", nullptr}}}}};
      w.on_chunk(ch);
      got += ch["choices"].as_array()[0].as_object()["delta"].as_object()["content"].as_string().c_str();
    }
    std::vector<json::object> extra;
    w.on_stream_end(nullptr, extra);
    for (auto& e : extra) got += e["choices"].as_array()[0].as_object()["delta"].as_object()["content"].as_string().c_str();
    EXPECT_EQ(got, "Answer: 42.") << cut;
  }
}

TEST(ReasoningTransform, StreamedReasoningContentDroppedOrSummarised) {
  ReasoningTransform w(ReasoningMode::kSummarize, 4);
  json::object r1{{"choices", json::array{json::object{{"index", 0}, {"delta", json::object{{"reasoning_content", "Let me think about this carefully. Ok"}}}}}}};
  w.on_chunk(r1);
  EXPECT_FALSE(r1["choices"].as_array()[0].as_object()["delta"].as_object().contains("reasoning_content"));
  json::object c1{{"choices", json::array{json::object{{"index", 0}, {"delta", json::object{{"content", "Hi"}}}}}}};
  w.on_chunk(c1);
  auto& d = c1["choices"].as_array()[0].as_object()["delta"].as_object();
  EXPECT_EQ(d["reasoning_content"].as_string(), "[reasoning summary] Let me think about…");
  EXPECT_EQ(d["content"].as_string(), "Hi");
}

// Long reasoning, streamed in small pieces in both forms: the summary equals
// the non-streamed one (first sentence, bounded words) although only a bounded
// prefix is held.
TEST(ReasoningTransform, StreamedSummaryOfLongReasoningEqualsBody) {
  std::string reasoning = "First I restate the problem in my own words";
  for (int i = 0; i < 3000; ++i) reasoning += " and then more";
  reasoning += ". Done.";
  for (int words : {5, 30}) {
    ReasoningTransform whole(ReasoningMode::kSummarize, words);
    json::object body{{"choices", json::array{json::object{
        {"index", 0}, {"message", json::object{{"reasoning_content", reasoning}, {"content", "<think>" + reasoning + "</think>Answer."}}}}}}};
    whole.on_body(body);
    auto& m = body["choices"].as_array()[0].as_object()["message"].as_object();
    const std::string want_field(m["reasoning_content"].as_string().c_str());
    const std::string want_content(m["content"].as_string().c_str());
    EXPECT_EQ(want_field, "[reasoning summary] " + summarize_reasoning(reasoning, words));
    EXPECT_LT(want_field.size(), 400u);

    // reasoning_content deltas, then content carrying a <think> block, 7 bytes at a time.
    ReasoningTransform st(ReasoningMode::kSummarize, words);
    std::string field, content;
    auto collect = [&](json::object& ch) {
      auto& d = ch["choices"].as_array()[0].as_object()["delta"].as_object();
      if (auto* r = d.if_contains("reasoning_content")) field += r->as_string().c_str();
      if (auto* c = d.if_contains("content")) content += c->as_string().c_str();
    };
    for (size_t i = 0; i < reasoning.size(); i += 7) {
      json::object ch{{"choices", json::array{json::object{{"index", 0}, {"delta", json::object{{"reasoning_content", reasoning.substr(i, 7)}}}}}}};
      st.on_chunk(ch);
      collect(ch);
    }
    const std::string text = "<think>" + reasoning + "</think>Answer.";
    for (size_t i = 0; i < text.size(); i += 7) {
      json::object ch{{"choices", json::array{json::object{{"index", 0}, {"delta", json::object{{"content", text.substr(i, 7)}}}}}}};
      st.on_chunk(ch);
      collect(ch);
    }
    std::vector<json::object> extra;
    st.on_stream_end(nullptr, extra);
    for (auto& e : extra) collect(e);
    EXPECT_EQ(field, want_field) << words;
    EXPECT_EQ(content, want_content) << words;
    EXPECT_EQ(st.withheld_chars(), static_cast<int64_t>(2 * reasoning.size()));
  }
}

TEST(Degrade, CapOutputTokens) {
  json::object r{{"max_tokens", 4000}};
  EXPECT_TRUE(cap_output_tokens(r, 512));
  EXPECT_EQ(r["max_tokens"].as_int64(), 512);
  json::object r2{{"max_tokens", 100}};
  EXPECT_FALSE(cap_output_tokens(r2, 512));
  json::object r3;
  EXPECT_TRUE(cap_output_tokens(r3, 512));
  EXPECT_EQ(r3["max_tokens"].as_int64(), 512);
}

}  // namespace
}  // namespace dg::defend
