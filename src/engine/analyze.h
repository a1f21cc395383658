// `distillguard analyze`: replays exchange logs through the engine and writes
// the report of spec/analyze-report.md (text, JSON or self-contained HTML).
//
// Inputs are .jsonl, .jsonl.gz (detected by content, not name) or "-" (stdin);
// several inputs are merged in timestamp order. A malformed line is counted in
// input.rejected and listed (file:line: error), never fatal. Not thread-safe;
// one call runs one replay.
#pragma once

#include <cstdio>
#include <string>
#include <vector>

#include "distillguard/status.h"
#include "engine/engine.h"

namespace dg {
struct Config;
}

namespace dg::engine {

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
