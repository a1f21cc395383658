// Server-Sent Events framing, incremental.
//
// Bytes from the upstream are fed as they arrive; the framer hands back the
// complete events seen so far (each ends with a blank line: "\n\n" or
// "\r\n\r\n") and keeps an unfinished tail until more bytes come. Nothing is
// buffered beyond the one unfinished event, so a stream is relayed chunk by
// chunk. Events are only ever relayed whole, so a stream cut mid-event can
// still be ended with a well-formed error event.
//
// Not thread-safe (one per stream). Views returned are valid until the next
// feed() or consume().
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace dg::http {

class SseFramer {
 public:
  // Appends bytes received from the upstream.
  void feed(std::string_view bytes);
  // feed() + complete() + consume_complete() in one, without copying in the
  // usual case: drops the events returned by the previous take(), adds
  // `bytes`, and returns the complete events now available. When nothing
  // was held back, that is a view of `bytes` itself (only an unfinished tail
  // is copied); otherwise a view of the framer's buffer. Valid until the next
  // call. Do not mix with feed()/consume_complete() on one framer.
  std::string_view take(std::string_view bytes);
  // All complete events buffered so far, concatenated (possibly empty).
  std::string_view complete() const { return std::string_view(buf_).substr(0, complete_); }
  // Drops the complete events (call after relaying complete()).
  void consume_complete();
  // Bytes of an unfinished event (non-empty when a stream is cut mid-event).
  std::string_view tail() const { return std::string_view(buf_).substr(complete_); }
  // Largest unfinished event allowed before the stream is declared broken.
  static constexpr size_t kMaxEventBytes = 16 << 20;
  bool overflow() const { return buf_.size() - complete_ > kMaxEventBytes; }

 private:
  std::string buf_;
  size_t complete_ = 0;  // end of the last complete event in buf_
  size_t scan_ = 0;      // where to resume looking for a boundary
};

// Splits a run of complete events: returns the first event (with its blank
// line) and advances *rest past it; empty when *rest holds no complete event.
std::string_view next_event(std::string_view* rest);

// The event's data: the "data:" lines' values joined by "\n" (one optional
// space after the colon removed, as the SSE spec says). Comment and other
// field lines are ignored. Returns a view into `event` when there is a single
// data line, else into `scratch`.
std::string_view event_data(std::string_view event, std::string& scratch);

}  // namespace dg::http
