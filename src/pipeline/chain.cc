#include "pipeline/chain.h"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

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
        ctx.reply(LocalReply{500, "server_error", "stage_stopped_without_reply",
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
void emit_chunk(const boost::json::object& o, std::string& out) {
  out += "data: ";
  out += boost::json::serialize(o);
  out += "\n\n";
}
}  // namespace

void StreamTransformer::process_event(std::string_view event, std::string& out,
                                      const boost::json::object** parsed) {
  *parsed = nullptr;
  std::string_view data = http::event_data(event, scratch_);
  if (data == "[DONE]") {
    end_stream(out);
    out.append(event);
    return;
  }
  boost::system::error_code ec;
  boost::json::value v = boost::json::parse(data, ec);
  if (ec || !v.is_object() || ended_) {
    out.append(event);
    return;
  }
  boost::json::object& chunk = v.as_object();
  for (auto& t : transforms_) t->on_chunk(chunk);
  emit_chunk(chunk, out);
  last_ = std::move(chunk);
  have_last_ = true;
  *parsed = &last_;
}

void StreamTransformer::finish(std::string& out) { end_stream(out); }

void StreamTransformer::end_stream(std::string& out) {
  if (ended_) return;
  ended_ = true;
  std::vector<boost::json::object> flushed;
  for (auto& t : transforms_) {
    for (auto& c : flushed) t->on_chunk(c);
    std::vector<boost::json::object> extra;
    t->on_stream_end(have_last_ ? &last_ : nullptr, extra);
    for (auto& c : extra) flushed.push_back(std::move(c));
  }
  for (const auto& c : flushed) emit_chunk(c, out);
}

}  // namespace dg::pipeline
