// The text path of StreamTransformer: the common streamed chunk read and
// rewritten without a JSON tree.
//
// Most events of a streamed completion carry one token: one choice whose
// delta holds only a string `content` (or `role`), or a completions choice
// with a string `text`, plus the chunk's id/object/created/model fields.
// Parsing each into a boost::json tree and serializing it back costs ~13k
// instructions per event, many times what a transform does with it. For
// such an event scan_text_chunk() validates the whole JSON text, finds the
// choice's text field and unescapes it; the transforms edit that text
// (TextChunkTransform); the event is written back as the input's bytes with
// only that field's value re-serialized (by boost::json's serializer).
//
// Shape taken (anything else, or any doubt, returns false: the caller uses
// the tree):
//   - the top-level value is an object; no key in it, in the choice or in the
//     delta contains an escape; "choices" and the choice's and delta's keys
//     appear once (another top-level key twice is copied as sent: any parser
//     that keeps the last, as boost::json does, reads the same value);
//   - "choices" is an array of exactly one object with keys among
//       index (an integer), finish_reason (string or null), logprobs (null),
//       and exactly one of delta (an object) or text (a string);
//   - delta's keys are among role (string), content (string or null),
//     refusal (null): no tool calls, function calls or reasoning fields;
//   - other top-level members are any JSON (copied verbatim), with numbers
//     limited to plain integers and decimals without exponent (≤ 32 chars),
//     nesting ≤ 16;
//   - strings are valid UTF-8 and valid escapes (surrogates paired), as
//     boost::json::parse requires, so a text taken here is one the tree path
//     would have parsed too.
//
// Output equivalence: where the input is compact and its strings escaped the
// way boost::json serializes them (as real upstreams send), the text path's
// output is byte-identical to the tree path's (parse, transform, serialize);
// otherwise (spaces between tokens, "\/" or "\u00e9" outside the text field)
// those bytes are kept as sent, and the output parses to the same value.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace dg::pipeline {

// The one choice's text, as transforms see it on the text path.
struct TextChunk {
  int64_t index = 0;      // choices[0].index (0 if absent)
  bool chat = true;       // the text field is choices[0].delta.content, else choices[0].text
  bool finished = false;  // choices[0].finish_reason is a string
  bool has_text = false;  // the text field holds a string; set it (with `text`) to add one
  std::string text;       // that string, unescaped; transforms edit it in place
};

// A ResponseTransform that can also run on the text path implements this
// too. StreamTransformer takes the text path for an event only if every
// attached transform does and none needs the tree for it.
class TextChunkTransform {
 public:
  virtual ~TextChunkTransform() = default;
  // True if this transform must see choice `index`'s next chunk as a tree
  // (e.g. it would add a field the text path cannot express).
  virtual bool needs_tree(int64_t index) const {
    (void)index;
    return false;
  }
  // Does to `c` what on_chunk would do to the chunk `c` describes: on_chunk
  // rewriting the text field is `c.text` changing; on_chunk adding it (to the
  // delta, or replacing a null content) is `c.has_text` becoming true.
  virtual void on_text_chunk(TextChunk& c) = 0;
};

// Where the text field sits in an event's JSON text (byte offsets).
struct TextChunkShape {
  TextChunk chunk;
  size_t value_begin = 0;     // the text field's value (string or null) ...
  size_t value_end = 0;       // ... [begin, end); begin == end: the field is absent
  size_t insert_at = 0;       // absent: the closing brace of the object to add it to
  bool holder_empty = false;  // that object has no members
  size_t begin = 0;           // the JSON value (leading and trailing whitespace dropped) ...
  size_t end = 0;             // ... [begin, end)
};

// Scans `json` (one event's data); false if it is not of the shape above.
// `out.chunk.text` reuses its capacity.
bool scan_text_chunk(std::string_view json, TextChunkShape& out);

// scan_text_chunk for the events of one stream, in order, remembering the
// last event it took. A stream's chunks mostly differ only in their text
// (same id, object, created, model, index...): when an event's bytes before
// and after its text value equal the remembered event's, and the value in
// between is one JSON string (or null, where null is allowed), the event is
// that validated text with another string in it, and only that string is
// scanned. Otherwise it is scanned whole. Same results as scan_text_chunk.
// Not thread-safe (one per stream).
class TextChunkScanner {
 public:
  bool scan(std::string_view json, TextChunkShape& out);

 private:
  bool same_envelope(std::string_view json, TextChunkShape& out) const;
  std::string head_;      // the remembered event's bytes before its text value ...
  std::string tail_;      // ... and after it (empty head_: nothing remembered)
  TextChunkShape shape_;  // its shape (text not kept)
};

}  // namespace dg::pipeline
