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
  kSigBareBreadth,        // capability spread of the context-free requests alone (single-turn, no system prompt)
  kSigBareVolume,         // the same, times how many such requests (log scale)
  kSigRotatingWrappers,   // several instruction wrappers rotated around wide-ranging content
  kSigSplitSource,        // clusters: members draw disjoint prompts from one shared distribution
  kSignalCount
};

struct SignalInfo {
  const char* name;
  double weight;
};
const SignalInfo& signal_info(int id);
double risk_bias();

using SignalValues = std::array<double, kSignalCount>;

// What a cluster knows beyond its merged profile (engine.cc keeps it).
struct GroupEvidence {
  double member_similarity = 0;  // mean cosine of a joining member's capability mix with the group's
  uint32_t joins = 0;            // members whose similarity was measured (had >= 8 exchanges)
  uint32_t links = 0;            // links that joined the group
  uint32_t block_links = 0;      // of which with a shared address block (one site, one NAT: an organisation)
};

// `cluster_size` is 1 for a lone account; `group` only for clusters.
SignalValues compute_signals(const Profile& p, uint32_t cluster_size = 1, const GroupEvidence* group = nullptr);
double risk_score(const SignalValues& v);

struct Reason {
  std::string signal;
  double value = 0;
  double weight = 0;  // contribution to the log-odds (weight * value)
  std::string detail;
};
// Every signal that moved the score (|contribution| >= 0.05): those that raised it,
// largest first, then those that lowered it, largest first.
std::vector<Reason> explain(const Profile& p, const SignalValues& v, uint32_t cluster_size = 1,
                            const GroupEvidence* group = nullptr);

struct Thresholds {
  double suspicious = 0.4;
  double attack = 0.6;
};
Verdict verdict_for(double risk, const Thresholds& t);

}  // namespace dg::engine
