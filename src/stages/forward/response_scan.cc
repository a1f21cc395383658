#include "stages/forward/response_scan.h"

#include <boost/json/basic_parser_impl.hpp>
#include <cmath>
#include <cstdint>
#include <limits>

namespace dg::forward {
namespace json = boost::json;

namespace {

// Where a value sits, as far as the scan cares.
enum class Role : uint8_t { kRoot, kUsage, kChoices, kChoice, kMessage, kSkip };
// The key a value belongs to (classified in the context of its object).
enum class Key : uint8_t { kNone, kUsage, kChoices, kError, kPrompt, kCompletion, kIndex, kFinish,
                           kMessage, kContent, kReasoning, kOther };

constexpr int kMaxDepth = 64;  // the parser stops at parse_options::max_depth (32) first

struct Handler {
  static constexpr std::size_t max_array_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_object_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_string_size = static_cast<std::size_t>(-1);
  static constexpr std::size_t max_key_size = static_cast<std::size_t>(-1);

  ResponseShape shape = ResponseShape::kChatBody;
  ScanResult* out = nullptr;
  std::vector<ScannedChoice> choices;  // reused; the first `n` are this document's
  size_t n = 0;
  Role stack[kMaxDepth];
  int depth = 0;
  Key key = Key::kNone;
  bool root_object = false;
  bool key_partial = false;
  bool str_partial = false;
  std::string key_buf;
  std::string str_buf;

  void begin(ScanResult* r, ResponseShape s) {
    out = r;
    shape = s;
    n = 0;
    depth = 0;
    key = Key::kNone;
    root_object = false;
    key_partial = false;
    str_partial = false;
  }

  Role top() const { return stack[depth - 1]; }
  ScannedChoice& cur() { return choices[n - 1]; }

  Key classify(std::string_view k) const {
    switch (top()) {
      case Role::kRoot:
        if (k == "choices") return Key::kChoices;
        if (k == "usage") return Key::kUsage;
        if (k == "error") return Key::kError;
        return Key::kOther;
      case Role::kUsage:
        if (k == "prompt_tokens") return Key::kPrompt;
        if (k == "completion_tokens") return Key::kCompletion;
        return Key::kOther;
      case Role::kChoice:
        if (k == "finish_reason") return Key::kFinish;
        if (k == "index") return Key::kIndex;
        if (shape == ResponseShape::kText) {
          if (k == "text") return Key::kContent;
          if (k == "reasoning_content") return Key::kReasoning;
        } else if (k == (shape == ResponseShape::kChatBody ? "message" : "delta")) {
          return Key::kMessage;
        }
        return Key::kOther;
      case Role::kMessage:
        if (k == "content") return Key::kContent;
        if (k == "reasoning_content") return Key::kReasoning;
        return Key::kOther;
      default:
        return Key::kOther;
    }
  }

  bool wants_string() const {
    if (depth == 0) return false;
    Role r = top();
    if (r == Role::kChoice) return key == Key::kFinish || key == Key::kContent || key == Key::kReasoning;
    if (r == Role::kMessage) return key == Key::kContent || key == Key::kReasoning;
    return false;
  }

  // A value of a type the reader does not take arrived for (top, key): the
  // field reads as absent (a duplicate key's last value wins).
  void other_value() {
    if (depth == 0) return;
    switch (top()) {
      case Role::kRoot:
        if (key == Key::kUsage) out->has_usage = false;
        else if (key == Key::kChoices) n = 0;
        break;
      case Role::kUsage:
        if (key == Key::kPrompt) out->prompt_tokens = 0;
        else if (key == Key::kCompletion) out->completion_tokens = 0;
        break;
      case Role::kChoice:
        if (key == Key::kIndex) cur().index = 0;
        else if (key == Key::kFinish) cur().has_finish = false;
        else if (key == Key::kMessage) cur().has_content = cur().has_reasoning = false;
        else if (key == Key::kContent) cur().has_content = false;
        else if (key == Key::kReasoning) cur().has_reasoning = false;
        break;
      case Role::kMessage:
        if (key == Key::kContent) cur().has_content = false;
        else if (key == Key::kReasoning) cur().has_reasoning = false;
        break;
      default:
        break;
    }
  }

  void set_count(int64_t v) {
    if (key == Key::kPrompt) out->prompt_tokens = v;
    else if (key == Key::kCompletion) out->completion_tokens = v;
  }

  bool push(Role r) {
    stack[depth++] = r;
    key = Key::kNone;
    return true;
  }

  // --- basic_parser events
  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }

  bool on_object_begin(json::error_code& ec) {
    if (depth >= kMaxDepth) {
      ec = json::error::too_deep;
      return false;
    }
    if (depth == 0) {
      root_object = true;
      return push(Role::kRoot);
    }
    switch (top()) {
      case Role::kRoot:
        if (key == Key::kUsage) {
          out->has_usage = true;
          out->prompt_tokens = out->completion_tokens = 0;
          return push(Role::kUsage);
        }
        break;
      case Role::kChoices: {
        if (n == choices.size()) choices.emplace_back();
        ScannedChoice& c = choices[n++];
        c.index = 0;
        c.has_finish = c.has_content = c.has_reasoning = false;
        return push(Role::kChoice);
      }
      case Role::kChoice:
        if (key == Key::kMessage) {
          cur().has_content = cur().has_reasoning = false;
          return push(Role::kMessage);
        }
        break;
      default:
        break;
    }
    other_value();
    return push(Role::kSkip);
  }
  bool on_object_end(std::size_t, json::error_code&) {
    --depth;
    key = Key::kNone;
    return true;
  }
  bool on_array_begin(json::error_code& ec) {
    if (depth >= kMaxDepth) {
      ec = json::error::too_deep;
      return false;
    }
    if (depth > 0 && top() == Role::kRoot && key == Key::kChoices) {
      n = 0;
      return push(Role::kChoices);
    }
    other_value();
    return push(Role::kSkip);
  }
  bool on_array_end(std::size_t, json::error_code&) {
    --depth;
    key = Key::kNone;
    return true;
  }

  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (depth == 0 || top() == Role::kSkip) return true;
    if (!key_partial) {
      key_buf.clear();
      key_partial = true;
    }
    key_buf.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (top() == Role::kSkip) {
      key = Key::kOther;
      return true;
    }
    std::string_view k(s.data(), s.size());
    if (key_partial) {
      key_buf.append(s.data(), s.size());
      k = key_buf;
      key_partial = false;
    }
    key = classify(k);
    if (key == Key::kError && top() == Role::kRoot) out->has_error = true;
    return true;
  }

  bool on_string_part(json::string_view s, std::size_t, json::error_code&) {
    if (!wants_string()) return true;
    if (!str_partial) {
      str_buf.clear();
      str_partial = true;
    }
    str_buf.append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code&) {
    if (!wants_string()) {
      other_value();
      return true;
    }
    std::string_view v(s.data(), s.size());
    if (str_partial) {
      str_buf.append(s.data(), s.size());
      v = str_buf;
      str_partial = false;
    }
    ScannedChoice& c = cur();
    if (key == Key::kFinish) {
      c.has_finish = true;
      c.finish.assign(v);
    } else if (key == Key::kContent) {
      c.has_content = true;
      c.content.assign(v);
    } else {
      c.has_reasoning = true;
      c.reasoning.assign(v);
    }
    return true;
  }

  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, json::error_code&) {
    if (depth > 0 && top() == Role::kUsage && (key == Key::kPrompt || key == Key::kCompletion)) {
      set_count(i);
    } else if (depth > 0 && top() == Role::kChoice && key == Key::kIndex) {
      cur().index = i >= 0 && i < 128 ? static_cast<size_t>(i) : 0;
    } else {
      other_value();
    }
    return true;
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code&) {
    if (depth > 0 && top() == Role::kUsage && (key == Key::kPrompt || key == Key::kCompletion)) {
      set_count(static_cast<int64_t>(std::min<uint64_t>(u, std::numeric_limits<int64_t>::max())));
    } else {
      other_value();
    }
    return true;
  }
  bool on_double(double d, json::string_view, json::error_code&) {
    if (depth > 0 && top() == Role::kUsage && (key == Key::kPrompt || key == Key::kCompletion)) {
      // A token count sent as a float: its integer part (0 if not finite or out of range).
      bool in_range = std::isfinite(d) && d > -9.2e18 && d < 9.2e18;
      set_count(in_range ? static_cast<int64_t>(d) : 0);
    } else {
      other_value();
    }
    return true;
  }
  bool on_bool(bool, json::error_code&) {
    other_value();
    return true;
  }
  bool on_null(json::error_code&) {
    other_value();
    return true;
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

struct ResponseScanner::Impl {
  Impl() : parser(json::parse_options{}) {}
  json::basic_parser<Handler> parser;
};

ResponseScanner::ResponseScanner() : impl_(std::make_unique<Impl>()) {}
ResponseScanner::~ResponseScanner() = default;

ScanResult ResponseScanner::scan(std::string_view text, ResponseShape shape) {
  ScanResult r;
  auto& p = impl_->parser;
  Handler& h = p.handler();
  p.reset();
  h.begin(&r, shape);
  json::error_code ec;
  size_t used = p.write_some(false, text.data(), text.size(), ec);
  r.ok = !ec && used == text.size() && h.root_object;
  h.out = nullptr;
  if (!r.ok) return ScanResult{};
  r.choices = h.choices.data();
  r.choice_count = h.n;
  return r;
}

}  // namespace dg::forward
