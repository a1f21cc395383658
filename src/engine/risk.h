// Risk: signals computed from a profile, combined by a logistic model into a
// calibrated score in [0, 1], with reasons an analyst can read.
//
// One source of truth for the signals: kSignals in risk.cc (name, weight,
// meaning). Each signal value is in [0, 1]; a signal's contribution to the
// log-odds is weight * value. Weights were fitted by logistic regression on the
// tuning scenarios and rounded (docs/detection.md says which and how).
// Pure functions; thread-safe.
#pragma once

#include <array>
#include <string>
#include <vector>

#include "engine/profile.h"

namespace dg::engine {

enum class Verdict : uint8_t { kOk = 0, kSuspicious, kAttack };
const char* verdict_name(Verdict v);

enum SignalId : int {
  kSigBreadth = 0,     // capability coverage and entropy, discounted for few prompts
  kSigVolume,          // distinct prompts (log scale)
  kSigBreadthVolume,   // breadth x volume: a wide, large harvest
  kSigCot,             // chain-of-thought elicitation share
  kSigRubric,          // rubric / grading share
  kSigLogprobs,        // log-probabilities asked share, times breadth (soft labels over the spectrum)
  kSigMultiSample,     // n > 1 share
  kSigTemp0,           // temperature 0 share
  kSigSingleTurn,      // single-turn share
  kSigNoSystem,        // share without a system prompt
  kSigFixedSystem,     // one constant system prompt (application shape)
  kSigRoundClock,      // activity spread over the 24 hours
  kSigRegularTiming,   // low inter-arrival variation
  kSigTemplated,       // share of prompts on the top template
  kSigBenchmark,       // benchmark-item shape share
  kSigClusterSize,     // accounts acting as one (clusters only)
  kSigBareWide,        // breadth x single-turn x no system prompt: wide, context-free prompts
  kSigBareWideVolume,  // the same, times volume
  kSigRotatingAddresses,  // a new address block on most requests (proxy rotation)
  kSigFixedFrame,         // one prompt template on most requests (application shape)
  kSignalCount
};

struct SignalInfo {
  const char* name;
  double weight;
};
const SignalInfo& signal_info(int id);
double risk_bias();

using SignalValues = std::array<double, kSignalCount>;

// `cluster_size` is 1 for a lone account.
SignalValues compute_signals(const Profile& p, uint32_t cluster_size = 1);
double risk_score(const SignalValues& v);

struct Reason {
  std::string signal;
  double value = 0;
  double weight = 0;  // contribution to the log-odds (weight * value)
  std::string detail;
};
// Every signal that moved the score (|contribution| >= 0.05), largest first.
std::vector<Reason> explain(const Profile& p, const SignalValues& v, uint32_t cluster_size = 1);

struct Thresholds {
  double suspicious = 0.4;
  double attack = 0.6;
};
Verdict verdict_for(double risk, const Thresholds& t);

}  // namespace dg::engine
