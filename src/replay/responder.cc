#include "replay/responder.h"

#include <algorithm>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <cmath>
#include <optional>

#include "common/hash.h"
#include "replay/synth.h"

namespace dg::replay {
namespace json = boost::json;
namespace {

constexpr std::string_view kFixedAnswer =
    "This is a fixed mock completion used for gateway overhead benchmarking.";
constexpr int64_t kMaxN = 16;

bool ends_with(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

// Text of a chat message's content: a string, or the text parts of an array.
std::string content_text(const json::value* v) {
  if (!v) return {};
  if (v->is_string()) return std::string(v->get_string());
  std::string out;
  if (v->is_array()) {
    for (const auto& part : v->get_array()) {
      if (!part.is_object()) continue;
      const auto* t = part.get_object().if_contains("text");
      if (t && t->is_string()) {
        if (!out.empty()) out += "\n";
        out += t->get_string();
      }
    }
  }
  return out;
}

std::optional<int64_t> int_field(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  if (!v || v->is_null()) return std::nullopt;
  if (v->is_int64()) return v->get_int64();
  if (v->is_uint64()) return static_cast<int64_t>(std::min<uint64_t>(v->get_uint64(), INT64_MAX));
  if (v->is_double() && v->get_double() == std::floor(v->get_double()))
    return static_cast<int64_t>(v->get_double());
  return -1;  // wrong type: callers reject negatives
}

bool bool_field(const json::object& o, const char* key) {
  const auto* v = o.if_contains(key);
  return v && v->is_bool() && v->get_bool();
}

std::string sse(const json::object& o) { return "data: " + json::serialize(o) + "\n\n"; }

TimeNs tokens_delay(size_t tokens, double tps) {
  if (tps <= 0 || tokens == 0) return 0;
  return static_cast<TimeNs>(static_cast<double>(tokens) / tps * 1e9);
}

std::string join(const std::vector<std::string_view>& toks, size_t b, size_t e) {
  std::string s;
  for (size_t i = b; i < e; ++i) s += toks[i];
  return s;
}

struct Choice {
  std::string reasoning;                  // reasoning_content ("" = none)
  std::string content;                    // owns the text tokens point into
  std::vector<std::string_view> tokens;   // content tokens, after truncation
  size_t reasoning_tokens = 0;
  const char* finish = "stop";
};

}  // namespace

Reply error_reply(int status, std::string_view message, std::string_view type,
                  std::string_view code) {
  Reply r;
  r.status = status;
  json::object err{{"message", message}, {"type", type}, {"param", nullptr}, {"code", code}};
  r.body = json::serialize(json::object{{"error", std::move(err)}});
  return r;
}

Responder::Responder(const Corpus* corpus, ReplayOptions options, const Clock& clock)
    : corpus_(corpus), options_(std::move(options)), clock_(clock) {
  if (options_.chunk_tokens == 0) options_.chunk_tokens = 1;
  if (options_.fixed) {
    for (const auto& m : options_.models) {
      const std::string model = json::serialize(json::value(m));
      for (bool chat : {true, false}) {
        for (bool stream : {false, true}) {
          const std::string body =
              "{\"model\":" + model + (chat ? R"(,"messages":[{"role":"user","content":""}])" : R"(,"prompt":"")") +
              (stream ? R"(,"stream":true})" : "}");
          fixed_cache_.push_back({FixedKey{chat, stream, m}, completions(chat, body, false)});
        }
      }
    }
  }
}

Reply Responder::respond(std::string_view method, std::string_view target,
                         std::string_view body) const {
  const std::string_view path = target.substr(0, target.find('?'));
  const bool post = method == "POST";
  if (path == "/v1/chat/completions" || path == "/chat/completions") {
    if (!post) return error_reply(405, "use POST", "invalid_request_error", "method_not_allowed");
    return completions(true, body);
  }
  if (path == "/v1/completions" || path == "/completions") {
    if (!post) return error_reply(405, "use POST", "invalid_request_error", "method_not_allowed");
    return completions(false, body);
  }
  if (path == "/v1/models" || path == "/models") {
    json::array data;
    for (const auto& m : options_.models) {
      data.push_back({{"id", m}, {"object", "model"}, {"created", 1700000000}, {"owned_by", "distillguard-replay"}});
    }
    Reply r;
    r.body = json::serialize(json::object{{"object", "list"}, {"data", std::move(data)}});
    return r;
  }
  if (path == "/healthz") {
    Reply r;
    r.content_type = "text/plain";
    r.body = "ok\n";
    return r;
  }
  return error_reply(404, "Unknown route " + std::string(path), "invalid_request_error",
                     "unknown_url");
}

Reply Responder::completions(bool chat, std::string_view body, bool use_cache) const {
  boost::system::error_code ec;
  json::value v = json::parse(body, ec);
  if (ec || !v.is_object())
    return error_reply(400, "We could not parse the JSON body of your request.",
                       "invalid_request_error", "invalid_json");
  const json::object& req = v.get_object();

  const auto* model_v = req.if_contains("model");
  if (!model_v || !model_v->is_string())
    return error_reply(400, "you must provide a model parameter", "invalid_request_error",
                       "missing_model");
  const std::string model(model_v->get_string());
  if (options_.strict_models &&
      std::find(options_.models.begin(), options_.models.end(), model) == options_.models.end())
    return error_reply(404, "The model `" + model + "` does not exist", "invalid_request_error",
                       "model_not_found");

  // The prompt we match on, and the prompt's token count.
  std::string prompt;
  size_t prompt_tokens = 0;
  if (chat) {
    const auto* msgs = req.if_contains("messages");
    if (!msgs || !msgs->is_array() || msgs->get_array().empty())
      return error_reply(400, "'messages' must be a non-empty array", "invalid_request_error",
                         "invalid_messages");
    bool have_user = false;
    for (const auto& m : msgs->get_array()) {
      if (!m.is_object()) {
        return error_reply(400, "each message must be an object", "invalid_request_error",
                           "invalid_messages");
      }
      const auto& mo = m.get_object();
      std::string text = content_text(mo.if_contains("content"));
      prompt_tokens += count_tokens(text) + 4;
      const auto* role = mo.if_contains("role");
      const bool user = role && role->is_string() && role->get_string() == "user";
      if (user || !have_user) {
        prompt = std::move(text);
        have_user = have_user || user;
      }
    }
    prompt_tokens += 3;
  } else {
    const auto* p = req.if_contains("prompt");
    if (p && p->is_string()) {
      prompt = std::string(p->get_string());
    } else if (p && p->is_array() && !p->get_array().empty() && p->get_array()[0].is_string()) {
      prompt = std::string(p->get_array()[0].get_string());
    } else {
      return error_reply(400, "'prompt' must be a string or an array of strings",
                         "invalid_request_error", "invalid_prompt");
    }
    prompt_tokens = count_tokens(prompt);
  }

  const int64_t n = int_field(req, "n").value_or(1);
  if (n < 1 || n > kMaxN)
    return error_reply(400, "'n' must be between 1 and 16", "invalid_request_error", "invalid_n");
  std::optional<int64_t> max_tokens = int_field(req, "max_completion_tokens");
  if (!max_tokens) max_tokens = int_field(req, "max_tokens");
  if (max_tokens && *max_tokens < 1)
    return error_reply(400, "'max_tokens' must be a positive integer", "invalid_request_error",
                       "invalid_max_tokens");
  const bool stream = bool_field(req, "stream");
  bool include_usage = false;
  if (const auto* so = req.if_contains("stream_options"); so && so->is_object())
    include_usage = bool_field(so->get_object(), "include_usage");

  // Log-probabilities: chat asks with logprobs:true + top_logprobs:k (0..20);
  // completions with logprobs:k (0..5).
  bool want_logprobs = false;
  size_t top = 0;
  if (chat) {
    want_logprobs = bool_field(req, "logprobs");
    const int64_t t = int_field(req, "top_logprobs").value_or(0);
    if (t < 0 || t > 20)
      return error_reply(400, "'top_logprobs' must be between 0 and 20", "invalid_request_error",
                         "invalid_top_logprobs");
    top = static_cast<size_t>(t);
  } else if (auto lp = int_field(req, "logprobs")) {
    if (*lp < 0 || *lp > 5)
      return error_reply(400, "'logprobs' must be between 0 and 5", "invalid_request_error",
                         "invalid_logprobs");
    want_logprobs = true;
    top = static_cast<size_t>(*lp);
  }

  if (use_cache && options_.fixed && n == 1 && !want_logprobs && !include_usage &&
      (!max_tokens || static_cast<size_t>(*max_tokens) >= count_tokens(kFixedAnswer))) {
    for (const auto& [key, cached] : fixed_cache_) {
      if (key.chat == chat && key.stream == stream && key.model == model) return cached;
    }
  }

  const bool reasoning = !options_.fixed && model.find("reasoning") != std::string::npos;
  const bool inline_think = !options_.fixed && ends_with(model, "-think");

  Reply reply;
  std::vector<Choice> choices(static_cast<size_t>(n));
  if (options_.fixed || !corpus_) {
    reply.match = "fixed";
    for (auto& c : choices) c.content = std::string(kFixedAnswer);
  } else {
    const Match m = corpus_->lookup(prompt);
    reply.match = match_kind_name(m.kind);
    reply.source = m.record->source;
    const auto& group = corpus_->same_prompt(m.index);
    for (size_t i = 0; i < choices.size(); ++i) {
      const Record& r = corpus_->records()[group[i % group.size()]];
      std::string trace = (reasoning || inline_think) ? reasoning_trace(prompt, r.response) : "";
      if (inline_think) {
        choices[i].content = "<think>\n" + trace + "\n</think>\n\n" + r.response;
      } else {
        choices[i].content = r.response;
        choices[i].reasoning = std::move(trace);
      }
    }
  }
  size_t completion_tokens = 0, reasoning_tokens = 0, longest = 0;
  for (auto& c : choices) {
    c.tokens = tokenize(c.content);
    if (max_tokens && c.tokens.size() > static_cast<size_t>(*max_tokens)) {
      c.tokens.resize(static_cast<size_t>(*max_tokens));
      c.finish = "length";
    }
    c.reasoning_tokens = count_tokens(c.reasoning);
    completion_tokens += c.tokens.size() + c.reasoning_tokens;
    reasoning_tokens += c.reasoning_tokens;
    longest = std::max(longest, c.tokens.size() + c.reasoning_tokens);
  }
  json::object usage{{"prompt_tokens", prompt_tokens},
                     {"completion_tokens", completion_tokens},
                     {"total_tokens", prompt_tokens + completion_tokens}};
  if (reasoning) usage["completion_tokens_details"] = {{"reasoning_tokens", reasoning_tokens}};

  const uint64_t seq = counter_.fetch_add(1, std::memory_order_relaxed);
  const uint64_t h = hash64(prompt, seq);
  const std::string id = std::string(chat ? "chatcmpl-replay-" : "cmpl-replay-") +
                         to_hex(reinterpret_cast<const uint8_t*>(&h), sizeof h);
  const int64_t created = clock_.now() / kNsPerSec;
  const TimeNs ttft = static_cast<TimeNs>(options_.ttft_ms * 1e6);
  const double tps = options_.tokens_per_second;

  if (!stream) {
    json::array out;
    for (size_t i = 0; i < choices.size(); ++i) {
      auto& c = choices[i];
      json::value lp = nullptr;
      if (want_logprobs) {
        if (chat)
          lp = json::object{{"content", chat_logprobs(c.tokens, 0, c.tokens.size(), top)}};
        else
          lp = completion_logprobs(c.tokens, 0, c.tokens.size(), top, 0);
      }
      const std::string text = join(c.tokens, 0, c.tokens.size());
      if (chat) {
        json::object msg{{"role", "assistant"}, {"content", text}};
        if (reasoning) msg["reasoning_content"] = c.reasoning;
        out.push_back({{"index", i}, {"message", std::move(msg)}, {"logprobs", lp},
                       {"finish_reason", c.finish}});
      } else {
        out.push_back({{"text", text}, {"index", i}, {"logprobs", lp}, {"finish_reason", c.finish}});
      }
    }
    reply.body = json::serialize(json::object{{"id", id},
                                              {"object", chat ? "chat.completion" : "text_completion"},
                                              {"created", created},
                                              {"model", model},
                                              {"system_fingerprint", "fp_replay"},
                                              {"choices", std::move(out)},
                                              {"usage", std::move(usage)}});
    reply.delays_ns.push_back(ttft + tokens_delay(longest, tps));
    return reply;
  }

  // Streaming: chunks of chunk_tokens tokens, choice after choice.
  reply.stream = true;
  reply.content_type = "text/event-stream";
  const char* object = chat ? "chat.completion.chunk" : "text_completion";
  auto chunk = [&](json::object choice) {
    json::object o{{"id", id}, {"object", object}, {"created", created}, {"model", model},
                   {"system_fingerprint", "fp_replay"}, {"choices", json::array{std::move(choice)}}};
    if (include_usage) o["usage"] = nullptr;
    return sse(o);
  };
  auto emit = [&](std::string ev, TimeNs delay) {
    reply.delays_ns.push_back(reply.events.empty() ? ttft + delay : delay);
    reply.events.push_back(std::move(ev));
  };
  const size_t k = options_.chunk_tokens;
  for (size_t i = 0; i < choices.size(); ++i) {
    auto& c = choices[i];
    if (chat) {
      emit(chunk({{"index", i}, {"delta", {{"role", "assistant"}, {"content", ""}}},
                  {"logprobs", nullptr}, {"finish_reason", nullptr}}),
           0);
      const auto rtoks = tokenize(c.reasoning);
      for (size_t b = 0; b < rtoks.size(); b += k) {
        const size_t e = std::min(rtoks.size(), b + k);
        emit(chunk({{"index", i}, {"delta", {{"reasoning_content", join(rtoks, b, e)}}},
                    {"logprobs", nullptr}, {"finish_reason", nullptr}}),
             tokens_delay(e - b, tps));
      }
    }
    size_t offset = 0;
    for (size_t b = 0; b < c.tokens.size(); b += k) {
      const size_t e = std::min(c.tokens.size(), b + k);
      const std::string text = join(c.tokens, b, e);
      json::value lp = nullptr;
      if (want_logprobs) {
        if (chat)
          lp = json::object{{"content", chat_logprobs(c.tokens, b, e, top)}};
        else
          lp = completion_logprobs(c.tokens, b, e, top, offset);
      }
      offset += text.size();
      if (chat)
        emit(chunk({{"index", i}, {"delta", {{"content", text}}}, {"logprobs", lp},
                    {"finish_reason", nullptr}}),
             tokens_delay(e - b, tps));
      else
        emit(chunk({{"text", text}, {"index", i}, {"logprobs", lp}, {"finish_reason", nullptr}}),
             tokens_delay(e - b, tps));
    }
    if (chat)
      emit(chunk({{"index", i}, {"delta", json::object{}}, {"logprobs", nullptr},
                  {"finish_reason", c.finish}}),
           0);
    else
      emit(chunk({{"text", ""}, {"index", i}, {"logprobs", nullptr}, {"finish_reason", c.finish}}),
           0);
  }
  if (include_usage) {
    emit(sse(json::object{{"id", id}, {"object", object}, {"created", created}, {"model", model},
                          {"system_fingerprint", "fp_replay"}, {"choices", json::array{}},
                          {"usage", std::move(usage)}}),
         0);
  }
  emit("data: [DONE]\n\n", 0);
  return reply;
}

}  // namespace dg::replay
