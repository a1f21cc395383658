// What the exchange record keeps from an OpenAI response, read with a
// streaming (SAX) parse that builds no JSON tree.
//
// The forwarder needs only a few fields of a response body or stream chunk:
// usage.prompt_tokens / usage.completion_tokens, and per choice its index,
// finish_reason and text (chat: message.content / message.reasoning_content
// for a body, delta.* for a stream chunk; completions: text and
// reasoning_content on the choice). Parsing the whole body into a
// boost::json::value costs one allocation per key, string and container;
// this scanner walks the same text with boost::json::basic_parser (the same
// grammar and limits as boost::json::parse: a text one rejects, the other
// rejects) and copies out only those fields.
//
// Semantics match reading the same fields from the parsed object: the
// document must be an object; a duplicated key's last value wins; a value of
// the wrong type counts as absent (a non-number token count as 0, a
// non-integer or out-of-range [0, 128) index as 0, like the DOM reader).
// A top-level "error" member is not interpreted here: `has_error` tells the
// caller to read that (rare) document with the DOM instead.
//
// Thread-safety: not thread-safe; one scanner per thread (buffers are reused
// from scan to scan, so a warm scanner does not allocate).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace dg::forward {

enum class ResponseShape {
  kChatBody,    // choices[].message.{content,reasoning_content}
  kChatChunk,   // choices[].delta.{content,reasoning_content}
  kText,        // choices[].{text,reasoning_content} (completions, body or chunk)
};

struct ScannedChoice {
  size_t index = 0;
  bool has_finish = false;  // finish_reason was a string
  bool has_content = false;
  bool has_reasoning = false;
  std::string finish;
  std::string content;    // message/delta content, or text
  std::string reasoning;  // reasoning_content
};

struct ScanResult {
  bool ok = false;         // a complete JSON object
  bool has_error = false;  // it has a top-level "error" member
  bool has_usage = false;  // "usage" is an object
  int64_t prompt_tokens = 0;
  int64_t completion_tokens = 0;
  // choices[] objects, in order (views of reused storage: valid until the next scan)
  const ScannedChoice* choices = nullptr;
  size_t choice_count = 0;
};

class ResponseScanner {
 public:
  ResponseScanner();
  ~ResponseScanner();
  ResponseScanner(const ResponseScanner&) = delete;
  ResponseScanner& operator=(const ResponseScanner&) = delete;

  // Scans one JSON text. The result is valid until the next call.
  ScanResult scan(std::string_view json, ResponseShape shape);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::forward
