#include "distillguard/exchange_record.h"

#include <boost/json.hpp>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <ctime>

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
  if (s.size() < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      s[13] != ':' || s[16] != ':' || !parse_int(s, 0, 4, &y) || !parse_int(s, 5, 2, &mo) ||
      !parse_int(s, 8, 2, &d) || !parse_int(s, 11, 2, &h) || !parse_int(s, 14, 2, &mi) ||
      !parse_int(s, 17, 2, &se) || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
      se > 60) {
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

Result<ExchangeRecord> parse_exchange_record(std::string_view line) {
  json::value v;
  {
    boost::system::error_code ec;
    v = json::parse(line, ec);
    if (ec) return invalid_argument("not JSON: " + ec.message());
  }
  if (!v.is_object()) return invalid_argument("not a JSON object");
  json::object& o = v.as_object();
  ExchangeRecord r;

  auto take_string = [&](std::string_view key, std::string* out, bool required) -> Status {
    auto it = o.find(key);
    if (it == o.end() || it->value().is_null()) {
      if (required) return invalid_argument("missing required field '" + std::string(key) + "'");
      return Status();
    }
    if (!it->value().is_string())
      return invalid_argument("field '" + std::string(key) + "' must be a string");
    *out = std::string(it->value().as_string());
    return Status();
  };

  std::string ts;
  DG_RETURN_IF_ERROR(take_string("ts", &ts, true));
  auto t = parse_rfc3339(ts);
  if (!t.ok()) return invalid_argument("field 'ts': " + t.status().message());
  r.ts = *t;
  DG_RETURN_IF_ERROR(take_string("account", &r.account, true));
  if (r.account.empty()) return invalid_argument("field 'account' is empty");
  DG_RETURN_IF_ERROR(take_string("endpoint", &r.endpoint, true));
  DG_RETURN_IF_ERROR(take_string("key_id", &r.key_id, false));
  DG_RETURN_IF_ERROR(take_string("ip", &r.ip, false));
  DG_RETURN_IF_ERROR(take_string("user_agent", &r.user_agent, false));
  DG_RETURN_IF_ERROR(take_string("headers_fp", &r.headers_fp, false));
  DG_RETURN_IF_ERROR(take_string("action", &r.action, false));
  std::string created;
  DG_RETURN_IF_ERROR(take_string("account_created", &created, false));
  if (!created.empty()) {
    auto c = parse_rfc3339(created);
    if (!c.ok()) return invalid_argument("field 'account_created': " + c.status().message());
    r.account_created = *c;
  }

  auto req = o.find("request");
  if (req == o.end()) return invalid_argument("missing required field 'request'");
  if (!req->value().is_object()) return invalid_argument("field 'request' must be an object");
  r.request = std::move(req->value().as_object());

  if (auto it = o.find("response"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_object()) return invalid_argument("field 'response' must be an object");
    r.response = std::move(it->value().as_object());
  }
  if (auto it = o.find("status"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_int64() && !it->value().is_uint64())
      return invalid_argument("field 'status' must be an integer");
    r.status = static_cast<int>(it->value().to_number<int64_t>());
  }
  if (auto it = o.find("latency_ms"); it != o.end() && !it->value().is_null()) {
    if (!it->value().is_number()) return invalid_argument("field 'latency_ms' must be a number");
    r.latency_ms = it->value().to_number<double>();
  }
  static constexpr std::string_view kKnown[] = {
      "ts",      "account",  "key_id", "ip",     "user_agent", "headers_fp", "account_created",
      "endpoint", "request", "response", "status", "latency_ms", "action"};
  for (auto& kv : o) {
    bool known = false;
    for (auto k : kKnown) known = known || kv.key() == k;
    if (!known) r.extra.emplace(kv.key(), std::move(kv.value()));
  }
  return r;
}

namespace {

// Appends a JSON value to `out` through one reused serializer: no temporary
// string per field (this runs for every audit record).
template <typename T>  // json::value, json::object
void append_json(std::string& out, const T& v) {
  thread_local json::serializer sr;
  sr.reset(&v);
  char buf[4096];
  while (!sr.done()) out += sr.read(buf, sizeof buf);
}

void append_json_string(std::string& out, std::string_view s) {
  thread_local json::serializer sr;
  sr.reset(s);
  char buf[1024];
  while (!sr.done()) out += sr.read(buf, sizeof buf);
}

// Appends `,"key":` (no comma before the first field). Keys are our own
// field names or keys of a parsed object; both are serialized (escaped).
void put_key(std::string& out, std::string_view key) {
  if (out.size() > 1) out.push_back(',');
  append_json_string(out, key);
  out.push_back(':');
}

void put(std::string& out, std::string_view key, const json::value& v) {
  put_key(out, key);
  append_json(out, v);
}

void put(std::string& out, std::string_view key, std::string_view v) {
  put_key(out, key);
  append_json_string(out, v);
}

}  // namespace

std::string to_json_line(const ExchangeRecord& r) {
  std::string out = "{";
  out.reserve(1024);
  put(out, "ts", format_rfc3339(r.ts));
  put(out, "account", r.account);
  if (!r.key_id.empty()) put(out, "key_id", r.key_id);
  if (!r.ip.empty()) put(out, "ip", r.ip);
  if (!r.user_agent.empty()) put(out, "user_agent", r.user_agent);
  if (!r.headers_fp.empty()) put(out, "headers_fp", r.headers_fp);
  if (r.account_created) put(out, "account_created", format_rfc3339(*r.account_created));
  put(out, "endpoint", r.endpoint);
  put_key(out, "request");
  append_json(out, r.request);
  if (r.response) {
    put_key(out, "response");
    append_json(out, *r.response);
  }
  if (r.status) {
    put_key(out, "status");
    out += std::to_string(*r.status);
  }
  if (r.latency_ms) {
    // Boost.JSON prints doubles in exponent form (8.12E2); write plain decimals,
    // to the microsecond, trailing zeros trimmed.
    char buf[64];
    int n = std::snprintf(buf, sizeof buf, "%.3f", *r.latency_ms);
    while (n > 0 && buf[n - 1] == '0') --n;
    if (n > 0 && buf[n - 1] == '.') --n;
    out += ",\"latency_ms\":";
    out.append(buf, static_cast<size_t>(n));
  }
  if (!r.action.empty()) put(out, "action", r.action);
  for (const auto& kv : r.extra) put(out, kv.key(), kv.value());
  out.push_back('}');
  return out;
}

}  // namespace dg
