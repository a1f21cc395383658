#include "defend/watermark_transform.h"

#include <gtest/gtest.h>

#include <boost/json.hpp>
#include <cstdlib>
#include <fstream>

#include "defend/degrade.h"
#include "defend/verify.h"
#include "distillguard/random.h"
#include "pipeline/chain.h"

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

// --- The StreamTransformer's text path (no JSON tree) against its tree path.

using Transforms = std::vector<std::unique_ptr<ResponseTransform>>;

// Hides a transform's text path: a StreamTransformer holding it takes the tree path for every
// event.
struct TreeOnly : ResponseTransform {
  explicit TreeOnly(std::unique_ptr<ResponseTransform> t) : t_(std::move(t)) {}
  void on_body(json::object& b) override { t_->on_body(b); }
  void on_chunk(json::object& c) override { t_->on_chunk(c); }
  void on_stream_end(const json::object* last, std::vector<json::object>& extra) override {
    t_->on_stream_end(last, extra);
  }
  std::unique_ptr<ResponseTransform> t_;
};

Transforms tree_only(Transforms ts) {
  Transforms out;
  for (auto& t : ts) out.push_back(std::make_unique<TreeOnly>(std::move(t)));
  return out;
}

struct Streamed {
  std::string out;
  int text_events = 0;  // JSON events that came back without a tree (text path, or invalid)
};

Streamed run_stream(Transforms ts, const std::string& sse) {
  Streamed r;
  pipeline::StreamTransformer tr(ts);
  std::string_view rest = sse;
  while (!rest.empty()) {
    const size_t e = rest.find("\n\n");
    const std::string_view ev = rest.substr(0, e + 2);
    const json::object* parsed = nullptr;
    tr.process_event(ev, r.out, &parsed);
    if (parsed == nullptr && ev.starts_with("data: {")) ++r.text_events;
    rest.remove_prefix(e + 2);
  }
  return r;
}

// `text` cut into pieces of `n` bytes, never inside a UTF-8 sequence.
std::vector<std::string> pieces(const std::string& text, size_t n) {
  std::vector<std::string> out;
  for (size_t p = 0; p < text.size();) {
    size_t e = std::min(text.size(), p + n);
    while (e < text.size() && (static_cast<unsigned char>(text[e]) & 0xc0) == 0x80) ++e;
    out.push_back(text.substr(p, e - p));
    p = e;
  }
  return out;
}

// A chat stream as the replay upstream sends it (role, content, finish), or completions chunks.
std::vector<json::object> stream_chunks(const std::string& text, size_t n, bool chat,
                                        int64_t index = 0) {
  auto chunk = [&](json::object choice) {
    return json::object{{"id", "chatcmpl-1"},
                        {"object", chat ? "chat.completion.chunk" : "text_completion"},
                        {"created", 1700000000},
                        {"model", "m"},
                        {"system_fingerprint", "fp_1"},
                        {"choices", json::array{std::move(choice)}},
                        {"usage", nullptr}};
  };
  std::vector<json::object> out;
  if (chat) {
    out.push_back(chunk({{"index", index},
                         {"delta", {{"role", "assistant"}, {"content", ""}}},
                         {"logprobs", nullptr},
                         {"finish_reason", nullptr}}));
  }
  for (const auto& p : pieces(text, n)) {
    if (chat) {
      out.push_back(chunk({{"index", index},
                           {"delta", {{"content", p}}},
                           {"logprobs", nullptr},
                           {"finish_reason", nullptr}}));
    } else {
      out.push_back(chunk(
          {{"text", p}, {"index", index}, {"logprobs", nullptr}, {"finish_reason", nullptr}}));
    }
  }
  if (chat) {
    out.push_back(chunk({{"index", index},
                         {"delta", json::object{}},
                         {"logprobs", nullptr},
                         {"finish_reason", "stop"}}));
  } else {
    out.push_back(
        chunk({{"text", ""}, {"index", index}, {"logprobs", nullptr}, {"finish_reason", "stop"}}));
  }
  return out;
}

// How Python's json.dumps writes it: ", " and ": ", "\/" and \u escapes for
// everything outside ASCII (surrogate pairs above U+FFFF), keys in reverse.
void loose(const json::value& v, std::string& out) {
  switch (v.kind()) {
    case json::kind::object: {
      out += "{";
      const auto& o = v.get_object();
      for (auto it = o.end(); it != o.begin();) {
        --it;
        loose(json::value(it->key()), out);
        out += ": ";
        loose(it->value(), out);
        if (it != o.begin()) out += ", ";
      }
      out += "}";
      return;
    }
    case json::kind::array: {
      out += "[";
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) out += ", ";
        first = false;
        loose(e, out);
      }
      out += "]";
      return;
    }
    case json::kind::string: {
      const auto& s = v.get_string();
      out += '"';
      for (size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        uint32_t cp = c;
        size_t n = 1;
        if (c >= 0xf0) {
          cp = c & 0x07u, n = 4;
        } else if (c >= 0xe0) {
          cp = c & 0x0fu, n = 3;
        } else if (c >= 0xc0) {
          cp = c & 0x1fu, n = 2;
        }
        for (size_t k = 1; k < n; ++k)
          cp = cp << 6 | (static_cast<unsigned char>(s[i + k]) & 0x3fu);
        i += n;
        char buf[16];
        if (cp == '/') {
          out += "\\/";
        } else if (cp == '"' || cp == '\\') {
          out += '\\';
          out += static_cast<char>(cp);
        } else if (cp >= 0x20 && cp < 0x7f) {
          out += static_cast<char>(cp);
        } else if (cp < 0x10000) {
          std::snprintf(buf, sizeof buf, "\\u%04x", cp);
          out += buf;
        } else {
          cp -= 0x10000;
          std::snprintf(buf, sizeof buf, "\\u%04x\\u%04x", 0xd800 + (cp >> 10),
                        0xdc00 + (cp & 0x3ff));
          out += buf;
        }
      }
      out += '"';
      return;
    }
    default:
      out += json::serialize(v);
  }
}

std::string sse(const std::vector<json::object>& chunks, bool compact) {
  std::string s;
  for (const auto& c : chunks) {
    s += "data: ";
    if (compact) {
      s += json::serialize(c);
    } else {
      loose(c, s);
    }
    s += "\n\n";
  }
  return s + "data: [DONE]\n\n";
}

std::vector<std::string> events(std::string_view sse) {
  std::vector<std::string> out;
  for (size_t e; !sse.empty(); sse.remove_prefix(e + 2)) {
    e = sse.find("\n\n");
    out.emplace_back(sse.substr(0, e));
  }
  return out;
}

// The same events, compared as JSON values (non-JSON events as bytes).
void expect_same_values(const std::string& a, const std::string& b, const std::string& what) {
  const auto ea = events(a), eb = events(b);
  ASSERT_EQ(ea.size(), eb.size()) << what;
  for (size_t i = 0; i < ea.size(); ++i) {
    boost::system::error_code ec1, ec2;
    const json::value va = json::parse(std::string_view(ea[i]).substr(6), ec1);
    const json::value vb = json::parse(std::string_view(eb[i]).substr(6), ec2);
    if (ec1 || ec2) {
      ASSERT_EQ(ea[i], eb[i]) << what;
    } else {
      ASSERT_EQ(va, vb) << what << " event " << i;
    }
  }
}

Transforms watermark(double strength) {
  Transforms ts;
  ts.push_back(std::make_unique<WatermarkTransform>(SynonymTable::builtin(),
                                                    derive_account_key("m", "acct"), strength));
  return ts;
}

// Every real answer, streamed at several chunkings (chat and completions):
// the text path's bytes equal the tree path's; with Python-style JSON (spaces,
// \u escapes, other key order) the values are equal. And the text path is the
// one taken, and reassembles to the watermarked body.
TEST(StreamTransformer, TextPathEqualsTreePathOnAllAnswers) {
  const auto rs = responses();
  ASSERT_EQ(rs.size(), 822u);
  for (size_t i = 0; i < rs.size(); ++i) {
    const double strength = i % 2 == 0 ? 0.5 : 1.0;
    for (size_t n : {4, 1, 13}) {
      if (n != 4 && i % 7 != 0) continue;
      const bool chat = n != 13;
      auto chunks = stream_chunks(rs[i], n, chat);
      // Some streams end without a finish chunk: the held-back tail goes out in
      // a chunk on_stream_end builds from the last chunk (a text-path one).
      if (n == 1) chunks.pop_back();
      const std::string compact = sse(chunks, true);
      const Streamed text = run_stream(watermark(strength), compact);
      const Streamed tree = run_stream(tree_only(watermark(strength)), compact);
      ASSERT_EQ(text.out, tree.out) << i << " n=" << n;
      ASSERT_EQ(text.text_events, static_cast<int>(chunks.size())) << i;
      ASSERT_EQ(tree.text_events, 0);
      if (i % 10 == 0) {
        const std::string py = sse(chunks, false);
        expect_same_values(run_stream(watermark(strength), py).out, tree.out,
                           std::to_string(i) + " n=" + std::to_string(n));
      }
      if (n == 4) {  // streamed == non-streamed, through the pipeline
        std::string got;
        for (const auto& e : events(text.out)) {
          if (e == "data: [DONE]") continue;
          const json::value v = json::parse(std::string_view(e).substr(6));
          const auto& c = v.at("choices").at(0).as_object();
          if (const auto* d = c.if_contains("delta"); d && d->as_object().contains("content"))
            got += d->as_object().at("content").as_string().c_str();
        }
        EXPECT_EQ(got, watermark_text(SynonymTable::builtin(), derive_account_key("m", "acct"),
                                      strength, rs[i]))
            << i;
      }
    }
  }
}

// The degrade/trace set (reasoning summary, watermark, log-probs) on content
// with <think> spans and reasoning_content chunks, two choices one after the
// other: the events that need the tree get it, and the bytes are the same.
TEST(StreamTransformer, TextPathWithReasoningAndLogprobs) {
  const auto rs = responses();
  const auto lkey = sha256("logprob");
  auto set = [&](ReasoningMode mode) {
    Transforms ts;
    ts.push_back(std::make_unique<ReasoningTransform>(mode, 12));
    ts.push_back(std::make_unique<WatermarkTransform>(SynonymTable::builtin(),
                                                      derive_account_key("m", "a"), 1.0));
    ts.push_back(std::make_unique<LogprobTransform>(lkey, sha256("request")));
    return ts;
  };
  for (size_t i = 0; i < rs.size(); i += 9) {
    std::vector<json::object> chunks =
        stream_chunks("<think>Some steps. More</think>" + rs[i], 5, true, 0);
    std::vector<json::object> second = stream_chunks(rs[i + 1], 3, true, 1);
    // Reasoning as its own field before the second choice's content.
    json::object r = second[0];
    r["choices"].as_array()[0].as_object()["delta"] =
        json::object{{"reasoning_content", "Think first. Then answer."}};
    second.insert(second.begin() + 1, r);
    chunks.insert(chunks.end(), second.begin(), second.end());
    const std::string s = sse(chunks, true);
    for (ReasoningMode mode : {ReasoningMode::kSummarize, ReasoningMode::kWithhold}) {
      const Streamed text = run_stream(set(mode), s);
      const Streamed tree = run_stream(tree_only(set(mode)), s);
      ASSERT_EQ(text.out, tree.out) << i;
      EXPECT_GT(text.text_events, static_cast<int>(chunks.size()) - 3) << i;
      EXPECT_LT(text.text_events, static_cast<int>(chunks.size()))
          << i;  // reasoning_content: the tree
    }
  }
}

// Events that are not valid JSON pass through unchanged on both paths, e.g. a
// surrogate pair split across two events (each half alone is invalid).
TEST(StreamTransformer, InvalidEventsPassThroughOnBothPaths) {
  const std::string s =
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"often \\ud83d\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\\ude00 big\"}}]}\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"\xe2\x82\"}}]}\n\n"
      ": keep-alive\n\n"
      "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\" house "
      "\\u00e9\"},\"finish_reason\":\"stop\"}]}\n\n"
      "data: [DONE]\n\n";
  const Streamed text = run_stream(watermark(1.0), s);
  const Streamed tree = run_stream(tree_only(watermark(1.0)), s);
  EXPECT_EQ(text.out, tree.out);
  EXPECT_NE(
      text.out.find(
          "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":\"often \\ud83d\"}}]}\n\n"),
      std::string::npos);
}

}  // namespace
}  // namespace dg::defend
