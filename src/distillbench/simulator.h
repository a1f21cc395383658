// The distillbench simulator: turns a Scenario into an exchange log
// (spec/exchange-log.md) and a labels file (one line per account that sent at
// least one exchange).
//
// Every account/stream pair is an independent event process with its own Rng
// (seeded from the scenario seed and its position), merged through a min-heap
// on (time, actor), so the output is in non-decreasing `ts` order, streams in
// O(accounts) memory, and is byte-identical for the same scenario and seed.
// Records are written directly as JSON in the field order of to_json_line().
// Output ending in ".gz" is gzip-compressed (level 1). Not thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "distillbench/scenario.h"
#include "distillguard/status.h"

namespace dg::distillbench {

struct SimulateOptions {
  std::string trace_path;   // .jsonl or .jsonl.gz
  std::string labels_path;  // .jsonl
  std::optional<uint64_t> seed;  // overrides the scenario's seed
  std::string prompts_dir;       // overrides the scenario's prompts_dir
};

struct SimulateStats {
  uint64_t records = 0;
  uint64_t accounts = 0;         // accounts with at least one exchange
  uint64_t attack_accounts = 0;
  uint64_t attack_records = 0;
  uint64_t bytes = 0;            // uncompressed trace bytes
};

// Default prompt directory when neither the scenario nor the options name one:
// $DG_PROMPTS_DIR, else ./data/prompts, else $DG_SOURCE_DIR/data/prompts.
std::string default_prompts_dir();

Result<SimulateStats> simulate(const Scenario& scenario, const SimulateOptions& options);

}  // namespace dg::distillbench
