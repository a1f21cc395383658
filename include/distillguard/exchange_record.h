// The exchange record: the one input of the detection engine, and what the
// gateway appends to the audit log for every exchange. The wire form is fixed
// by spec/exchange-log.md (see docs/formats.md): one JSON object per line.
//
// Parsing keeps unknown fields (in `extra`) so that a record read and written
// again loses nothing. Secrets never appear in a record.
#pragma once

#include <boost/json/object.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "distillguard/clock.h"
#include "distillguard/status.h"

namespace dg {

struct ExchangeRecord {
  TimeNs ts = 0;                  // required: when the request arrived
  std::string account;            // required
  std::string key_id;             // optional ("" = absent)
  std::string ip;                 // optional
  std::string user_agent;         // optional
  std::string headers_fp;         // optional
  std::optional<TimeNs> account_created;
  std::string endpoint;           // required, e.g. "/v1/chat/completions"
  boost::json::object request;    // required: the request body as sent
  std::optional<boost::json::object> response;  // body or summary (usage, choices)
  std::optional<int> status;
  std::optional<double> latency_ms;
  std::string action;             // optional: allow|throttle|degrade|trace|block
  boost::json::object extra;      // unknown fields, kept as they were
};

// Parses one line. Errors name the missing or malformed field.
Result<ExchangeRecord> parse_exchange_record(std::string_view line);

// One line of JSON (no trailing newline), fields in spec order.
std::string to_json_line(const ExchangeRecord& record);

// RFC 3339 in UTC with millisecond fraction: "2026-02-01T12:00:00.123Z".
std::string format_rfc3339(TimeNs t);
// Accepts any fraction length and a "Z" or "+hh:mm"/"-hh:mm" offset.
Result<TimeNs> parse_rfc3339(std::string_view s);

}  // namespace dg
