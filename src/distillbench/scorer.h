// The distillbench scorer: grades an `analyze` JSON report
// (spec/analyze-report.md) against a labels file (spec/exchange-log.md,
// "Labels"), per persona, per campaign and overall.
//
// Definitions (see docs/distillbench.md):
//  - flagged: verdict "attack". recall = flagged campaign accounts / campaign accounts.
//    FPR = legitimate accounts with verdict "attack" / legitimate accounts;
//    suspicious rate = legitimate accounts with verdict "suspicious" / legitimate accounts.
//  - exchanges until detection (per account) = first_flagged.exchange (1-based);
//    median and p90 over a group's accounts that were flagged.
//  - leaked exchanges of a campaign account = its exchanges strictly before its
//    first_flagged moment (all of them when never flagged). With the trace this
//    is counted from record timestamps (ts < first_flagged.ts); without it, from
//    the report (first_flagged.exchange - 1, or `exchanges`).
//  - campaign exchanges until first detection (trace needed): the campaign's
//    exchanges, over all its accounts, before the first of them was flagged.
// A report that omits a labelled account, names an account not in the labels,
// or names one twice is an error naming the account. Not thread-safe.
#pragma once

#include <boost/json/value.hpp>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/status.h"

namespace dg::distillbench {

struct Label {
  std::string account;
  bool attack = false;
  std::string campaign;  // empty for legitimate accounts
  std::string persona;
};

Result<std::vector<Label>> parse_labels(std::string_view text, const std::string& origin);
Result<std::vector<Label>> load_labels(const std::string& path);

struct GroupScore {
  std::string name;
  bool campaign = false;  // a campaign (attack) or a legitimate persona
  uint64_t accounts = 0;
  uint64_t flagged = 0;     // verdict attack
  uint64_t suspicious = 0;  // verdict suspicious
  double rate = 0;          // campaign: recall; persona: FPR
  double suspicious_rate = 0;
  std::optional<double> until_median;  // exchanges until detection, per account
  std::optional<double> until_p90;
  uint64_t exchanges = 0;
  uint64_t leaked = 0;  // campaigns only
  double leaked_share = 0;
  std::optional<uint64_t> until_first_detection;  // campaigns, with the trace
};

struct ScoreResult {
  std::vector<GroupScore> groups;  // campaigns first, then personas, by name
  uint64_t legit_accounts = 0, attack_accounts = 0;
  uint64_t true_positives = 0, false_positives = 0, legit_suspicious = 0;
  double precision = 0, recall = 0, fpr = 0, fpr_suspicious = 0;
  uint64_t campaigns = 0, campaigns_detected = 0;
  uint64_t campaign_exchanges = 0, leaked = 0;
  double leaked_share = 0;
  std::optional<double> until_median, until_p90;  // over all flagged campaign accounts
  bool used_trace = false;
};

// `trace_path` empty: counts come from the report.
Result<ScoreResult> score_report(const std::vector<Label>& labels, std::string_view report_json,
                                 const std::string& trace_path);

std::string format_score_table(const ScoreResult& r);
boost::json::value score_to_json(const ScoreResult& r);

// q in [0, 1], linear interpolation between closest ranks; empty -> nullopt.
std::optional<double> quantile(std::vector<double> v, double q);

}  // namespace dg::distillbench
