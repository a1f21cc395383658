#include "defend/degrade.h"

#include <algorithm>
#include <boost/json.hpp>
#include <cmath>
#include <cstring>

namespace dg::defend {
namespace json = boost::json;

namespace {
void serialize_sorted(const json::value& v, std::string& out) {
  if (v.is_object()) {
    std::vector<std::pair<std::string_view, const json::value*>> kv;
    for (const auto& e : v.as_object()) kv.emplace_back(e.key(), &e.value());
    std::sort(kv.begin(), kv.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    out.push_back('{');
    for (size_t i = 0; i < kv.size(); ++i) {
      if (i) out.push_back(',');
      out += json::serialize(json::string(kv[i].first));
      out.push_back(':');
      serialize_sorted(*kv[i].second, out);
    }
    out.push_back('}');
  } else if (v.is_array()) {
    out.push_back('[');
    bool first = true;
    for (const auto& e : v.as_array()) {
      if (!first) out.push_back(',');
      first = false;
      serialize_sorted(e, out);
    }
    out.push_back(']');
  } else {
    out += json::serialize(v);
  }
}

int64_t index_of(const json::object& choice) {
  if (const auto* v = choice.if_contains("index"); v && v->is_int64()) return v->as_int64();
  return 0;
}
double as_double(const json::value& v) {
  return v.is_double() ? v.as_double() : v.is_int64() ? double(v.as_int64()) : 0.0;
}
}  // namespace

Sha256 request_fingerprint(std::string_view account, const json::object& request) {
  std::string s(account);
  s.push_back('\n');
  serialize_sorted(request, s);
  return sha256(s);
}

double LogprobTransform::noise(int64_t choice, int64_t position, std::string_view token) {
  scratch_.assign(reinterpret_cast<const char*>(key_.data()), key_.size());
  scratch_.append(reinterpret_cast<const char*>(fp_.data()), fp_.size());
  char buf[16];
  std::memcpy(buf, &choice, 8);
  std::memcpy(buf + 8, &position, 8);
  scratch_.append(buf, 16);
  scratch_.append(token);
  const Sha256 h = sha256(scratch_);
  uint64_t a = 0;
  for (int i = 0; i < 8; ++i) a = (a << 8) | h[i];
  const double u = (static_cast<double>(a >> 11) + 0.5) * 0x1.0p-53;  // (0,1)
  return (2 * u - 1);                                                 // uniform in (-1, 1)
}

void LogprobTransform::perturb_entry(json::object& entry, int64_t position, int64_t choice) {
  // Reads never insert (operator[] would), and `entry` is written only after
  // the loop: an insertion rehashes the object and would leave `arr` dangling.
  auto logprob_of = [](const json::value& v) {
    const json::value* lp = v.is_object() ? v.as_object().if_contains("logprob") : nullptr;
    return lp ? as_double(*lp) : -1e300;
  };
  const json::value* token = entry.if_contains("token");
  const std::string sampled =
      token && token->is_string() ? std::string(token->as_string()) : std::string();
  auto* tops = entry.if_contains("top_logprobs");
  if (tops == nullptr || !tops->is_array() || tops->as_array().empty()) {
    return;  // nothing to distort without alternatives; the sampled logprob stays
  }
  auto& arr = tops->as_array();
  // The top alternative keeps its value and rank.
  size_t top = 0;
  for (size_t i = 1; i < arr.size(); ++i) {
    if (arr[i].is_object() && arr[top].is_object() && logprob_of(arr[i]) > logprob_of(arr[top]))
      top = i;
  }
  if (!arr[top].is_object()) return;
  const double top_lp = logprob_of(arr[top]);
  bool sampled_changed = false;
  double sampled_lp = 0;
  for (size_t i = 0; i < arr.size(); ++i) {
    if (i == top || !arr[i].is_object()) continue;
    auto& alt = arr[i].as_object();
    const json::value* t = alt.if_contains("token");
    const std::string tok = t && t->is_string() ? std::string(t->as_string()) : std::string();
    double lp = logprob_of(arr[i]);
    if (lp <= -1e299) continue;  // an alternative without a logprob is left alone
    lp = std::min(lp + sigma_ * noise(choice, position, tok), top_lp - 1e-3);
    alt["logprob"] = lp;
    if (tok == sampled) {
      sampled_changed = true;
      sampled_lp = lp;
    }
  }
  std::stable_sort(arr.begin(), arr.end(), [&](const json::value& a, const json::value& b) {
    return logprob_of(a) > logprob_of(b);
  });
  if (sampled_changed) entry["logprob"] = sampled_lp;
}

void LogprobTransform::perturb_choices(json::object& obj) {
  auto* choices = obj.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return;
  for (auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    auto* lp = c.as_object().if_contains("logprobs");
    if (lp == nullptr || !lp->is_object()) continue;
    auto* content = lp->as_object().if_contains("content");
    if (content == nullptr || !content->is_array()) continue;
    const int64_t idx = index_of(c.as_object());
    int64_t* pos = nullptr;
    for (auto& [i, p] : positions_) {
      if (i == idx) pos = &p;
    }
    if (pos == nullptr) {
      positions_.emplace_back(idx, 0);
      pos = &positions_.back().second;
    }
    for (auto& e : content->as_array()) {
      if (e.is_object()) perturb_entry(e.as_object(), (*pos)++, idx);
    }
  }
}

void LogprobTransform::on_body(json::object& body) { perturb_choices(body); }
void LogprobTransform::on_chunk(json::object& chunk) { perturb_choices(chunk); }

Result<ReasoningMode> parse_reasoning_mode(std::string_view s) {
  if (s == "keep") return ReasoningMode::kKeep;
  if (s == "withhold") return ReasoningMode::kWithhold;
  if (s == "summarize") return ReasoningMode::kSummarize;
  return invalid_argument("reasoning mode must be keep, withhold or summarize");
}

std::string summarize_reasoning(std::string_view text, int max_words) {
  std::string out;
  int words = 0;
  bool in_word = false, cut = true;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    const bool space = c == ' ' || c == '\n' || c == '\t' || c == '\r';
    if (!space && !in_word) {
      if (words == max_words) break;
      ++words;
    }
    in_word = !space;
    if (space) {
      if (!out.empty() && out.back() != ' ') out.push_back(' ');
    } else {
      out.push_back(c);
    }
    if ((c == '.' || c == '!' || c == '?') &&
        (i + 1 == text.size() || text[i + 1] == ' ' || text[i + 1] == '\n')) {
      cut = false;
      break;
    }
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  if (cut && !out.empty()) out += "…";
  return out;
}

void ReasoningTransform::keep_for_summary(StreamState& st, std::string_view text) {
  // The summary reads at most summary_words_ words of the first sentence: keep
  // only a prefix long enough for that (bounded memory for long traces). In
  // withhold mode a marker byte records that there was reasoning.
  const size_t cap = mode_ == ReasoningMode::kSummarize
                         ? std::max<size_t>(4096, 64 * static_cast<size_t>(summary_words_))
                         : 1;
  if (st.reasoning.size() < cap) st.reasoning.append(text.substr(0, cap - st.reasoning.size()));
}

std::string ReasoningTransform::summary_text(const std::string& reasoning) const {
  return "[reasoning summary] " + summarize_reasoning(reasoning, summary_words_);
}

namespace {
constexpr std::string_view kOpen = "<think>";
constexpr std::string_view kClose = "</think>";
}  // namespace

void ReasoningTransform::on_body(json::object& body) {
  if (mode_ == ReasoningMode::kKeep) return;
  auto* choices = body.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return;
  for (auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    auto* m = c.as_object().if_contains("message");
    if (m == nullptr || !m->is_object()) continue;
    auto& msg = m->as_object();
    for (const char* field : {"reasoning_content", "reasoning"}) {
      if (auto* r = msg.if_contains(field); r != nullptr && r->is_string()) {
        std::string text(r->as_string().c_str());
        withheld_ += static_cast<int64_t>(text.size());
        if (mode_ == ReasoningMode::kWithhold) {
          msg.erase(field);
        } else {
          *r = summary_text(text);
        }
      }
    }
    if (auto* ct = msg.if_contains("content"); ct != nullptr && ct->is_string()) {
      StreamState st;
      std::string out = filter_content(
          st, std::string_view(ct->as_string().data(), ct->as_string().size()), true);
      *ct = out;
    }
  }
}

ReasoningTransform::StreamState& ReasoningTransform::state(int64_t index) {
  for (auto& s : states_) {
    if (s.index == index) return s;
  }
  states_.push_back(StreamState{});
  states_.back().index = index;
  return states_.back();
}

std::string ReasoningTransform::filter_content(StreamState& st, std::string_view in, bool final) {
  std::string text = st.pending;
  text.append(in);
  st.pending.clear();
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    const std::string_view tag = st.in_think ? kClose : kOpen;
    const size_t at = text.find(tag, i);
    if (at == std::string::npos) {
      // Hold back a suffix that could start the tag.
      size_t keep = 0;
      if (!final) {
        for (size_t k = std::min(tag.size() - 1, text.size() - i); k > 0; --k) {
          if (text.compare(text.size() - k, k, tag.substr(0, k)) == 0) {
            keep = k;
            break;
          }
        }
      }
      const std::string_view body(text.data() + i, text.size() - i - keep);
      if (st.in_think) {
        keep_for_summary(st, body);
        withheld_ += static_cast<int64_t>(body.size());
      } else {
        out.append(body);
      }
      st.pending.assign(text, text.size() - keep, keep);
      break;
    }
    const std::string_view body(text.data() + i, at - i);
    if (st.in_think) {
      keep_for_summary(st, body);
      withheld_ += static_cast<int64_t>(body.size());
      if (mode_ == ReasoningMode::kSummarize)
        out += "<think>" + summary_text(st.reasoning) + "</think>";
      st.reasoning.clear();
    } else {
      out.append(body);
    }
    st.in_think = !st.in_think;
    i = at + tag.size();
  }
  if (final && st.in_think && !st.reasoning.empty()) {
    // Unclosed think block at the end: summarise what there was.
    if (mode_ == ReasoningMode::kSummarize)
      out += "<think>" + summary_text(st.reasoning) + "</think>";
    st.reasoning.clear();
  }
  return out;
}

void ReasoningTransform::on_chunk(json::object& chunk) {
  if (mode_ == ReasoningMode::kKeep) return;
  auto* choices = chunk.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return;
  for (auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    auto& choice = c.as_object();
    StreamState& st = state(index_of(choice));
    auto* d = choice.if_contains("delta");
    const auto* fr = choice.if_contains("finish_reason");
    const bool finished = fr != nullptr && fr->is_string();
    if (d == nullptr || !d->is_object()) continue;
    auto& delta = d->as_object();
    for (const char* field : {"reasoning_content", "reasoning"}) {
      if (auto* r = delta.if_contains(field); r != nullptr && r->is_string()) {
        keep_for_summary(st, std::string_view(r->as_string().data(), r->as_string().size()));
        withheld_ += static_cast<int64_t>(r->as_string().size());
        delta.erase(field);
      }
    }
    std::string in;
    const auto* ct = delta.if_contains("content");
    const bool has = ct != nullptr && ct->is_string();
    if (has) {
      in.assign(ct->as_string().data(), ct->as_string().size());
      // First content after a reasoning_content stream: send the summary first.
      if (summary_due(st)) {
        delta["reasoning_content"] = summary_text(st.reasoning);
        st.summary_sent = true;
        st.reasoning.clear();
      }
    }
    const std::string_view view = in;
    std::string out;
    if (content_step(st, has ? &view : nullptr, finished, out)) delta["content"] = out;
  }
}

bool ReasoningTransform::content_step(StreamState& st, const std::string_view* content,
                                      bool finished, std::string& out) {
  if (content != nullptr) {
    out = filter_content(st, *content, finished);
    return true;
  }
  if (finished && (!st.pending.empty() || st.in_think)) {
    out = filter_content(st, "", true);
    return true;
  }
  return false;
}

bool ReasoningTransform::needs_tree(int64_t index) const {
  for (const auto& s : states_) {
    if (s.index == index) return summary_due(s);
  }
  return false;
}

void ReasoningTransform::on_text_chunk(pipeline::TextChunk& c) {
  if (mode_ == ReasoningMode::kKeep) return;
  StreamState& st = state(c.index);
  if (!c.chat) return;  // completions chunks: on_chunk reads only deltas
  std::string out;
  const std::string_view view = c.text;
  if (!content_step(st, c.has_text ? &view : nullptr, c.finished, out)) return;
  c.has_text = true;
  c.text.swap(out);
}

void ReasoningTransform::on_stream_end(const json::object* last, std::vector<json::object>& extra) {
  if (mode_ == ReasoningMode::kKeep) return;
  for (auto& st : states_) {
    std::string out;
    if (!st.pending.empty() || st.in_think) out = filter_content(st, "", true);
    std::string summary;
    if (mode_ == ReasoningMode::kSummarize && !st.reasoning.empty() && !st.summary_sent) {
      summary = summary_text(st.reasoning);
      st.summary_sent = true;
    }
    if (out.empty() && summary.empty()) continue;
    json::object chunk;
    if (last != nullptr) {
      for (const char* k : {"id", "object", "created", "model"}) {
        if (const auto* v = last->if_contains(k)) chunk[k] = *v;
      }
    }
    json::object delta;
    if (!summary.empty()) delta["reasoning_content"] = summary;
    if (!out.empty()) delta["content"] = out;
    chunk["choices"] = json::array{
        json::object{{"index", st.index}, {"delta", delta}, {"finish_reason", nullptr}}};
    extra.push_back(std::move(chunk));
  }
}

bool cap_output_tokens(json::object& request, int64_t cap) {
  bool changed = false;
  bool any = false;
  for (const char* k : {"max_tokens", "max_completion_tokens"}) {
    if (auto* v = request.if_contains(k); v != nullptr && v->is_int64()) {
      any = true;
      if (v->as_int64() > cap) {
        *v = cap;
        changed = true;
      }
    }
  }
  if (!any) {
    request["max_tokens"] = cap;
    changed = true;
  }
  return changed;
}

}  // namespace dg::defend
