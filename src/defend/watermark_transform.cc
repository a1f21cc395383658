#include "defend/watermark_transform.h"

#include <boost/json.hpp>
#include <cstring>

namespace dg::defend {
namespace json = boost::json;

namespace {
int64_t choice_index(const json::object& choice) {
  if (const auto* v = choice.if_contains("index"); v != nullptr && v->is_int64())
    return v->as_int64();
  return 0;
}
// True if the member's key is `k` (lengths first: most keys differ in length).
template <size_t N>
bool key_is(const json::key_value_pair& kv, const char (&k)[N]) {
  return kv.key().size() == N - 1 && std::memcmp(kv.key().data(), k, N - 1) == 0;
}
// The editable text field of a choice (streamed or not), or null.
json::string* text_field(json::object& choice, bool streamed) {
  const char* holder = streamed ? "delta" : "message";
  if (auto* m = choice.if_contains(holder); m != nullptr && m->is_object()) {
    if (auto* c = m->as_object().if_contains("content"); c != nullptr && c->is_string())
      return &c->as_string();
    return nullptr;
  }
  if (auto* t = choice.if_contains("text"); t != nullptr && t->is_string()) return &t->as_string();
  return nullptr;
}
}  // namespace

WatermarkTransform::~WatermarkTransform() {
  for (auto& [i, w] : markers_) account(*w);
}

void WatermarkTransform::account(const Watermarker& w) {
  (void)w;
  if (!tally_) return;
  WatermarkTally t;
  for (auto& [i, m] : markers_) {
    t.eligible += m->eligible();
    t.changed += m->changed();
  }
  *tally_ = t;
}

Watermarker& WatermarkTransform::other_marker(int64_t index) {
  for (auto& [i, w] : markers_) {
    if (i == index) return *w;
  }
  markers_.emplace_back(index, std::make_unique<Watermarker>(table_, key_, strength_));
  return *markers_.back().second;
}

void WatermarkTransform::on_body(json::object& body) {
  auto* choices = body.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return;
  for (auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    json::string* s = text_field(c.as_object(), false);
    if (s == nullptr) continue;
    Watermarker& w = marker(choice_index(c.as_object()));
    w.reset();
    out_.clear();
    w.feed(std::string_view(s->data(), s->size()), out_);
    w.finish(out_);
    *s = out_;
  }
  if (!markers_.empty()) account(*markers_.front().second);
}

void WatermarkTransform::on_chunk(json::object& chunk) {
  // This runs once per streamed token: the fields are found by one pass over
  // each object, comparing lengths before bytes (json::object::find is an
  // out-of-line call with a memcmp per key).
  json::array* choices = nullptr;
  // From the end: OpenAI chunks end with choices (and usage).
  for (auto it = chunk.end(); it != chunk.begin();) {
    if (key_is(*--it, "choices")) {
      if (it->value().is_array()) choices = &it->value().get_array();
      break;
    }
  }
  if (choices == nullptr) return;
  for (auto& c : *choices) {
    if (!c.is_object()) continue;
    json::object& choice = c.get_object();
    json::value* delta = nullptr;
    json::string* text = nullptr;
    bool finished = false;
    int64_t index = 0;
    for (auto& kv : choice) {
      json::value& v = kv.value();
      if (key_is(kv, "delta")) {
        delta = &v;
      } else if (key_is(kv, "text")) {
        if (v.is_string()) text = &v.get_string();
      } else if (key_is(kv, "finish_reason")) {
        finished = v.is_string();
      } else if (key_is(kv, "index")) {
        if (v.is_int64()) index = v.get_int64();
      }
    }
    json::string* s = text;
    if (delta != nullptr && delta->is_object()) {
      s = nullptr;
      for (auto& kv : delta->get_object()) {
        if (key_is(kv, "content") && kv.value().is_string()) s = &kv.value().get_string();
      }
    }
    if (s == nullptr && !finished) continue;
    const std::string_view in =
        s != nullptr ? std::string_view(s->data(), s->size()) : std::string_view();
    step(index, s != nullptr ? &in : nullptr, finished);
    if (s != nullptr) {
      if (out_.empty()) {
        s->clear();  // most token-sized chunks end inside a word: all held back
      } else {
        s->assign(out_.data(), out_.size());
      }
    } else if (!out_.empty()) {
      // Finishing chunk without content: give it the flushed tail.
      if (delta != nullptr && delta->is_object()) {
        delta->get_object()["content"] = out_;
      } else {
        choice["text"] = out_;
      }
    }
  }
  if (tally_ && !markers_.empty()) account(*markers_.front().second);
}

void WatermarkTransform::step(int64_t index, const std::string_view* text, bool finished) {
  Watermarker& w = marker(index);
  out_.clear();
  if (text != nullptr) w.feed(*text, out_);
  if (finished) w.finish(out_);
}

void WatermarkTransform::on_text_chunk(pipeline::TextChunk& c) {
  if (!c.has_text && !c.finished) return;
  const std::string_view in = c.text;
  step(c.index, c.has_text ? &in : nullptr, c.finished);
  if (c.has_text || !out_.empty()) {
    c.has_text = true;
    c.text.swap(out_);  // out_ keeps the old buffer for the next step
  }
  if (tally_ && !markers_.empty()) account(*markers_.front().second);
}

void WatermarkTransform::on_stream_end(const json::object* last, std::vector<json::object>& extra) {
  for (auto& [index, w] : markers_) {
    if (w->held_back() == 0) continue;
    out_.clear();
    w->finish(out_);
    json::object chunk;
    bool chat = true;
    if (last != nullptr) {
      for (const char* k : {"id", "object", "created", "model", "system_fingerprint"}) {
        if (const auto* v = last->if_contains(k)) chunk[k] = *v;
      }
      if (const auto* o = last->if_contains("object"); o != nullptr && o->is_string()) {
        chat = o->as_string() != "text_completion";
      }
    }
    json::object choice;
    choice["index"] = index;
    if (chat) {
      choice["delta"] = json::object{{"content", out_}};
    } else {
      choice["text"] = out_;
    }
    choice["finish_reason"] = nullptr;
    chunk["choices"] = json::array{choice};
    extra.push_back(std::move(chunk));
  }
  if (!markers_.empty()) account(*markers_.front().second);
}

}  // namespace dg::defend
