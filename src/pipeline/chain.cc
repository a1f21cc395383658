#include "pipeline/chain.h"

#include <algorithm>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serializer.hpp>

#include "http/sse.h"

namespace dg::pipeline {

Chain::Outcome Chain::run_request(ExchangeContext& ctx) const {
  Outcome out;
  for (const ChainEntry& e : entries_) {
    if (e.mode == StageMode::kOff) continue;
    size_t transforms_before = ctx.transforms().size();
    FilterStatus st = e.stage->on_request(ctx);
    ++out.ran;
    bool stopped = st == FilterStatus::kStop || ctx.local_reply() != nullptr;
    if (e.mode == StageMode::kShadow) {
      if (auto r = ctx.take_reply()) {
        ctx.notes.emplace_back(std::string(e.stage->name()),
                               "shadow: would reply " + std::to_string(r->status) + " " + r->code);
      } else if (st == FilterStatus::kStop) {
        ctx.notes.emplace_back(std::string(e.stage->name()), "shadow: would stop the request");
      }
      auto& ts = ctx.transforms();
      while (ts.size() > transforms_before) ts.pop_back();
      continue;
    }
    if (stopped) {
      if (!ctx.local_reply()) {
        ctx.reply(LocalReply{500,
                             "server_error",
                             "stage_stopped_without_reply",
                             "internal error: stage '" + std::string(e.stage->name()) +
                                 "' stopped the request without a reply",
                             {}});
      }
      out.replied = true;
      return out;
    }
  }
  return out;
}

void Chain::run_complete(ExchangeContext& ctx, size_t ran) const {
  // `ran` counts stages that were not off, in order: find where the last of
  // them sits, then walk back from there.
  size_t end = 0;
  for (size_t seen = 0; end < entries_.size() && seen < ran; ++end)
    if (entries_[end].mode != StageMode::kOff) ++seen;
  for (size_t i = end; i-- > 0;)
    if (entries_[i].mode != StageMode::kOff) entries_[i].stage->on_complete(ctx);
}

void apply_body_transforms(ExchangeContext& ctx, boost::json::object& body) {
  for (auto& t : ctx.transforms()) t->on_body(body);
}

namespace {
// Reads everything `sr` has left into `out`.
void drain(boost::json::serializer& sr, std::string& out) {
  while (!sr.done()) {
    const size_t at = out.size();
    out.resize(std::max(at + 256, out.capacity()));
    const std::string_view wrote = sr.read(out.data() + at, out.size() - at);
    out.resize(at + wrote.size());
  }
}

// Serializes `o` as one SSE event straight into `out`.
void emit_chunk(boost::json::serializer& sr, const boost::json::object& o, std::string& out) {
  out += "data: ";
  sr.reset(&o);
  drain(sr, out);
  out += "\n\n";
}

void emit_string(boost::json::serializer& sr, std::string_view s, std::string& out) {
  sr.reset(boost::json::string_view(s.data(), s.size()));
  drain(sr, out);
}

// The event `json` after the transforms edited its text (scanned as `sh`).
void emit_text_chunk(boost::json::serializer& sr, std::string_view json, const TextChunkShape& sh,
                     std::string& out) {
  out += "data: ";
  const TextChunk& c = sh.chunk;
  if (!c.has_text) {
    out.append(json.substr(sh.begin, sh.end - sh.begin));
  } else if (sh.value_begin != sh.value_end) {  // a string or null there: replace it
    out.append(json.substr(sh.begin, sh.value_begin - sh.begin));
    emit_string(sr, c.text, out);
    out.append(json.substr(sh.value_end, sh.end - sh.value_end));
  } else {  // add delta.content, last (as json::object's operator[] does)
    out.append(json.substr(sh.begin, sh.insert_at - sh.begin));
    out += sh.holder_empty ? "\"content\":" : ",\"content\":";
    emit_string(sr, c.text, out);
    out.append(json.substr(sh.insert_at, sh.end - sh.insert_at));
  }
  out += "\n\n";
}
}  // namespace

struct StreamTransformer::Buffers {
  static constexpr size_t kInline = 4096;  // a typical chunk's tree fits
  struct Arena {
    alignas(16) unsigned char block[kInline];
    boost::json::monotonic_resource mr{block, sizeof block};
    boost::json::value chunk =
        boost::json::value(boost::json::storage_ptr(&mr));  // this arena's event
  };
  Arena arenas[2];
  int last = 1;  // arena holding the previous chunk; the next event goes to the other
  boost::json::parser parser;
  boost::json::serializer serializer;
  TextChunkScanner scanner;
  TextChunkShape shape;   // the text path's event
  std::string last_text;  // the previous chunk's JSON, when it took the text path
};

StreamTransformer::StreamTransformer(std::vector<std::unique_ptr<ResponseTransform>>& transforms)
    : transforms_(transforms), buf_(std::make_unique<Buffers>()) {
  for (auto& t : transforms_) {
    auto* x = dynamic_cast<TextChunkTransform*>(t.get());
    if (x == nullptr) break;
    text_.push_back(x);
  }
  text_path_ = text_.size() == transforms_.size();
}

StreamTransformer::~StreamTransformer() = default;

bool StreamTransformer::text_event(std::string_view data, std::string& out) {
  TextChunkShape& sh = buf_->shape;
  if (!buf_->scanner.scan(data, sh)) return false;
  for (const TextChunkTransform* t : text_) {
    if (t->needs_tree(sh.chunk.index)) return false;
  }
  for (TextChunkTransform* t : text_) t->on_text_chunk(sh.chunk);
  const size_t at = out.size();
  emit_text_chunk(buf_->serializer, data, sh, out);
  buf_->last_text.assign(out, at + 6, out.size() - at - 8);  // without "data: " and "\n\n"
  last_is_text_ = true;
  return true;
}

void StreamTransformer::process_event(std::string_view event, std::string& out,
                                      const boost::json::object** parsed) {
  *parsed = nullptr;
  std::string_view data = http::event_data(event, scratch_);
  if (data == "[DONE]") {
    end_stream(out);
    out.append(event);
    return;
  }
  if (ended_) {
    out.append(event);
    return;
  }
  if (text_path_ && text_event(data, out)) return;
  Buffers::Arena& a = buf_->arenas[buf_->last ^ 1];
  a.chunk.emplace_null();  // the event before last: nothing refers to it any more
  a.mr.release();
  buf_->parser.reset(boost::json::storage_ptr(&a.mr));
  boost::system::error_code ec;
  buf_->parser.write(data.data(), data.size(), ec);
  if (ec) {
    out.append(event);
    return;
  }
  a.chunk = buf_->parser.release();  // same storage: a move, no copy
  if (!a.chunk.is_object()) {
    out.append(event);
    return;
  }
  boost::json::object& chunk = a.chunk.get_object();
  for (auto& t : transforms_) t->on_chunk(chunk);
  emit_chunk(buf_->serializer, chunk, out);
  buf_->last ^= 1;
  last_ = &chunk;
  last_is_text_ = false;
  *parsed = &chunk;
}

void StreamTransformer::finish(std::string& out) { end_stream(out); }

void StreamTransformer::end_stream(std::string& out) {
  if (ended_) return;
  ended_ = true;
  const boost::json::object* last = last_;
  boost::json::value last_tree;  // the text path's last chunk, parsed once per stream
  if (last_is_text_) {
    boost::system::error_code ec;
    last_tree = boost::json::parse(buf_->last_text, ec);
    last = !ec && last_tree.is_object() ? &last_tree.get_object() : nullptr;
  }
  std::vector<boost::json::object> flushed;
  for (auto& t : transforms_) {
    for (auto& c : flushed) t->on_chunk(c);
    std::vector<boost::json::object> extra;
    t->on_stream_end(last, extra);
    for (auto& c : extra) flushed.push_back(std::move(c));
  }
  for (const auto& c : flushed) emit_chunk(buf_->serializer, c, out);
}

}  // namespace dg::pipeline
