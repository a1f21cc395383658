#include "distillguard/exchange_record.h"

#include <algorithm>
#include <boost/json.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <utility>
#include <vector>

namespace dg {
namespace json = boost::json;

namespace {

bool parse_int(std::string_view s, size_t pos, size_t len, int* out) {
  if (pos + len > s.size()) return false;
  const char* b = s.data() + pos;
  auto r = std::from_chars(b, b + len, *out);
  return r.ec == std::errc() && r.ptr == b + len;
}

// Days since 1970-01-01 for a proleptic Gregorian date (Howard Hinnant's algorithm).
int64_t days_from_civil(int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<int64_t>(doe) - 719468;
}

// Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
void civil_from_days(int64_t z, int64_t* y, unsigned* m, unsigned* d) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const unsigned doe = static_cast<unsigned>(z - era * 146097);
  const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const unsigned mp = (5 * doy + 2) / 153;
  *d = doy - (153 * mp + 2) / 5 + 1;
  *m = mp < 10 ? mp + 3 : mp - 9;
  *y = static_cast<int64_t>(yoe) + era * 400 + (*m <= 2);
}

}  // namespace

// Written by hand: gmtime_r + snprintf cost ~20x more, and the audit writer
// formats every record's times.
std::string format_rfc3339(TimeNs t) {
  int64_t secs = t / kNsPerSec;
  int64_t ns = t % kNsPerSec;
  if (ns < 0) {
    ns += kNsPerSec;
    secs -= 1;
  }
  int64_t days = secs / 86400;
  int64_t sod = secs % 86400;
  if (sod < 0) {
    sod += 86400;
    days -= 1;
  }
  int64_t y;
  unsigned mo, d;
  civil_from_days(days, &y, &mo, &d);
  if (y < 0 || y > 9999) y = y < 0 ? 0 : 9999;  // RFC 3339 has four-digit years
  char buf[25] = "0000-00-00T00:00:00.000Z";
  auto put2 = [&](int pos, unsigned v) {
    buf[pos] = static_cast<char>('0' + v / 10);
    buf[pos + 1] = static_cast<char>('0' + v % 10);
  };
  const unsigned yy = static_cast<unsigned>(y);
  put2(0, yy / 100);
  put2(2, yy % 100);
  put2(5, mo);
  put2(8, d);
  put2(11, static_cast<unsigned>(sod / 3600));
  put2(14, static_cast<unsigned>(sod / 60 % 60));
  put2(17, static_cast<unsigned>(sod % 60));
  const unsigned ms = static_cast<unsigned>(ns / kNsPerMs);
  buf[20] = static_cast<char>('0' + ms / 100);
  put2(21, ms % 100);
  return std::string(buf, 24);
}

Result<TimeNs> parse_rfc3339(std::string_view s) {
  // YYYY-MM-DDTHH:MM:SS[.fff...](Z|±hh:mm)
  int y, mo, d, h, mi, se;
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' ||
      (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || s[13] != ':' || s[16] != ':' ||
      !parse_int(s, 0, 4, &y) || !parse_int(s, 5, 2, &mo) || !parse_int(s, 8, 2, &d) ||
      !parse_int(s, 11, 2, &h) || !parse_int(s, 14, 2, &mi) || !parse_int(s, 17, 2, &se) ||
      mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60) {
    return invalid_argument("not an RFC 3339 time: '" + std::string(s) + "'");
  }
  size_t pos = 19;
  int64_t frac_ns = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int64_t scale = kNsPerSec / 10;
    size_t start = pos;
    while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
      frac_ns += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
    }
    if (pos == start) return invalid_argument("empty fraction in time: '" + std::string(s) + "'");
  }
  int64_t offset_s = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos + 6 == s.size() && (s[pos] == '+' || s[pos] == '-') && s[pos + 3] == ':') {
    int oh, om;
    if (!parse_int(s, pos + 1, 2, &oh) || !parse_int(s, pos + 4, 2, &om))
      return invalid_argument("bad offset in time: '" + std::string(s) + "'");
    offset_s = (oh * 3600 + om * 60) * (s[pos] == '+' ? 1 : -1);
    pos += 6;
  } else {
    return invalid_argument("time without zone: '" + std::string(s) + "'");
  }
  if (pos != s.size()) return invalid_argument("trailing text in time: '" + std::string(s) + "'");
  int64_t days = days_from_civil(y, static_cast<unsigned>(mo), static_cast<unsigned>(d));
  int64_t secs = days * 86400 + h * 3600 + mi * 60 + se - offset_s;
  return secs * kNsPerSec + frac_ns;
}

namespace {

enum class Field : uint8_t {
  kNone,
  kTs,
  kAccount,
  kKeyId,
  kIp,
  kUserAgent,
  kHeadersFp,
  kAccountCreated,
  kEndpoint,
  kRequest,
  kResponse,
  kStatus,
  kLatency,
  kAction,
  kExtra,
};

Field field_of(std::string_view k) {
  static constexpr std::pair<std::string_view, Field> kFields[] = {
      {"ts", Field::kTs},
      {"account", Field::kAccount},
      {"key_id", Field::kKeyId},
      {"ip", Field::kIp},
      {"user_agent", Field::kUserAgent},
      {"headers_fp", Field::kHeadersFp},
      {"account_created", Field::kAccountCreated},
      {"endpoint", Field::kEndpoint},
      {"request", Field::kRequest},
      {"response", Field::kResponse},
      {"status", Field::kStatus},
      {"latency_ms", Field::kLatency},
      {"action", Field::kAction},
  };
  for (const auto& [name, f] : kFields)
    if (name.size() == k.size() && name == k) return f;
  return Field::kExtra;
}

const char* field_name(Field f) {
  switch (f) {
    case Field::kTs:
      return "ts";
    case Field::kAccount:
      return "account";
    case Field::kKeyId:
      return "key_id";
    case Field::kIp:
      return "ip";
    case Field::kUserAgent:
      return "user_agent";
    case Field::kHeadersFp:
      return "headers_fp";
    case Field::kAccountCreated:
      return "account_created";
    case Field::kEndpoint:
      return "endpoint";
    case Field::kRequest:
      return "request";
    case Field::kResponse:
      return "response";
    case Field::kStatus:
      return "status";
    case Field::kLatency:
      return "latency_ms";
    case Field::kAction:
      return "action";
    default:
      return "?";
  }
}

// Where a container sits inside a captured response (for dropping generated text).
enum class Tag : uint8_t { kOther, kResponse, kChoices, kChoice, kMessage };

// SAX handler for boost::json::basic_parser. Top-level string and number
// fields go straight into the record; `request`, `response` and unknown
// fields are built as JSON through a value_stack ("capture"); subtrees not
// kept are parsed and dropped ("skip"). A handler returning false sets
// `error`, which parse() reports instead of the parser's error code.
struct Handler {
  static constexpr std::size_t max_object_size = json::object::max_size();
  static constexpr std::size_t max_array_size = json::array::max_size();
  static constexpr std::size_t max_key_size = json::string::max_size();
  static constexpr std::size_t max_string_size = json::string::max_size();

  explicit Handler(ExchangeParseOptions o) : opt(o) {}

  ExchangeParseOptions opt;
  ExchangeRecord* rec = nullptr;
  std::string error;
  // Fields seen with a non-null value (bit per Field).
  uint32_t seen = 0;

  bool in_doc = false;          // inside the top-level object
  Field field = Field::kNone;   // top-level field whose value comes next
  std::string* dest = nullptr;  // where the current top-level string goes
  std::string ts_text, created_text, key, extra_key;

  // Capture state.
  bool capturing = false;
  bool filter = false;  // dropping generated text in this capture (response)
  json::value_stack st;
  std::vector<uint32_t> counts;  // elements pushed into each open container
  std::vector<Tag> tags;         // parallel to counts
  Tag next_tag = Tag::kOther;
  // Skip state: >0 while inside a dropped container; skip_next drops the next value.
  uint32_t skip = 0;
  bool skip_next = false;

  void begin(ExchangeRecord* r) {
    rec = r;
    error.clear();
    seen = 0;
    in_doc = false;
    field = Field::kNone;
    dest = nullptr;
    capturing = false;
    skip = 0;
    skip_next = false;
    counts.clear();
    tags.clear();
    r->ts = 0;
    r->account.clear();
    r->key_id.clear();
    r->ip.clear();
    r->user_agent.clear();
    r->headers_fp.clear();
    r->account_created.reset();
    r->endpoint.clear();
    r->request.clear();
    r->response.reset();
    r->status.reset();
    r->latency_ms.reset();
    r->action.clear();
    r->extra.clear();
  }

  bool fail(json::error_code& ec, std::string msg) {
    error = std::move(msg);
    ec = json::make_error_code(json::error::syntax);  // replaced by `error` in parse()
    return false;
  }
  bool wrong_type(json::error_code& ec) {
    const char* what = "a string";
    if (field == Field::kRequest || field == Field::kResponse) what = "an object";
    if (field == Field::kStatus) what = "an integer";
    if (field == Field::kLatency) what = "a number";
    return fail(ec, std::string("field '") + field_name(field) + "' must be " + what);
  }
  void mark(Field f) { seen |= 1u << static_cast<unsigned>(f); }
  void unmark(Field f) { seen &= ~(1u << static_cast<unsigned>(f)); }
  bool has(Field f) const { return seen & (1u << static_cast<unsigned>(f)); }

  // --- values -------------------------------------------------------------

  enum class Route { kDrop, kCapture, kTop, kBadRoot };

  // Called at the start of every value (scalar or container). Decides who
  // takes it and does the capture bookkeeping for the parent container.
  Route route() {
    if (skip > 0) return Route::kDrop;
    if (skip_next) return Route::kDrop;
    if (capturing) {
      if (!counts.empty()) ++counts.back();
      return Route::kCapture;
    }
    if (!in_doc) return Route::kBadRoot;
    return Route::kTop;
  }
  // A scalar value just finished.
  void scalar_done(Route r) {
    if (r == Route::kDrop) {
      if (skip == 0) skip_next = false;
    } else if (r == Route::kCapture && counts.empty()) {
      end_capture();
    }
  }
  // Starts capturing the value of a top-level field (its first event follows).
  void start_capture(Field f) {
    capturing = true;
    filter = f == Field::kResponse && !opt.keep_response_text;
    st.reset();
    next_tag = f == Field::kResponse ? Tag::kResponse : Tag::kOther;
  }
  void end_capture() {
    capturing = false;
    json::value v = st.release();
    switch (field) {
      case Field::kRequest:
        rec->request = std::move(v.get_object());
        break;
      case Field::kResponse:
        rec->response.emplace(std::move(v.get_object()));
        break;
      default:
        rec->extra.insert_or_assign(extra_key, std::move(v));
        break;
    }
    field = Field::kNone;
  }

  bool container_begin(bool is_object, json::error_code& ec) {
    Route r = route();
    switch (r) {
      case Route::kDrop:
        ++skip;
        skip_next = false;
        return true;
      case Route::kBadRoot:
        if (is_object) {
          in_doc = true;
          return true;
        }
        return fail(ec, "not a JSON object");
      case Route::kTop:
        if (field == Field::kRequest || field == Field::kResponse) {
          if (!is_object) return wrong_type(ec);
          mark(field);
          start_capture(field);
        } else if (field == Field::kExtra) {
          start_capture(field);
        } else {
          return wrong_type(ec);
        }
        [[fallthrough]];
      case Route::kCapture: {
        Tag parent = tags.empty() ? Tag::kOther : tags.back();
        Tag t = next_tag;
        if (parent == Tag::kChoices) t = Tag::kChoice;
        if (is_object ? t == Tag::kChoices : t != Tag::kChoices)
          t = Tag::kOther;  // only `choices` is an array
        next_tag = Tag::kOther;
        counts.push_back(0);
        tags.push_back(t);
        return true;
      }
    }
    return true;
  }
  bool container_end(bool is_object) {
    if (skip > 0) {
      --skip;
      return true;
    }
    if (!capturing) {  // the end of the top-level object
      in_doc = false;
      return true;
    }
    uint32_t n = counts.back();
    counts.pop_back();
    tags.pop_back();
    if (is_object)
      st.push_object(n);
    else
      st.push_array(n);
    if (counts.empty()) end_capture();
    return true;
  }

  // A top-level string field's text is complete.
  bool top_string_done(json::error_code& ec) {
    mark(field);
    if (field == Field::kTs) {
      auto t = parse_rfc3339(ts_text);
      if (!t.ok()) return fail(ec, "field 'ts': " + t.status().message());
      rec->ts = *t;
    } else if (field == Field::kAccountCreated) {
      if (created_text.empty()) {
        rec->account_created.reset();
      } else {
        auto c = parse_rfc3339(created_text);
        if (!c.ok()) return fail(ec, "field 'account_created': " + c.status().message());
        rec->account_created = *c;
      }
    }
    field = Field::kNone;
    dest = nullptr;
    return true;
  }

  // --- basic_parser events --------------------------------------------------

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code& ec) {
    if (!has(Field::kTs)) return fail(ec, "missing required field 'ts'");
    if (!has(Field::kAccount)) return fail(ec, "missing required field 'account'");
    if (rec->account.empty()) return fail(ec, "field 'account' is empty");
    if (!has(Field::kEndpoint)) return fail(ec, "missing required field 'endpoint'");
    if (!has(Field::kRequest)) return fail(ec, "missing required field 'request'");
    return true;
  }
  bool on_object_begin(json::error_code& ec) { return container_begin(true, ec); }
  bool on_object_end(std::size_t, json::error_code&) { return container_end(true); }
  bool on_array_begin(json::error_code& ec) { return container_begin(false, ec); }
  bool on_array_end(std::size_t, json::error_code&) { return container_end(false); }

  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    if (skip == 0) key.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code&) {
    if (skip > 0) return true;
    std::string_view k(s.data(), s.size());
    if (!key.empty()) {
      key.append(k);
      k = key;
    }
    if (capturing) {
      bool drop = false;
      if (filter) {
        switch (tags.back()) {
          case Tag::kResponse:
            if (k == "choices") next_tag = Tag::kChoices;
            break;
          case Tag::kChoice:
            if (k == "text" || k == "logprobs")
              drop = true;
            else if (k == "message" || k == "delta")
              next_tag = Tag::kMessage;
            break;
          case Tag::kMessage:
            drop = k == "content" || k == "reasoning_content" || k == "reasoning";
            break;
          default:
            break;
        }
      }
      if (drop)
        skip_next = true;
      else
        st.push_key(k);
    } else {
      field = field_of(k);
      if (field == Field::kExtra) {
        if (opt.keep_extra)
          extra_key.assign(k);
        else
          skip_next = true;
      }
    }
    key.clear();
    return true;
  }

  std::string* string_dest() {
    switch (field) {
      case Field::kTs:
        return &ts_text;
      case Field::kAccount:
        return &rec->account;
      case Field::kKeyId:
        return &rec->key_id;
      case Field::kIp:
        return &rec->ip;
      case Field::kUserAgent:
        return &rec->user_agent;
      case Field::kHeadersFp:
        return &rec->headers_fp;
      case Field::kAccountCreated:
        return &created_text;
      case Field::kEndpoint:
        return &rec->endpoint;
      case Field::kAction:
        return &rec->action;
      default:
        return nullptr;
    }
  }

  // First part of a string value: route it (parts share one route).
  bool string_start(Route* r, json::error_code& ec) {
    *r = route();
    if (*r == Route::kBadRoot) return fail(ec, "not a JSON object");
    if (*r == Route::kTop) {
      if (field == Field::kExtra) {
        start_capture(field);
        *r = Route::kCapture;  // a top-level scalar capture: counts stay empty
      } else {
        dest = string_dest();
        if (!dest) return wrong_type(ec);
        dest->clear();
      }
    }
    return true;
  }
  bool in_string = false;
  Route string_route = Route::kTop;

  bool on_string_part(json::string_view s, std::size_t, json::error_code& ec) {
    if (!in_string) {
      if (!string_start(&string_route, ec)) return false;
      in_string = true;
    }
    if (string_route == Route::kCapture)
      st.push_chars(s);
    else if (string_route == Route::kTop)
      dest->append(s.data(), s.size());
    return true;
  }
  bool on_string(json::string_view s, std::size_t, json::error_code& ec) {
    if (!in_string && !string_start(&string_route, ec)) return false;
    in_string = false;
    switch (string_route) {
      case Route::kCapture:
        st.push_string(s);
        scalar_done(Route::kCapture);
        return true;
      case Route::kTop:
        dest->append(s.data(), s.size());
        return top_string_done(ec);
      default:
        scalar_done(Route::kDrop);
        return true;
    }
  }

  // Numbers, booleans and null share this path; `push` adds the value to a capture.
  template <typename Push, typename Top>
  bool scalar(json::error_code& ec, Push push, Top top) {
    Route r = route();
    if (r == Route::kBadRoot) return fail(ec, "not a JSON object");
    if (r == Route::kTop) {
      if (field != Field::kExtra) {
        if (!top(ec)) return false;
        field = Field::kNone;
        return true;
      }
      start_capture(field);
      r = Route::kCapture;
    }
    if (r == Route::kCapture) push();
    scalar_done(r);
    return true;
  }
  bool set_status(int64_t v, json::error_code& ec) {
    if (field == Field::kLatency) {
      rec->latency_ms = static_cast<double>(v);
      return true;
    }
    if (field != Field::kStatus) return wrong_type(ec);
    if (v < INT32_MIN || v > INT32_MAX) return fail(ec, "field 'status' is out of range");
    rec->status = static_cast<int>(v);
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t i, json::string_view, json::error_code& ec) {
    return scalar(
        ec, [&] { st.push_int64(i); }, [&](json::error_code& e) { return set_status(i, e); });
  }
  bool on_uint64(uint64_t u, json::string_view, json::error_code& ec) {
    return scalar(
        ec, [&] { st.push_uint64(u); },
        [&](json::error_code& e) {
          if (field == Field::kLatency) {
            rec->latency_ms = static_cast<double>(u);
            return true;
          }
          if (field != Field::kStatus) return wrong_type(e);
          return fail(e, "field 'status' is out of range");
        });
  }
  bool on_double(double d, json::string_view, json::error_code& ec) {
    return scalar(
        ec, [&] { st.push_double(d); },
        [&](json::error_code& e) {
          if (field != Field::kLatency) return wrong_type(e);
          rec->latency_ms = d;
          return true;
        });
  }
  bool on_bool(bool b, json::error_code& ec) {
    return scalar(
        ec, [&] { st.push_bool(b); }, [&](json::error_code& e) { return wrong_type(e); });
  }
  bool on_null(json::error_code& ec) {
    return scalar(
        ec, [&] { st.push_null(); },
        [&](json::error_code& e) {
          // null is "absent" for every field but `request`.
          if (field == Field::kRequest) return wrong_type(e);
          unmark(field);
          switch (field) {
            case Field::kResponse:
              rec->response.reset();
              break;
            case Field::kStatus:
              rec->status.reset();
              break;
            case Field::kLatency:
              rec->latency_ms.reset();
              break;
            case Field::kAccountCreated:
              rec->account_created.reset();
              break;
            case Field::kTs:
              rec->ts = 0;
              break;
            default:
              if (std::string* d = string_dest()) d->clear();
          }
          return true;
        });
  }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }
};

}  // namespace

struct ExchangeRecordParser::Impl {
  explicit Impl(ExchangeParseOptions o) : parser(json::parse_options{}, o) {}
  json::basic_parser<Handler> parser;
};

ExchangeRecordParser::ExchangeRecordParser(ExchangeParseOptions options)
    : impl_(std::make_unique<Impl>(options)) {}
ExchangeRecordParser::~ExchangeRecordParser() = default;

Status ExchangeRecordParser::parse(std::string_view line, ExchangeRecord& out) {
  auto& p = impl_->parser;
  Handler& h = p.handler();
  p.reset();
  h.begin(&out);
  h.in_string = false;
  json::error_code ec;
  size_t n = 0;
  try {
    n = p.write_some(false, line.data(), line.size(), ec);
  } catch (const std::exception& e) {  // allocation failure or a JSON size limit
    return invalid_argument(std::string("not JSON: ") + e.what());
  }
  if (!h.error.empty()) return invalid_argument(h.error);
  if (ec) return invalid_argument("not JSON: " + ec.message());
  if (n != line.size())
    return invalid_argument("not JSON: " +
                            json::make_error_code(json::error::extra_data).message());
  return Status();
}

Result<ExchangeRecord> parse_exchange_record(std::string_view line,
                                             const ExchangeParseOptions& options) {
  ExchangeRecordParser parser(options);
  ExchangeRecord r;
  DG_RETURN_IF_ERROR(parser.parse(line, r));
  return r;
}

namespace {

// JSON output written straight into the line's buffer, byte for byte what
// Boost.JSON's serializer writes (exchange_record_test checks it), at a
// fraction of its cost: the serializer's resumable state machine, and
// std::string's checks on every small append, were most of the audit
// writer's serialization time.
class LineWriter {
 public:
  // Writes into `buf` from its start; `buf` only grows (its bytes past the
  // line are scratch), so a reused buffer is never zero-filled again.
  explicit LineWriter(std::string& buf) : out_(buf) {}
  LineWriter(const LineWriter&) = delete;
  LineWriter& operator=(const LineWriter&) = delete;

  std::string_view written() const { return {out_.data(), len_}; }
  void raw(char c) {
    *room(1) = c;
    len_ += 1;
  }
  void raw(std::string_view s) {
    std::memcpy(room(s.size()), s.data(), s.size());
    len_ += s.size();
  }
  void string(std::string_view s);
  template <typename Int>
  void integer(Int v) {
    char* at = room(24);
    len_ += static_cast<size_t>(std::to_chars(at, at + 24, v).ptr - at);
  }
  // Fixed-point, `decimals` digits, trailing zeros (and a bare point) trimmed.
  void decimal(double v, int decimals);
  void value(const json::value& v);
  void object(const json::object& o);
  // `,"key":` for one of our own field names (plain ASCII, no escaping
  // needed); no comma before the first field.
  void field(std::string_view key) {
    char* at = room(key.size() + 4);
    size_t n = 0;
    if (len_ > 1) at[n++] = ',';
    at[n++] = '"';
    std::memcpy(at + n, key.data(), key.size());
    n += key.size();
    at[n++] = '"';
    at[n++] = ':';
    len_ += n;
  }

 private:
  // Pointer to at least `n` writable bytes at the end of what was written.
  char* room(size_t n) {
    if (out_.size() - len_ < n) out_.resize(std::max<size_t>({out_.size() * 2, len_ + n, 4096}));
    return out_.data() + len_;
  }

  std::string& out_;
  size_t len_ = 0;
};

// Length of the prefix of `p` that a JSON string holds unescaped: no '"', '\\'
// or control character. Sixteen bytes per step (GCC vectors: SSE2 on x86,
// NEON on ARM); the step that holds one is finished byte by byte.
size_t count_plain(const char* p, size_t n) {
  using V16 = uint8_t __attribute__((vector_size(16)));
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    V16 x;
    std::memcpy(&x, p + i, 16);
    const V16 hit = (x < 0x20) | (x == '"') | (x == '\\');
    uint64_t lanes[2];
    std::memcpy(lanes, &hit, 16);
    if (lanes[0] | lanes[1]) break;
  }
  for (; i < n; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (c < 0x20 || c == '"' || c == '\\') break;
  }
  return i;
}

void LineWriter::string(std::string_view s) {
  static constexpr char kHex[] = "0123456789abcdef";
  // Worst case: every byte escaped as \u00XX.
  char* at = room(6 * s.size() + 2);
  char* const start = at;
  *at++ = '"';
  const char* p = s.data();
  size_t n = s.size();
  while (true) {
    const size_t k = count_plain(p, n);
    std::memcpy(at, p, k);
    at += k;
    p += k;
    n -= k;
    if (n == 0) break;
    const auto c = static_cast<unsigned char>(*p++);
    --n;
    *at++ = '\\';
    switch (c) {
      case '"':
        *at++ = '"';
        break;
      case '\\':
        *at++ = '\\';
        break;
      case '\b':
        *at++ = 'b';
        break;
      case '\f':
        *at++ = 'f';
        break;
      case '\n':
        *at++ = 'n';
        break;
      case '\r':
        *at++ = 'r';
        break;
      case '\t':
        *at++ = 't';
        break;
      default:
        std::memcpy(at, "u00", 3);
        at[3] = kHex[c >> 4];
        at[4] = kHex[c & 15];
        at += 5;
    }
  }
  *at++ = '"';
  len_ += static_cast<size_t>(at - start);
}

void LineWriter::decimal(double v, int decimals) {
  char* at = room(400);  // %f of the largest double
  const auto r = std::to_chars(at, at + 400, v, std::chars_format::fixed, decimals);
  char* end = r.ptr;
  if (std::memchr(at, '.', static_cast<size_t>(end - at))) {
    while (end[-1] == '0') --end;
    if (end[-1] == '.') --end;
  }
  len_ += static_cast<size_t>(end - at);
}

void LineWriter::value(const json::value& v) {
  switch (v.kind()) {
    case json::kind::null:
      raw("null");
      break;
    case json::kind::bool_:
      raw(v.get_bool() ? "true" : "false");
      break;
    case json::kind::int64:
      integer(v.get_int64());
      break;
    case json::kind::uint64:
      integer(v.get_uint64());
      break;
    case json::kind::double_: {
      // Boost's shortest round-trip form (rare in records: temperature, top_p).
      char buf[64];
      json::serializer sr;
      sr.reset(&v);
      while (!sr.done()) raw(sr.read(buf, sizeof buf));
      break;
    }
    case json::kind::string:
      string(v.get_string());
      break;
    case json::kind::array: {
      raw('[');
      bool first = true;
      for (const auto& e : v.get_array()) {
        if (!first) raw(',');
        first = false;
        value(e);
      }
      raw(']');
      break;
    }
    case json::kind::object:
      object(v.get_object());
      break;
  }
}

void LineWriter::object(const json::object& o) {
  raw('{');
  bool first = true;
  for (const auto& kv : o) {
    if (!first) raw(',');
    first = false;
    string(kv.key());
    raw(':');
    value(kv.value());
  }
  raw('}');
}

}  // namespace

std::string to_json_line(const ExchangeRecord& r) {
  thread_local std::string buf;  // grows to the longest line, then is reused
  LineWriter w(buf);
  w.raw('{');
  w.field("ts");
  w.string(format_rfc3339(r.ts));
  w.field("account");
  w.string(r.account);
  auto optional = [&](std::string_view key, const std::string& v) {
    if (v.empty()) return;
    w.field(key);
    w.string(v);
  };
  optional("key_id", r.key_id);
  optional("ip", r.ip);
  optional("user_agent", r.user_agent);
  optional("headers_fp", r.headers_fp);
  if (r.account_created) {
    w.field("account_created");
    w.string(format_rfc3339(*r.account_created));
  }
  w.field("endpoint");
  w.string(r.endpoint);
  w.field("request");
  w.object(r.request);
  if (r.response) {
    w.field("response");
    w.object(*r.response);
  }
  if (r.status) {
    w.field("status");
    w.integer(*r.status);
  }
  if (r.latency_ms) {
    // Boost.JSON prints doubles in exponent form (8.12E2); write plain
    // decimals, to the microsecond, trailing zeros trimmed.
    w.field("latency_ms");
    w.decimal(*r.latency_ms, 3);
  }
  optional("action", r.action);
  for (const auto& kv : r.extra) {
    w.raw(',');
    w.string(kv.key());
    w.raw(':');
    w.value(kv.value());
  }
  w.raw('}');
  return std::string(w.written());
}

}  // namespace dg
