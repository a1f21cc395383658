// The stage chain runner.
//
// run_request() calls each stage's on_request in chain order until one stops
// the exchange with a local reply; run_complete() then calls on_complete in
// reverse order for every stage whose on_request ran (also after a local
// reply, an upstream failure or a client that went away), so stages can
// always reconcile what they charged.
//
// Modes, per stage (from [stages.<name>] mode):
//   off      the stage is not in the chain at all (the registry skips it);
//   shadow   the stage runs, but a local reply it makes is turned into a note
//            ("<stage>", "shadow: would reply 429 rate_limit_exceeded") and
//            the exchange goes on; transforms it attaches are dropped;
//   enforce  the stage acts.
// Stages also receive their mode at creation and may implement shadow
// themselves; the runner's guard makes shadow safe even when they don't.
// A stage that returns kStop without a reply gets a 500 internal_error reply
// with reason code "stage_stopped_without_reply" (a bug, made visible).
//
// Thread-safety: a Chain is immutable after construction and shared by all
// worker threads; the stages it owns must be thread-safe (see stage.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "distillguard/stage.h"
#include "pipeline/text_chunk.h"

namespace dg::pipeline {

struct ChainEntry {
  std::unique_ptr<Stage> stage;
  StageMode mode = StageMode::kEnforce;
};

class Chain {
 public:
  Chain() = default;
  explicit Chain(std::vector<ChainEntry> entries) : entries_(std::move(entries)) {}

  struct Outcome {
    size_t ran = 0;        // stages whose on_request ran (pass to run_complete)
    bool replied = false;  // a stage answered: ctx.local_reply() is set
  };
  Outcome run_request(ExchangeContext& ctx) const;
  void run_complete(ExchangeContext& ctx, size_t ran) const;

  size_t size() const { return entries_.size(); }
  const Stage& stage(size_t i) const { return *entries_[i].stage; }
  StageMode mode(size_t i) const { return entries_[i].mode; }

 private:
  std::vector<ChainEntry> entries_;
};

// Applies the context's transforms to a whole (non-streamed) JSON response
// body, in chain order.
void apply_body_transforms(ExchangeContext& ctx, boost::json::object& body);

// Applies the context's transforms to a streamed response, one SSE event at
// a time, in order. Only used when at least one transform is attached
// (otherwise the forwarder relays the upstream's bytes untouched). Events
// whose data is not a JSON object (comments, keep-alives, malformed data)
// pass through unchanged. Before "[DONE]" (or at the end of the stream if the
// upstream never sent it) each transform's on_stream_end runs; chunks it adds
// pass through the transforms after it. Not thread-safe (one per stream).
//
// Two paths, one result (see text_chunk.h): when every attached transform is
// also a TextChunkTransform, an event of the common shape (one choice, text
// in delta.content or text) takes the text path: no tree, its bytes are
// copied with the text field's value rewritten; the output is byte-identical
// to the tree path's for compact input and parses to the same value
// otherwise. Every other event takes the tree path: it is parsed by one
// reused parser into one of two monotonic arenas, alternately (the previous
// event's chunk, which on_stream_end may read, lives in the other), and
// serialized by one reused serializer straight into `out`; an event that fits
// its arena's inline block allocates nothing. Transforms must therefore not
// keep references into a chunk past on_chunk (copying values out is fine: a
// copy lives in the copy's own storage).
class StreamTransformer {
 public:
  explicit StreamTransformer(std::vector<std::unique_ptr<ResponseTransform>>& transforms);
  ~StreamTransformer();
  StreamTransformer(const StreamTransformer&) = delete;
  StreamTransformer& operator=(const StreamTransformer&) = delete;
  // One complete event (with its blank line). Appends the output to `out`;
  // `parsed` is set to the chunk after the transforms when the event took the
  // tree path, else null (non-JSON, or the text path: read the bytes appended
  // to `out`).
  void process_event(std::string_view event, std::string& out, const boost::json::object** parsed);
  // The upstream ended (cleanly or not) without "[DONE]": flush held-back
  // content, without emitting [DONE] itself.
  void finish(std::string& out);
  bool ended() const { return ended_; }

 private:
  struct Buffers;  // parser, serializer and the two arenas (heap: keeps callers' frames small)
  void end_stream(std::string& out);
  bool text_event(std::string_view data, std::string& out);
  std::vector<std::unique_ptr<ResponseTransform>>& transforms_;
  std::vector<TextChunkTransform*> text_;  // the same transforms, if all take the text path
  bool text_path_ = false;
  std::unique_ptr<Buffers> buf_;
  // The previous chunk: in the other arena (tree path), or its JSON in Buffers::last_text (text
  // path).
  const boost::json::object* last_ = nullptr;
  bool last_is_text_ = false;
  bool ended_ = false;
  std::string scratch_;
};

}  // namespace dg::pipeline
