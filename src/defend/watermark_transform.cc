#include "defend/watermark_transform.h"

#include <boost/json.hpp>

namespace dg::defend {
namespace json = boost::json;

namespace {
int64_t choice_index(const json::object& choice) {
  if (const auto* v = choice.if_contains("index"); v != nullptr && v->is_int64()) return v->as_int64();
  return 0;
}
// The editable text field of a choice (streamed or not), or null.
json::string* text_field(json::object& choice, bool streamed) {
  const char* holder = streamed ? "delta" : "message";
  if (auto* m = choice.if_contains(holder); m != nullptr && m->is_object()) {
    if (auto* c = m->as_object().if_contains("content"); c != nullptr && c->is_string()) return &c->as_string();
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

Watermarker& WatermarkTransform::marker(int64_t index) {
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
  auto* choices = chunk.if_contains("choices");
  if (choices == nullptr || !choices->is_array()) return;
  for (auto& c : choices->as_array()) {
    if (!c.is_object()) continue;
    json::object& choice = c.as_object();
    // One pass over the choice's fields (this runs once per streamed token).
    json::value* delta = nullptr;
    json::string* text = nullptr;
    bool finished = false;
    int64_t index = 0;
    for (auto& kv : choice) {
      const std::string_view k(kv.key().data(), kv.key().size());
      json::value& v = kv.value();
      if (k == "delta") {
        delta = &v;
      } else if (k == "text") {
        if (v.is_string()) text = &v.as_string();
      } else if (k == "finish_reason") {
        finished = v.is_string();
      } else if (k == "index") {
        if (v.is_int64()) index = v.as_int64();
      }
    }
    json::string* s = text;
    if (delta != nullptr && delta->is_object()) {
      s = nullptr;
      for (auto& kv : delta->as_object()) {
        if (std::string_view(kv.key().data(), kv.key().size()) == "content" && kv.value().is_string()) {
          s = &kv.value().as_string();
        }
      }
    }
    if (s == nullptr && !finished) continue;
    Watermarker& w = marker(index);
    out_.clear();
    if (s != nullptr) w.feed(std::string_view(s->data(), s->size()), out_);
    if (finished) w.finish(out_);
    if (s != nullptr) {
      *s = out_;
    } else if (!out_.empty()) {
      // Finishing chunk without content: give it the flushed tail.
      if (auto* d = choice.if_contains("delta"); d != nullptr && d->is_object()) {
        d->as_object()["content"] = out_;
      } else {
        choice["text"] = out_;
      }
    }
  }
  if (!markers_.empty()) account(*markers_.front().second);
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
