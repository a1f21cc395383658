// `distillguard analyze`: replays exchange logs through the engine and writes
// the report of spec/analyze-report.md (text, JSON or self-contained HTML).
//
// Inputs are .jsonl, .jsonl.gz (detected by content, not name) or "-" (stdin);
// several inputs are merged in timestamp order. A malformed line is counted in
// input.rejected and listed (file:line: error), never fatal. Not thread-safe;
// one call runs one replay.
#pragma once

#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "distillguard/status.h"
#include "engine/engine.h"
#include "engine/features.h"

namespace dg {
struct Config;
}

namespace dg::engine {

// Reads the lines of a plain or gzip file (detected by its magic bytes;
// concatenated gzip members are read as one stream) or stdin ("-") through one
// large buffer: ISA-L inflates straight into it and lines are views into it, so
// nothing is allocated per line. A line longer than the buffer grows it.
// Not thread-safe.
class LineReader {
 public:
  // Errors: kNotFound / kInvalidArgument naming the file.
  static Result<std::unique_ptr<LineReader>> open(const std::string& path);
  ~LineReader();
  LineReader(const LineReader&) = delete;
  LineReader& operator=(const LineReader&) = delete;

  // The next line without its '\n', valid until the next call; false at the
  // end, or on a read or decompression error (error() then says what).
  bool next(std::string_view& line);
  uint64_t line_no() const { return line_no_; }  // 1-based number of the last line returned
  const std::string& name() const { return name_; }
  const std::string& error() const { return error_; }
  uint64_t size() const { return size_; }        // bytes on disk (0 for stdin)
  uint64_t offset() const { return consumed_; }  // bytes of the file read so far

 private:
  LineReader() = default;
  bool fill();                           // appends data to buf_; false at end or on error
  size_t read_raw(char* dst, size_t n);  // read(2) with EINTR retry; sets error_ on failure

  int fd_ = -1;
  bool own_fd_ = false;
  std::string name_, error_;
  uint64_t size_ = 0, consumed_ = 0, line_no_ = 0;
  bool eof_ = false;
  // Decompression (gzip inputs only).
  struct Inflater;
  std::unique_ptr<Inflater> gz_;
  // Unread text is buf_[begin_, end_); '\n' was searched up to scan_.
  std::unique_ptr<char[]> buf_;
  size_t cap_ = 0, begin_ = 0, end_ = 0, scan_ = 0;
};

// Every line LineReader::next() returns is followed by this many readable
// bytes (the next lines, or the buffer's slack), as RecordReader needs.
inline constexpr size_t kLinePadding = 64;

// analyze's record reader: reads from a line what the engine reads (account,
// time, request, usage, client keys) straight into RecordFeatures, with
// simdjson (DOM: the whole line is validated) and no Boost.JSON tree. A line
// it does not take as it is (malformed, or a shape it leaves to the full
// parser, e.g. nesting deeper than 30) goes through ExchangeRecordParser,
// which decides and words the error: results and errors are those of
// ExchangeRecordParser::parse() + extract_features() (analyze_test checks).
// The line must be followed by kLinePadding readable bytes. Not thread-safe.
class RecordReader {
 public:
  explicit RecordReader(const CapabilityClassifier& clf = CapabilityClassifier::builtin());
  ~RecordReader();
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Reads one line into `account` and `features`; errors as
  // ExchangeRecordParser::parse().
  Status read(std::string_view line, std::string& account, RecordFeatures& features);
  // Whether the last read() went through ExchangeRecordParser (for tests).
  bool last_was_full_parse() const { return full_parse_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  bool full_parse_ = false;
};

struct RejectedLine {
  std::string file;
  uint64_t line = 0;
  std::string error;
};

struct AnalyzeInput {
  uint64_t records = 0;
  uint64_t rejected = 0;
  TimeNs from = 0, to = 0;
  std::vector<RejectedLine> rejected_lines;  // the first kMaxRejectedListed
};
inline constexpr size_t kMaxRejectedListed = 100;

struct AnalyzeResult {
  AnalyzeInput input;
  EngineReport report;
  size_t accounts = 0;
  double seconds = 0;  // wall time of the replay (for the benchmark line only)
};

struct AnalyzeOptions {
  std::vector<std::string> inputs;
  EngineConfig engine;
  bool progress = false;  // draw a progress bar on stderr
};

// Errors: kNotFound/kInvalidArgument naming the file that cannot be read.
Result<AnalyzeResult> run_analyze(const AnalyzeOptions& options);

// [engine] section of a config (defaults when absent); errors name key and line.
Result<EngineConfig> engine_config_from(const Config& config);

std::string report_json(const AnalyzeResult& r);
std::string report_text(const AnalyzeResult& r);
std::string report_html(const AnalyzeResult& r);

}  // namespace dg::engine
