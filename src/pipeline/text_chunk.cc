#include "pipeline/text_chunk.h"

#include <cstring>

namespace dg::pipeline {
namespace {

constexpr int kMaxDepth = 16;
constexpr size_t kMaxNumber = 32;

bool is_ws(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

int hex_digit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

void append_utf8(uint32_t cp, std::string& out) {
  if (cp < 0x80) {
    out.push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out.push_back(static_cast<char>(0xc0 | (cp >> 6)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else if (cp < 0x10000) {
    out.push_back(static_cast<char>(0xe0 | (cp >> 12)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  } else {
    out.push_back(static_cast<char>(0xf0 | (cp >> 18)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3f)));
    out.push_back(static_cast<char>(0x80 | (cp & 0x3f)));
  }
}

// A recursive-descent validator over one JSON text, strict RFC 8259 with the
// limits in text_chunk.h (a subset of what boost::json::parse accepts).
class Scanner {
 public:
  explicit Scanner(std::string_view s) : b_(s.data()), p_(s.data()), e_(s.data() + s.size()) {}

  size_t pos() const { return static_cast<size_t>(p_ - b_); }
  void skip(size_t n) { p_ += n; }
  bool at_end() const { return p_ == e_; }
  bool peek(char c) const { return p_ != e_ && *p_ == c; }
  bool eat(char c) {
    if (p_ == e_ || *p_ != c) return false;
    ++p_;
    return true;
  }
  void ws() {
    while (p_ != e_ && is_ws(*p_)) ++p_;
  }

  // A string at p_ (opening quote). Appends its unescaped value to `out` if
  // not null. `escaped` is set if it held an escape.
  bool string(std::string* out, bool* escaped) {
    if (!eat('"')) return false;
    for (;;) {
      const char* run = p_;
      skip_plain();
      if (out) out->append(run, static_cast<size_t>(p_ - run));
      if (p_ == e_) return false;
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"') {
        ++p_;
        return true;
      }
      if (c < 0x20) return false;
      if (c == '\\') {
        if (escaped) *escaped = true;
        if (!escape(out)) return false;
        continue;
      }
      const char* start = p_;
      if (!utf8_sequence()) return false;
      if (out) out->append(start, static_cast<size_t>(p_ - start));
    }
  }

  // Any JSON value (validated, not kept).
  bool value(int depth) {
    if (depth > kMaxDepth || p_ == e_) return false;
    switch (*p_) {
      case '"':
        return string(nullptr, nullptr);
      case '{': {
        ++p_;
        ws();
        if (eat('}')) return true;
        for (;;) {
          if (!string(nullptr, nullptr)) return false;
          ws();
          if (!eat(':')) return false;
          ws();
          if (!value(depth + 1)) return false;
          ws();
          if (eat('}')) return true;
          if (!eat(',')) return false;
          ws();
        }
      }
      case '[': {
        ++p_;
        ws();
        if (eat(']')) return true;
        for (;;) {
          if (!value(depth + 1)) return false;
          ws();
          if (eat(']')) return true;
          if (!eat(',')) return false;
          ws();
        }
      }
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number(nullptr);
    }
  }

  // -?(0|[1-9][0-9]*)(\.[0-9]+)? of at most kMaxNumber characters. `integer`
  // (if not null) receives the value when there is no fraction and it fits
  // 18 digits; a fraction then fails.
  bool number(int64_t* integer) {
    const char* start = p_;
    const bool neg = eat('-');
    if (p_ == e_ || *p_ < '0' || *p_ > '9') return false;
    int64_t v = 0;
    int digits = 0;
    if (*p_ == '0') {
      ++p_;
      digits = 1;
    } else {
      while (p_ != e_ && *p_ >= '0' && *p_ <= '9') {
        if (digits < 18) v = v * 10 + (*p_ - '0');
        ++digits;
        ++p_;
      }
    }
    bool fraction = false;
    if (eat('.')) {
      fraction = true;
      if (p_ == e_ || *p_ < '0' || *p_ > '9') return false;
      while (p_ != e_ && *p_ >= '0' && *p_ <= '9') ++p_;
    }
    if (p_ != e_ && (*p_ == 'e' || *p_ == 'E')) return false;  // exponents: the tree path
    if (static_cast<size_t>(p_ - start) > kMaxNumber) return false;
    if (integer) {
      if (fraction || digits > 18) return false;
      *integer = neg ? -v : v;
    }
    return true;
  }

  bool literal(const char* lit) {
    const size_t n = std::strlen(lit);
    if (static_cast<size_t>(e_ - p_) < n || std::memcmp(p_, lit, n) != 0) return false;
    p_ += n;
    return true;
  }

 private:
  // Skips bytes that stand for themselves in a string: printable ASCII but
  // '"' and '\\'. Eight at a time while none of them is special (SWAR: a
  // byte below 0x20, equal to '"' or '\\', or with its high bit set, sets its
  // 0x80 bit in `special`; a borrow can only flag bytes above a special one).
  void skip_plain() {
    constexpr uint64_t kOnes = 0x0101010101010101ULL;
    constexpr uint64_t kHigh = 0x8080808080808080ULL;
    auto zero_byte = [](uint64_t v) { return (v - kOnes) & ~v & kHigh; };
    while (e_ - p_ >= 8) {
      uint64_t x;
      std::memcpy(&x, p_, 8);
      const uint64_t special = zero_byte(x ^ (kOnes * '"')) | zero_byte(x ^ (kOnes * '\\')) |
                               ((x - kOnes * 0x20) & ~x) | x;
      if ((special & kHigh) != 0) break;
      p_ += 8;
    }
    while (p_ != e_) {
      const auto c = static_cast<unsigned char>(*p_);
      if (c == '"' || c == '\\' || c < 0x20 || c >= 0x80) break;
      ++p_;
    }
  }

  bool hex4(uint32_t* v) {
    if (e_ - p_ < 4) return false;
    uint32_t r = 0;
    for (int i = 0; i < 4; ++i) {
      const int d = hex_digit(p_[i]);
      if (d < 0) return false;
      r = r << 4 | static_cast<uint32_t>(d);
    }
    p_ += 4;
    *v = r;
    return true;
  }

  // p_ at a backslash.
  bool escape(std::string* out) {
    ++p_;
    if (p_ == e_) return false;
    char c = *p_++;
    switch (c) {
      case '"':
      case '\\':
      case '/':
        break;
      case 'b':
        c = '\b';
        break;
      case 'f':
        c = '\f';
        break;
      case 'n':
        c = '\n';
        break;
      case 'r':
        c = '\r';
        break;
      case 't':
        c = '\t';
        break;
      case 'u': {
        uint32_t cp = 0;
        if (!hex4(&cp)) return false;
        if (cp >= 0xdc00 && cp <= 0xdfff) return false;  // a lone low surrogate
        if (cp >= 0xd800 && cp <= 0xdbff) {
          uint32_t lo = 0;
          if (!eat('\\') || !eat('u') || !hex4(&lo) || lo < 0xdc00 || lo > 0xdfff) return false;
          cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        }
        if (out) append_utf8(cp, *out);
        return true;
      }
      default:
        return false;
    }
    if (out) out->push_back(c);
    return true;
  }

  // One well-formed UTF-8 sequence of 2-4 bytes at p_ (Unicode Table 3-7).
  bool utf8_sequence() {
    auto byte = [&](size_t i) { return static_cast<unsigned char>(p_[i]); };
    auto cont = [&](size_t i, unsigned char lo, unsigned char hi) {
      return byte(i) >= lo && byte(i) <= hi;
    };
    const unsigned char c = byte(0);
    const auto left = static_cast<size_t>(e_ - p_);
    size_t n = 0;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 2;
      if (left < n || !cont(1, 0x80, 0xbf)) return false;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 3;
      if (left < n) return false;
      const unsigned char lo = c == 0xe0 ? 0xa0 : 0x80;
      const unsigned char hi = c == 0xed ? 0x9f : 0xbf;
      if (!cont(1, lo, hi) || !cont(2, 0x80, 0xbf)) return false;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 4;
      if (left < n) return false;
      const unsigned char lo = c == 0xf0 ? 0x90 : 0x80;
      const unsigned char hi = c == 0xf4 ? 0x8f : 0xbf;
      if (!cont(1, lo, hi) || !cont(2, 0x80, 0xbf) || !cont(3, 0x80, 0xbf)) return false;
    } else {
      return false;
    }
    p_ += n;
    return true;
  }

  const char* b_;
  const char* p_;
  const char* e_;
};

// True if `k` is the literal `lit`.
template <size_t N>
bool is(std::string_view k, const char (&lit)[N]) {
  return k.size() == N - 1 && std::memcmp(k.data(), lit, N - 1) == 0;
}

// Walks an object's members: `member(key)` consumes each value (and refuses
// keys it has seen). Keys with escapes are refused. `count` receives the
// number of members.
template <typename F>
bool members(Scanner& s, std::string_view json, F member, size_t* count = nullptr) {
  if (count) *count = 0;
  if (!s.eat('{')) return false;
  s.ws();
  if (s.eat('}')) return true;
  for (;;) {
    const size_t start = s.pos();
    bool escaped = false;
    if (!s.string(nullptr, &escaped) || escaped) return false;
    const std::string_view k = json.substr(start + 1, s.pos() - start - 2);
    s.ws();
    if (!s.eat(':')) return false;
    s.ws();
    if (count) ++*count;
    if (!member(k)) return false;
    s.ws();
    if (s.eat('}')) return true;
    if (!s.eat(',')) return false;
    s.ws();
  }
}

// Sets `bit` in `seen`; false if it was set (a duplicated key).
bool first(unsigned& seen, unsigned bit) {
  if (seen & bit) return false;
  seen |= bit;
  return true;
}

}  // namespace

bool scan_text_chunk(std::string_view json, TextChunkShape& out) {
  Scanner s(json);
  TextChunk& c = out.chunk;
  c.index = 0;
  c.finished = false;
  c.has_text = false;
  c.text.clear();
  out.value_begin = out.value_end = 0;

  // The text field's value (string or null) at the scanner.
  auto text_value = [&](bool null_ok) {
    out.value_begin = s.pos();
    if (s.peek('"')) {
      c.has_text = true;
      if (!s.string(&c.text, nullptr)) return false;
    } else if (!null_ok || !s.literal("null")) {
      return false;
    }
    out.value_end = s.pos();
    return true;
  };
  unsigned delta_seen = 0, choice_seen = 0;
  auto delta_member = [&](std::string_view k) {
    if (is(k, "content")) return first(delta_seen, 1) && text_value(true);
    if (is(k, "role")) return first(delta_seen, 2) && s.peek('"') && s.string(nullptr, nullptr);
    if (is(k, "refusal")) return first(delta_seen, 4) && s.literal("null");
    return false;
  };
  auto choice_member = [&](std::string_view k) {
    if (is(k, "index")) return first(choice_seen, 1) && !s.peek('-') && s.number(&c.index);
    if (is(k, "finish_reason")) {
      if (!first(choice_seen, 2)) return false;
      if (!s.peek('"')) return s.literal("null");
      c.finished = true;
      return s.string(nullptr, nullptr);
    }
    if (is(k, "logprobs")) return first(choice_seen, 4) && s.literal("null");
    if (is(k, "text")) return first(choice_seen, 8) && s.peek('"') && text_value(false);
    if (is(k, "delta")) {
      size_t n = 0;
      if (!first(choice_seen, 16) || !members(s, json, delta_member, &n)) return false;
      out.insert_at = s.pos() - 1;  // its closing brace
      out.holder_empty = n == 0;
      return true;
    }
    return false;
  };
  bool choices = false;
  auto top_member = [&](std::string_view k) {
    if (!is(k, "choices")) return s.value(1);
    if (choices) return false;
    choices = true;
    if (!s.eat('[')) return false;
    s.ws();
    if (!members(s, json, choice_member)) return false;
    s.ws();
    return s.eat(']');
  };

  s.ws();
  out.begin = s.pos();
  if (!members(s, json, top_member)) return false;
  out.end = s.pos();
  s.ws();
  const bool delta = (choice_seen & 16) != 0, text = (choice_seen & 8) != 0;
  if (!s.at_end() || !choices || delta == text) return false;
  c.chat = delta;
  return true;
}

bool TextChunkScanner::same_envelope(std::string_view json, TextChunkShape& out) const {
  const size_t head = head_.size(), tail = tail_.size();
  if (head == 0 || json.size() <= head + tail || !json.starts_with(head_) || !json.ends_with(tail_))
    return false;
  Scanner s(json.substr(0, json.size() - tail));
  s.skip(head);
  TextChunk& c = out.chunk;
  c.text.clear();
  c.has_text = s.peek('"');
  if (c.has_text ? !s.string(&c.text, nullptr) : !(shape_.chunk.chat && s.literal("null")))
    return false;
  if (!s.at_end()) return false;
  c.index = shape_.chunk.index;
  c.chat = shape_.chunk.chat;
  c.finished = shape_.chunk.finished;
  out.value_begin = head;
  out.value_end = json.size() - tail;
  out.insert_at = shape_.insert_at;  // unused: the field is there
  out.holder_empty = shape_.holder_empty;
  out.begin = shape_.begin;
  out.end = json.size() -
            (head_.size() + tail_.size() + (shape_.value_end - shape_.value_begin) - shape_.end);
  return true;
}

bool TextChunkScanner::scan(std::string_view json, TextChunkShape& out) {
  if (same_envelope(json, out)) return true;
  head_.clear();
  if (!scan_text_chunk(json, out)) return false;
  if (out.value_begin != out.value_end) {
    head_.assign(json.substr(0, out.value_begin));
    tail_.assign(json.substr(out.value_end));
    shape_ = out;
  }
  return true;
}

}  // namespace dg::pipeline
