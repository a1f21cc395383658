#include "replay/responder.h"

#include <gtest/gtest.h>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include "replay/synth.h"

namespace dg::replay {
namespace {
namespace json = boost::json;

const char* kAnswer =
    "Sourdough needs an active starter. Mix flour, water and salt, fold it every half hour, "
    "let it rise overnight, then bake it hot in a covered pot.";

Corpus corpus() {
  auto c = Corpus::create({
      {"How do I bake sourdough bread at home?", kAnswer, "gpt-4", "t:0", ""},
      {"What is the capital of France?", "The capital of France is Paris.", "gpt-4", "t:1", ""},
  });
  return std::move(c).value();
}

struct Fixture {
  Corpus c = corpus();
  ManualClock clock{1700000000 * kNsPerSec};
  Reply post(const std::string& body, ReplayOptions o = {}, const char* path = "/v1/chat/completions") {
    Responder r(&c, o, clock);
    return r.respond("POST", path, body);
  }
};

std::string chat(const std::string& prompt, const std::string& extra = "", const std::string& model = "teacher-1") {
  return R"({"model":")" + model + R"(","messages":[{"role":"system","content":"Be brief."},{"role":"user","content":)" +
         json::serialize(json::value(prompt)) + "}]" + extra + "}";
}

// Concatenates the streamed content (and reasoning) of choice `index`.
struct Streamed {
  std::string content, reasoning, finish;
  json::object usage;
  bool done = false;
};
Streamed reassemble(const Reply& r, size_t index = 0, bool completions = false) {
  Streamed s;
  for (const auto& ev : r.events) {
    EXPECT_EQ(ev.rfind("data: ", 0), 0u);
    EXPECT_EQ(ev.substr(ev.size() - 2), "\n\n");
    const std::string data = ev.substr(6, ev.size() - 8);
    if (data == "[DONE]") {
      s.done = true;
      continue;
    }
    EXPECT_FALSE(s.done) << "event after [DONE]";
    const auto o = json::parse(data).as_object();
    if (const auto* u = o.if_contains("usage"); u && u->is_object()) s.usage = u->as_object();
    for (const auto& ch : o.at("choices").as_array()) {
      const auto& co = ch.as_object();
      if (co.at("index").as_int64() != static_cast<int64_t>(index)) continue;
      if (completions) {
        s.content += co.at("text").as_string();
      } else {
        const auto& d = co.at("delta").as_object();
        if (auto* c = d.if_contains("content")) s.content += c->as_string();
        if (auto* c = d.if_contains("reasoning_content")) s.reasoning += c->as_string();
      }
      if (co.at("finish_reason").is_string()) s.finish = co.at("finish_reason").as_string();
    }
  }
  return s;
}

TEST(Responder, KnownPromptGetsItsRecordedAnswer) {
  Fixture f;
  const Reply r = f.post(chat("How do I bake sourdough bread at home?"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.match, "exact");
  EXPECT_EQ(r.source, "t:0");
  const auto o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("object").as_string(), "chat.completion");
  EXPECT_EQ(o.at("model").as_string(), "teacher-1");
  const auto& ch = o.at("choices").as_array()[0].as_object();
  EXPECT_EQ(ch.at("message").at("content").as_string(), kAnswer);
  EXPECT_EQ(ch.at("finish_reason").as_string(), "stop");
  const auto& u = o.at("usage").as_object();
  EXPECT_EQ(u.at("completion_tokens").as_int64(), static_cast<int64_t>(count_tokens(kAnswer)));
  EXPECT_GT(u.at("prompt_tokens").as_int64(), 8);
  EXPECT_EQ(u.at("total_tokens").as_int64(),
            u.at("prompt_tokens").as_int64() + u.at("completion_tokens").as_int64());
}

TEST(Responder, UnknownPromptGetsNearestAnswer) {
  Fixture f;
  const Reply r = f.post(chat("which city is the capital of france"));
  EXPECT_EQ(r.match, "nearest");
  EXPECT_EQ(r.source, "t:1");
  const auto o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("choices").at(0).at("message").at("content").as_string(), "The capital of France is Paris.");
}

TEST(Responder, ParaphraseGetsNearestAnswer) {
  Fixture f;
  const Reply r = f.post(chat("tell me the capital city of France"));
  EXPECT_EQ(r.match, "nearest");
  EXPECT_EQ(r.source, "t:1");
}

TEST(Responder, StreamReassemblesToTheNonStreamedText) {
  Fixture f;
  const Reply plain = f.post(chat("How do I bake sourdough bread at home?"));
  const Reply st = f.post(chat("How do I bake sourdough bread at home?",
                               R"(,"stream":true,"stream_options":{"include_usage":true})"));
  ASSERT_TRUE(st.stream);
  EXPECT_EQ(st.content_type, "text/event-stream");
  EXPECT_GT(st.events.size(), 5u);
  const Streamed s = reassemble(st);
  EXPECT_TRUE(s.done);
  EXPECT_EQ(s.finish, "stop");
  const auto o = json::parse(plain.body).as_object();
  EXPECT_EQ(s.content, o.at("choices").as_array()[0].at("message").at("content").as_string());
  EXPECT_EQ(s.usage.at("completion_tokens"), o.at("usage").at("completion_tokens"));
  EXPECT_EQ(st.events.back(), "data: [DONE]\n\n");
}

TEST(Responder, StreamWithoutIncludeUsageHasNoUsage) {
  Fixture f;
  const Reply st = f.post(chat("What is the capital of France?", R"(,"stream":true)"));
  const Streamed s = reassemble(st);
  EXPECT_TRUE(s.usage.empty());
  for (const auto& ev : st.events) EXPECT_EQ(ev.find("\"usage\""), std::string::npos);
}

TEST(Responder, MaxTokensTruncatesWithFinishLength) {
  Fixture f;
  const Reply r = f.post(chat("How do I bake sourdough bread at home?", R"(,"max_tokens":5)"));
  const auto o = json::parse(r.body).as_object();
  const auto& ch = o.at("choices").as_array()[0].as_object();
  EXPECT_EQ(ch.at("finish_reason").as_string(), "length");
  EXPECT_EQ(count_tokens(ch.at("message").at("content").as_string()), 5u);
  EXPECT_EQ(o.at("usage").at("completion_tokens").as_int64(), 5);
  const Reply st = f.post(chat("How do I bake sourdough bread at home?", R"(,"max_tokens":5,"stream":true)"));
  const Streamed s = reassemble(st);
  EXPECT_EQ(s.finish, "length");
  EXPECT_EQ(s.content, ch.at("message").at("content").as_string());
}

TEST(Responder, HonoursN) {
  Fixture f;
  const Reply r = f.post(chat("What is the capital of France?", R"(,"n":3)"));
  const auto o = json::parse(r.body).as_object();
  ASSERT_EQ(o.at("choices").as_array().size(), 3u);
  EXPECT_EQ(o.at("choices").as_array()[2].at("index").as_int64(), 2);
  const size_t one = count_tokens("The capital of France is Paris.");
  EXPECT_EQ(o.at("usage").at("completion_tokens").as_int64(), static_cast<int64_t>(3 * one));
  const Reply st = f.post(chat("What is the capital of France?", R"(,"n":2,"stream":true)"));
  EXPECT_EQ(reassemble(st, 1).content, "The capital of France is Paris.");
}

TEST(Responder, ChatLogprobsCoverEveryToken) {
  Fixture f;
  const Reply r = f.post(chat("What is the capital of France?", R"(,"logprobs":true,"top_logprobs":3)"));
  const auto o = json::parse(r.body).as_object();
  const auto& content = o.at("choices").as_array()[0].at("logprobs").at("content").as_array();
  std::string text;
  for (const auto& t : content) {
    text += t.at("token").as_string();
    EXPECT_LT(t.at("logprob").as_double(), 0);
    EXPECT_EQ(t.at("top_logprobs").as_array().size(), 3u);
  }
  EXPECT_EQ(text, "The capital of France is Paris.");
  // Deterministic: the same request gives the same numbers.
  const Reply again = f.post(chat("What is the capital of France?", R"(,"logprobs":true,"top_logprobs":3)"));
  EXPECT_EQ(json::parse(again.body).at("choices").at(0).at("logprobs"),
            o.at("choices").as_array()[0].at("logprobs"));
}

TEST(Responder, CompletionsEndpointWithLogprobs) {
  Fixture f;
  const Reply r = f.post(R"({"model":"teacher-1","prompt":"What is the capital of France?","logprobs":2})", {},
                         "/v1/completions");
  ASSERT_EQ(r.status, 200) << r.body;
  const auto o = json::parse(r.body).as_object();
  EXPECT_EQ(o.at("object").as_string(), "text_completion");
  const auto& ch = o.at("choices").as_array()[0].as_object();
  EXPECT_EQ(ch.at("text").as_string(), "The capital of France is Paris.");
  const auto& lp = ch.at("logprobs").as_object();
  EXPECT_EQ(lp.at("tokens").as_array().size(), lp.at("token_logprobs").as_array().size());
  EXPECT_EQ(lp.at("text_offset").as_array()[1].as_int64(), 3);
  const Reply st = f.post(R"({"model":"teacher-1","prompt":"What is the capital of France?","stream":true})", {},
                          "/v1/completions");
  EXPECT_EQ(reassemble(st, 0, true).content, "The capital of France is Paris.");
}

TEST(Responder, ReasoningModelReturnsReasoningContent) {
  Fixture f;
  const Reply r = f.post(chat("What is the capital of France?", "", "teacher-reasoning"));
  const auto o = json::parse(r.body).as_object();
  const auto& msg = o.at("choices").as_array()[0].at("message").as_object();
  EXPECT_EQ(msg.at("content").as_string(), "The capital of France is Paris.");
  const std::string reasoning(msg.at("reasoning_content").as_string());
  EXPECT_FALSE(reasoning.empty());
  EXPECT_EQ(o.at("usage").at("completion_tokens_details").at("reasoning_tokens").as_int64(),
            static_cast<int64_t>(count_tokens(reasoning)));
  const Reply st = f.post(chat("What is the capital of France?", R"(,"stream":true)", "teacher-reasoning"));
  const Streamed s = reassemble(st);
  EXPECT_EQ(s.reasoning, reasoning);
  EXPECT_EQ(s.content, "The capital of France is Paris.");
}

TEST(Responder, ThinkModelInlinesTheTrace) {
  Fixture f;
  const Reply r = f.post(chat("What is the capital of France?", "", "teacher-think"));
  const std::string content(json::parse(r.body).at("choices").at(0).at("message").at("content").as_string());
  EXPECT_EQ(content.rfind("<think>\n", 0), 0u);
  EXPECT_NE(content.find("</think>\n\nThe capital of France is Paris."), std::string::npos);
}

TEST(Responder, DelaysFollowTtftAndTokensPerSecond) {
  Fixture f;
  ReplayOptions o;
  o.ttft_ms = 50;
  o.tokens_per_second = 100;
  o.chunk_tokens = 2;
  const Reply st = f.post(chat("How do I bake sourdough bread at home?", R"(,"stream":true)"), o);
  ASSERT_EQ(st.delays_ns.size(), st.events.size());
  EXPECT_EQ(st.delays_ns[0], 50 * kNsPerMs);
  TimeNs total = 0;
  for (auto d : st.delays_ns) total += d;
  const TimeNs want = 50 * kNsPerMs + static_cast<TimeNs>(count_tokens(kAnswer)) * 10 * kNsPerMs;
  EXPECT_NEAR(static_cast<double>(total), static_cast<double>(want), 1e6);
  const Reply plain = f.post(chat("How do I bake sourdough bread at home?"), o);
  EXPECT_NEAR(static_cast<double>(plain.delays_ns.at(0)), static_cast<double>(want), 1e6);
}

TEST(Responder, FixedModeAnswersEverythingTheSame) {
  Fixture f;
  ReplayOptions o;
  o.fixed = true;
  const Reply a = f.post(chat("anything"), o);
  const Reply b = f.post(chat("something else entirely"), o);
  EXPECT_EQ(a.match, "fixed");
  EXPECT_EQ(json::parse(a.body).at("choices"), json::parse(b.body).at("choices"));
  // Requests the precomputed replies do not cover still get a correct answer.
  const Reply st = f.post(chat("x", R"(,"stream":true,"stream_options":{"include_usage":true})"), o);
  const Streamed s = reassemble(st);
  EXPECT_EQ(s.content, json::parse(a.body).at("choices").at(0).at("message").at("content").as_string());
  EXPECT_FALSE(s.usage.empty());
  const Reply cut = f.post(chat("x", R"(,"max_tokens":2)"), o);
  EXPECT_EQ(json::parse(cut.body).at("choices").at(0).at("finish_reason").as_string(), "length");
  const Reply cached_stream = f.post(chat("y", R"(,"stream":true)"), o);
  EXPECT_EQ(reassemble(cached_stream).content, s.content);
}

TEST(Responder, Errors) {
  Fixture f;
  EXPECT_EQ(f.post("{not json").status, 400);
  EXPECT_EQ(f.post(R"({"model":"teacher-1"})").status, 400);
  EXPECT_EQ(f.post(R"({"messages":[{"role":"user","content":"hi"}]})").status, 400);
  EXPECT_EQ(f.post(chat("hi", R"(,"n":0)")).status, 400);
  EXPECT_EQ(f.post(chat("hi", R"(,"max_tokens":0)")).status, 400);
  const Reply nf = f.post("{}", {}, "/v1/nope");
  EXPECT_EQ(nf.status, 404);
  EXPECT_EQ(json::parse(nf.body).at("error").at("code").as_string(), "unknown_url");
  ReplayOptions strict;
  strict.strict_models = true;
  EXPECT_EQ(f.post(chat("hi", "", "gpt-5"), strict).status, 404);
  EXPECT_EQ(f.post(chat("hi", "", "teacher-1"), strict).status, 200);
}

TEST(Responder, ModelsListsServedNames) {
  Fixture f;
  ReplayOptions o;
  o.models = {"a", "b"};
  Responder r(&f.c, o, f.clock);
  const Reply m = r.respond("GET", "/v1/models", "");
  const auto data = json::parse(m.body).at("data").as_array();
  ASSERT_EQ(data.size(), 2u);
  EXPECT_EQ(data[1].at("id").as_string(), "b");
}

}  // namespace
}  // namespace dg::replay
