#include "engine/features.h"

#include <boost/json.hpp>

#include "common/hash.h"

namespace dg::engine {
namespace json = boost::json;

namespace {

// Text of a message content: a string, or an array of parts with "text".
std::string_view content_text(const json::value& v, std::string& buf) {
  if (v.is_string()) return v.get_string();
  if (v.is_array()) {
    buf.clear();
    for (const auto& part : v.get_array()) {
      if (part.is_object()) {
        if (auto* t = part.get_object().if_contains("text"); t && t->is_string()) {
          if (!buf.empty()) buf += '\n';
          buf += t->get_string();
        }
      } else if (part.is_string()) {
        buf += part.get_string();
      }
    }
    return buf;
  }
  return {};
}

double number_or(const json::object& o, std::string_view key, double dflt) {
  auto* v = o.if_contains(key);
  if (!v) return dflt;
  if (v->is_double()) return v->get_double();
  if (v->is_int64()) return static_cast<double>(v->get_int64());
  if (v->is_uint64()) return static_cast<double>(v->get_uint64());
  return dflt;
}

uint64_t ip_block_of(std::string_view ip) {
  if (ip.empty()) return 0;
  if (ip.find(':') != std::string_view::npos) {  // IPv6: first three groups (/48)
    size_t pos = 0;
    for (int g = 0; g < 3 && pos != std::string_view::npos; ++g) {
      pos = ip.find(':', pos == 0 && g == 0 ? 0 : pos + 1);
    }
    return hash64(ip.substr(0, pos == std::string_view::npos ? ip.size() : pos), 6) | 1;
  }
  size_t dot = ip.rfind('.');
  return hash64(ip.substr(0, dot == std::string_view::npos ? ip.size() : dot), 4) | 1;
}

}  // namespace

RecordView view_of(const ExchangeRecord& r) {
  RecordView v;
  v.ts = r.ts;
  v.request = &r.request;
  if (r.response) {
    if (auto* u = r.response->if_contains("usage"); u && u->is_object()) {
      v.prompt_tokens = static_cast<int64_t>(number_or(u->get_object(), "prompt_tokens", -1));
      v.completion_tokens =
          static_cast<int64_t>(number_or(u->get_object(), "completion_tokens", 0));
    }
  }
  v.ip = r.ip;
  v.user_agent = r.user_agent;
  v.headers_fp = r.headers_fp;
  v.account_created = r.account_created.value_or(0);
  return v;
}

RecordFeatures extract_features(const ExchangeRecord& r, const CapabilityClassifier& clf,
                                std::string& scratch) {
  return extract_features(view_of(r), clf, scratch);
}

void RequestFacts::clear() {
  prompt = system = model = {};
  user_turns = 0;
  model_is_string = false;
  temperature = n = best_of = 1;
  top_logprobs = 0;
  logprobs = has_tools = false;
}

namespace {

void read_facts(const json::object& q, RequestFacts& out) {
  out.clear();
  if (auto* m = q.if_contains("messages"); m && m->is_array()) {
    for (const auto& msg : m->get_array()) {
      if (!msg.is_object()) continue;
      const auto& mo = msg.get_object();
      auto* role = mo.if_contains("role");
      auto* content = mo.if_contains("content");
      if (!role || !role->is_string() || !content) continue;
      std::string_view rs = role->get_string();
      if (rs == "user") {
        ++out.user_turns;
        out.prompt = content_text(*content, out.prompt_buf);
      } else if ((rs == "system" || rs == "developer") && out.system.empty()) {
        out.system = content_text(*content, out.system_buf);
      }
    }
  } else if (auto* p = q.if_contains("prompt")) {
    if (p->is_string())
      out.prompt = p->get_string();
    else if (p->is_array() && !p->get_array().empty() && p->get_array()[0].is_string())
      out.prompt = p->get_array()[0].get_string();
    out.user_turns = 1;
  }
  out.temperature = number_or(q, "temperature", 1.0);
  out.n = number_or(q, "n", 1);
  out.best_of = number_or(q, "best_of", 1);
  out.top_logprobs = number_or(q, "top_logprobs", 0);
  if (auto* lp = q.if_contains("logprobs")) {
    out.logprobs = (lp->is_bool() && lp->get_bool()) ||
                   ((lp->is_int64() || lp->is_uint64()) && number_or(q, "logprobs", 0) > 0);
  }
  for (const char* key : {"tools", "functions"})
    if (auto* t = q.if_contains(key); t && t->is_array() && !t->get_array().empty())
      out.has_tools = true;
  if (auto* mdl = q.if_contains("model"); mdl && mdl->is_string()) {
    out.model = mdl->get_string();
    out.model_is_string = true;
  }
}

}  // namespace

RecordFeatures extract_features(const RecordView& r, const CapabilityClassifier& clf,
                                std::string& scratch) {
  thread_local RequestFacts q;
  read_facts(*r.request, q);
  return extract_features(q, r, clf, scratch);
}

RecordFeatures extract_features(const RequestFacts& q, const RecordView& r,
                                const CapabilityClassifier& clf, std::string& scratch) {
  RecordFeatures f;
  f.ts = r.ts;
  const std::string_view prompt = q.prompt;
  if (!q.system.empty()) {
    f.system_hash = hash64(q.system, 2) | 1;
    f.app_system = q.system.size() >= kAppSystemBytes;
  }
  f.has_system = f.system_hash != 0;
  f.multi_turn = q.user_turns > 1;
  f.temp0 = q.temperature == 0.0;
  f.multi_sample = q.n > 1 || q.best_of > 1;
  f.logprobs = q.logprobs || q.top_logprobs > 0;
  f.has_tools = q.has_tools;
  if (q.model_is_string) f.model_hash = hash64(q.model, 3) | 1;

  // Bounded work per record, whatever the prompt's length: the classifier,
  // the cues and the template read the head and the tail of a long prompt
  // (instructions sit around the content; the middle is the "long tail").
  constexpr size_t kHead = 1500, kTail = 600;
  std::string_view window = prompt;
  std::string joined;
  if (prompt.size() > kHead + kTail) {
    joined.reserve(kHead + kTail + 1);
    joined.append(prompt.substr(0, kHead));
    joined.push_back('\n');
    joined.append(prompt.substr(prompt.size() - kTail));
    window = joined;
  }
  to_lower_ascii(window, scratch);
  thread_local Tokens tokens;  // found once for the cues and the classifier
  tokens.assign(scratch);
  uint32_t cues = scan_cues(tokens);
  f.capability = clf.classify(tokens, f.has_tools, cues);
  f.cot = cues & kCueCot;
  f.rubric = cues & kCueRubric;
  f.benchmark = has_benchmark_shape(window);
  f.prompt_hash = hash64(prompt, 1) | 1;
  f.tmpl = template_keys(window, tokens);

  f.prompt_tokens = static_cast<uint32_t>(
      r.prompt_tokens >= 0 ? r.prompt_tokens : static_cast<int64_t>(prompt.size() / 4));
  f.completion_tokens = static_cast<uint32_t>(std::max<int64_t>(0, r.completion_tokens));
  if (!r.ip.empty()) {
    f.ip_hash = hash64(r.ip, 5) | 1;
    f.ip_block = ip_block_of(r.ip);
  }
  if (!r.user_agent.empty() || !r.headers_fp.empty())
    f.fingerprint = (hash64(r.user_agent, 7) * 31 + hash64(r.headers_fp, 8)) | 1;
  f.account_created = r.account_created;
  return f;
}

}  // namespace dg::engine
