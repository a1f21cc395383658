// The exchange record: the one input of the detection engine, and what the
// gateway appends to the audit log for every exchange. The wire form is fixed
// by spec/exchange-log.md (see docs/formats.md): one JSON object per line.
//
// Parsing keeps unknown fields (in `extra`) so that a record read and written
// again loses nothing. Secrets never appear in a record.
#pragma once

#include <boost/json/object.hpp>
#include <memory>
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

// What parsing keeps. The defaults keep everything, so that a record read and
// written again loses nothing; a reader that only feeds the engine (analyze)
// drops what the engine never reads. Validation is the same either way.
struct ExchangeParseOptions {
  // Keep the generated text in response.choices[]: `text`, `logprobs`, and
  // `content`, `reasoning_content`, `reasoning` of `message`/`delta`. When
  // false these are skipped without being copied (index, finish_reason, role,
  // tool calls and usage stay).
  bool keep_response_text = true;
  // Keep unknown top-level fields in `extra`. When false they are still
  // checked as JSON, then dropped.
  bool keep_extra = true;
};

// Parses one line (one JSON object, surrounding whitespace allowed). Errors
// are kInvalidArgument naming the missing or malformed field ("missing
// required field 'account'", "field 'ts': ...", "field 'status' must be an
// integer"), "not a JSON object", or "not JSON: <parser error>".
Result<ExchangeRecord> parse_exchange_record(std::string_view line, const ExchangeParseOptions& options = {});

// The same parser, reusable: a streaming (SAX) parse that fills the record's
// fields directly, building JSON only for `request`, `response` and `extra`,
// and keeping its buffers (and the record's string capacity) from line to
// line. For bulk readers (analyze). Not thread-safe: one per thread.
class ExchangeRecordParser {
 public:
  explicit ExchangeRecordParser(ExchangeParseOptions options = {});
  ~ExchangeRecordParser();
  ExchangeRecordParser(const ExchangeRecordParser&) = delete;
  ExchangeRecordParser& operator=(const ExchangeRecordParser&) = delete;

  // Parses one line into `out`, overwriting every field. Errors as
  // parse_exchange_record(); on error `out` holds a partial record.
  Status parse(std::string_view line, ExchangeRecord& out);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// One line of JSON (no trailing newline), fields in spec order.
std::string to_json_line(const ExchangeRecord& record);

// RFC 3339 in UTC with millisecond fraction: "2026-02-01T12:00:00.123Z".
std::string format_rfc3339(TimeNs t);
// Accepts any fraction length and a "Z" or "+hh:mm"/"-hh:mm" offset.
Result<TimeNs> parse_rfc3339(std::string_view s);

}  // namespace dg
