// The watermark as a ResponseTransform: edits choices[].message.content
// (chat), choices[].text (completions) and, streamed, choices[].delta.content /
// choices[].text chunk by chunk, holding back only the unfinished word at the
// end of each chunk (and, after a word that may start a two-word form or is a
// contraction, the at most three words its rules look at; see watermark.h). A choice's held-back
// text is flushed into the chunk that carries its finish_reason, or, failing that, into extra
// chunks at stream end. Tool calls, function arguments and reasoning fields are never touched.
//
// Thread-safety: one per response (per-request object).
#pragma once

#include <boost/json/object.hpp>
#include <memory>
#include <vector>

#include "defend/watermark.h"
#include "distillguard/stage.h"
#include "pipeline/text_chunk.h"

namespace dg::defend {

struct WatermarkTally {
  int eligible = 0;
  int changed = 0;
};

// Also a TextChunkTransform: the common streamed chunk needs no JSON tree.
class WatermarkTransform : public ResponseTransform, public pipeline::TextChunkTransform {
 public:
  // `table` must outlive the transform. `tally` (optional) receives the counts
  // when the transform is destroyed or the response ends.
  WatermarkTransform(const SynonymTable& table, const WatermarkKey& key, double strength,
                     std::shared_ptr<WatermarkTally> tally = nullptr)
      : table_(table), key_(key), strength_(strength), tally_(std::move(tally)) {}
  ~WatermarkTransform() override;

  void on_body(boost::json::object& body) override;
  void on_chunk(boost::json::object& chunk) override;
  void on_stream_end(const boost::json::object* last,
                     std::vector<boost::json::object>& extra) override;
  void on_text_chunk(pipeline::TextChunk& c) override;

 private:
  // The marker of choice `index`; the first choice's without a search (streams have one choice).
  Watermarker& marker(int64_t index) {
    if (!markers_.empty() && markers_.front().first == index) return *markers_.front().second;
    return other_marker(index);
  }
  Watermarker& other_marker(int64_t index);
  // One streamed choice's step, shared by on_chunk and on_text_chunk: feeds
  // its text (null: none) and, if finished, flushes; the output is in out_.
  void step(int64_t index, const std::string_view* text, bool finished);
  void account(const Watermarker& w);

  const SynonymTable& table_;
  WatermarkKey key_;
  double strength_;
  std::shared_ptr<WatermarkTally> tally_;
  std::vector<std::pair<int64_t, std::unique_ptr<Watermarker>>> markers_;  // per choice index
  std::string out_;
};

}  // namespace dg::defend
