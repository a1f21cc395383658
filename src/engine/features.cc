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

RecordFeatures extract_features(const RecordView& r, const CapabilityClassifier& clf,
                                std::string& scratch) {
  RecordFeatures f;
  f.ts = r.ts;
  const json::object& q = *r.request;
  std::string part_buf, sys_buf;
  std::string_view prompt, system;
  int user_turns = 0;
  if (auto* m = q.if_contains("messages"); m && m->is_array()) {
    for (const auto& msg : m->get_array()) {
      if (!msg.is_object()) continue;
      const auto& mo = msg.get_object();
      auto* role = mo.if_contains("role");
      auto* content = mo.if_contains("content");
      if (!role || !role->is_string() || !content) continue;
      std::string_view rs = role->get_string();
      if (rs == "user") {
        ++user_turns;
        prompt = content_text(*content, part_buf);
        if (prompt.data() == part_buf.data()) {
          sys_buf.swap(part_buf);  // keep the last user text alive
          prompt = sys_buf;
        }
      } else if ((rs == "system" || rs == "developer") && system.empty()) {
        std::string tmp;
        std::string_view s = content_text(*content, tmp);
        f.system_hash = s.empty() ? 0 : (hash64(s, 2) | 1);
        f.app_system = s.size() >= kAppSystemBytes;
        system = s.empty() ? std::string_view{} : std::string_view("x");
      }
    }
  } else if (auto* p = q.if_contains("prompt")) {
    if (p->is_string())
      prompt = p->get_string();
    else if (p->is_array() && !p->get_array().empty() && p->get_array()[0].is_string())
      prompt = p->get_array()[0].get_string();
    user_turns = 1;
  }
  f.has_system = f.system_hash != 0;
  f.multi_turn = user_turns > 1;
  f.temp0 = number_or(q, "temperature", 1.0) == 0.0;
  f.multi_sample = number_or(q, "n", 1) > 1 || number_or(q, "best_of", 1) > 1;
  if (auto* lp = q.if_contains("logprobs")) {
    f.logprobs = (lp->is_bool() && lp->get_bool()) ||
                 ((lp->is_int64() || lp->is_uint64()) && number_or(q, "logprobs", 0) > 0);
  }
  f.logprobs = f.logprobs || number_or(q, "top_logprobs", 0) > 0;
  if (auto* t = q.if_contains("tools"); t && t->is_array() && !t->get_array().empty())
    f.has_tools = true;
  if (auto* t = q.if_contains("functions"); t && t->is_array() && !t->get_array().empty())
    f.has_tools = true;
  if (auto* mdl = q.if_contains("model"); mdl && mdl->is_string())
    f.model_hash = hash64(mdl->get_string(), 3) | 1;

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
