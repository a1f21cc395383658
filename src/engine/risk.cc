#include "engine/risk.h"

#include <algorithm>
#include <cmath>
#include <fmt/format.h>

namespace dg::engine {

namespace {

// The signals and their weights (log-odds per unit of signal). See risk.h.
// Fitted by src/engine/tools/fit_weights.py on the tuning scenarios
// (mixed-small, hard-negatives, hydra, reasoning-harvest, reseller, slow-low,
// pivot; default seeds) and rounded. Zero-weight signals are kept for the
// explanation only (timing is under the attacker's control; volume and breadth
// act through their products).
constexpr SignalInfo kSignals[kSignalCount] = {
    {"capability_coverage", 0.0},
    {"distinct_prompts", 0.0},
    {"wide_harvest", 0.0},
    {"cot_elicitation", 4.6},
    {"rubric_grading", 2.8},
    {"logprob_harvest", 4.2},
    {"multi_sample", 1.0},
    {"deterministic_sampling", 0.0},
    {"single_turn", 2.3},
    {"no_system_prompt", 0.0},
    {"fixed_system_prompt", -5.0},
    {"round_the_clock", 0.0},
    {"regular_timing", 0.0},
    {"templated_prompts", 0.3},
    {"benchmark_items", 0.0},
    {"linked_accounts", 1.2},
    {"bare_wide_prompts", 0.0},
    {"bare_wide_volume", 0.0},
    {"rotating_addresses", 4.2},
    {"fixed_prompt_template", -4.9},
    {"context_free_breadth", 0.3},
    {"context_free_volume", 0.7},
    {"rotating_wrappers", 4.9},
    {"split_source", 0.0},
};
constexpr double kBias = -2.4;

double clamp01(double x) { return std::clamp(x, 0.0, 1.0); }
double conf(double n, double k) { return n / (n + k); }

int areas_used(const Profile& p) {
  int k = 0;
  uint32_t floor = std::max<uint32_t>(2, p.n / 50);
  for (int c = 0; c < kCapabilityCount; ++c)
    if (c != static_cast<int>(Capability::kOther) && p.cap[c] >= floor) ++k;
  return k;
}

double area_entropy(const Profile& p) {
  std::array<uint32_t, kCapabilityCount - 1> h{};
  int j = 0;
  for (int c = 0; c < kCapabilityCount; ++c)
    if (c != static_cast<int>(Capability::kOther)) h[j++] = p.cap[c];
  return normalized_entropy(h);
}

template <size_t N>
int areas_of(const std::array<uint32_t, N>& cap, uint32_t total) {
  int k = 0;
  uint32_t floor = std::max<uint32_t>(2, total / 50);
  for (size_t c = 0; c < N; ++c)
    if (c != static_cast<size_t>(Capability::kOther) && cap[c] >= floor) ++k;
  return k;
}

double entropy_without_other(const std::array<uint32_t, kCapabilityCount>& cap) {
  std::array<uint32_t, kCapabilityCount - 1> h{};
  int j = 0;
  for (int c = 0; c < kCapabilityCount; ++c)
    if (c != static_cast<int>(Capability::kOther)) h[j++] = cap[c];
  return normalized_entropy(h);
}

// Spread of the context-free requests' capability areas (coverage and entropy), in [0, 1].
double bare_spread(const Profile& p) {
  if (p.bare == 0) return 0;
  double coverage = areas_of(p.bare_cap, p.bare) / static_cast<double>(kCapabilityCount - 1);
  return 0.5 * coverage + 0.5 * entropy_without_other(p.bare_cap);
}

int hours_active(const Profile& p) {
  uint32_t floor = std::max<uint32_t>(1, p.n / 200);
  int k = 0;
  for (auto c : p.hour) k += c >= floor;
  return k;
}

std::string pct(double x) { return fmt::format("{:.0f}%", 100 * x); }

}  // namespace

const char* verdict_name(Verdict v) {
  switch (v) {
    case Verdict::kOk: return "ok";
    case Verdict::kSuspicious: return "suspicious";
    case Verdict::kAttack: return "attack";
  }
  return "ok";
}

const SignalInfo& signal_info(int id) { return kSignals[id]; }
double risk_bias() { return kBias; }

SignalValues compute_signals(const Profile& p, uint32_t cluster_size, const GroupEvidence* group) {
  SignalValues v{};
  if (p.n == 0) return v;
  const double n = p.n;
  const double coverage = areas_used(p) / static_cast<double>(kCapabilityCount - 1);
  v[kSigBreadth] = conf(n, 50) * (0.5 * coverage + 0.5 * area_entropy(p));
  double distinct = std::min(n, p.prompts.estimate());
  v[kSigVolume] = clamp01(std::log10(distinct + 1) / 4.0);
  v[kSigBreadthVolume] = v[kSigBreadth] * v[kSigVolume];
  // Shares are shrunk toward 0 on few exchanges (conf(n, 10): 1 exchange
  // counts 9%, 10 exchanges 50%, 100 exchanges 91%), so one odd request
  // never makes a verdict.
  const double c10 = conf(n, 10);
  const double raw_breadth = conf(n, 10) * (0.5 * coverage + 0.5 * area_entropy(p));
  v[kSigCot] = c10 * p.cot / n;
  v[kSigRubric] = c10 * p.rubric / n;
  v[kSigLogprobs] = c10 * p.logprobs / n * raw_breadth;
  v[kSigMultiSample] = c10 * p.multi_sample / n;
  v[kSigTemp0] = c10 * p.temp0 / n;
  v[kSigSingleTurn] = c10 * (1.0 - p.multi_turn / n);
  v[kSigNoSystem] = c10 * (1.0 - p.with_system / n);
  // One system prompt on (almost) every request: an application. A generic
  // one on part of the traffic (a chat front-end, a reseller's customers) is not.
  v[kSigFixedSystem] = p.systems.estimate() <= 2.5
                           ? conf(n, 10) * clamp01((std::min<double>(p.system_top.max_count(), p.app_system) / n - 0.5) / 0.45)
                           : 0.0;
  v[kSigRoundClock] = conf(n, 100) * clamp01((hours_active(p) - 8) / 16.0);
  v[kSigRegularTiming] = p.gap.n >= 5 ? conf(p.gap.n, 20) * clamp01(1.0 - p.gap.cv()) : 0.0;
  v[kSigTemplated] = conf(n, 20) * clamp01(p.template_share());
  v[kSigBenchmark] = c10 * p.benchmark / n;
  // Many accounts acting as one, discounted by how much of the linking came
  // from one shared site (an organisation behind its NAT links that way; an
  // actor hiding behind many accounts keeps their infrastructure apart).
  v[kSigClusterSize] = cluster_size > 1 ? clamp01(std::log10(static_cast<double>(cluster_size)) / 3.0) : 0.0;
  if (group && group->links > 0)
    v[kSigClusterSize] *= 1.0 - static_cast<double>(group->block_links) / group->links;
  v[kSigBareWide] = v[kSigBreadth] * v[kSigSingleTurn] * v[kSigNoSystem];
  v[kSigBareWideVolume] = v[kSigBareWide] * v[kSigVolume];
  // One or two fixed prompt formats on (nearly) every prompt: an application
  // or a pipeline (a judge harness, a classifier). Rotated paraphrases cover less.
  v[kSigFixedFrame] = conf(n, 10) * std::max(clamp01((p.template_share() - 0.3) / 0.5),
                                             clamp01((p.top2_template_share() - 0.5) / 0.4));
  // Address rotation alone is what a phone on a mobile network looks like; it
  // is evidence only for a group of linked accounts sharing the behaviour.
  if (cluster_size >= 3 && p.ips.estimate() > 0 && n >= 10)
    v[kSigRotatingAddresses] = conf(n, 30) * clamp01((std::min(n, p.blocks.estimate()) / n - 0.1) / 0.5);
  // The context-free half of the traffic on its own: a reseller's genuine
  // customers dilute the account's shares, not this.
  const double bare = p.bare;
  v[kSigBareBreadth] = conf(bare, 30) * bare_spread(p);
  v[kSigBareVolume] = v[kSigBareBreadth] * clamp01(std::log10(bare + 1) / 3.0);
  // Instruction wrappers rotated around content of every kind (an
  // application uses one template on one kind of content).
  v[kSigRotatingWrappers] = conf(bare, 20) * clamp01(p.wrapper_rotation() / 0.3) * raw_breadth;
  // Split source: a group whose members never repeat each other's prompts
  // (union of distinct prompts ~ all exchanges) yet ask for the same mix.
  if (group && cluster_size >= 3 && group->joins >= 2) {
    double disjoint = clamp01((std::min(n, p.prompts.estimate()) / n - 0.7) / 0.3);
    v[kSigSplitSource] = conf(group->joins, 5) * disjoint * clamp01((group->member_similarity - 0.5) / 0.4) *
                         raw_breadth;
  }
  // A single application does not reach the gateway through a ring of
  // accounts on rotating proxies: the fixed-template discount fades with it.
  // (Only clear rotation counts: a young group of cloud accounts, one address
  // each, looks briefly like rotation while it has few requests.)
  v[kSigFixedFrame] *= 1.0 - clamp01((v[kSigRotatingAddresses] - 0.25) / 0.35);
  for (auto& x : v) x = clamp01(x);
  return v;
}

double risk_score(const SignalValues& v) {
  double z = kBias;
  for (int i = 0; i < kSignalCount; ++i) z += kSignals[i].weight * v[i];
  return 1.0 / (1.0 + std::exp(-z));
}

std::vector<Reason> explain(const Profile& p, const SignalValues& v, uint32_t cluster_size, const GroupEvidence* group) {
  std::vector<Reason> out;
  const double n = std::max<uint32_t>(1, p.n);
  for (int i = 0; i < kSignalCount; ++i) {
    double c = kSignals[i].weight * v[i];
    if (std::abs(c) < 0.05) continue;
    std::string d;
    switch (i) {
      case kSigBreadth:
        d = fmt::format("{} of {} capability areas in {} prompts (entropy {:.2f})", areas_used(p),
                        kCapabilityCount - 1, p.n, area_entropy(p));
        break;
      case kSigVolume: d = fmt::format("about {:.0f} distinct prompts", std::min(n, p.prompts.estimate())); break;
      case kSigBreadthVolume: d = "many distinct prompts spread over many capability areas, as when harvesting training data"; break;
      case kSigCot: d = pct(v[i]) + " of prompts ask for step-by-step reasoning or the reasoning behind an answer"; break;
      case kSigRubric: d = pct(v[i]) + " of prompts ask the model to grade or score answers (reward-model use)"; break;
      case kSigLogprobs: d = pct(p.logprobs / n) + " of requests ask for log-probabilities, across many capability areas"; break;
      case kSigMultiSample: d = pct(v[i]) + " of requests ask for several completions (n > 1)"; break;
      case kSigTemp0: d = pct(v[i]) + " of requests use temperature 0"; break;
      case kSigSingleTurn: d = pct(v[i]) + " of requests are single-turn"; break;
      case kSigNoSystem: d = pct(v[i]) + " of requests carry no system prompt"; break;
      case kSigFixedSystem:
        d = fmt::format("one system prompt on {} of requests (lowers the risk: a single application does this)",
                        pct(p.system_top.max_count() / n));
        break;
      case kSigRoundClock: d = fmt::format("active in {} of 24 hours of the day", hours_active(p)); break;
      case kSigRegularTiming: d = fmt::format("inter-arrival variation {:.2f} (humans are irregular)", p.gap.cv()); break;
      case kSigTemplated: d = pct(p.template_share()) + " of prompts follow one template"; break;
      case kSigBenchmark: d = pct(v[i]) + " of prompts are shaped like benchmark items"; break;
      case kSigClusterSize:
        d = fmt::format("{} linked accounts scored as one actor, mostly without a shared site", cluster_size);
        break;
      case kSigBareWide: d = "wide-ranging single-turn prompts without any application context (no system prompt)"; break;
      case kSigBareWideVolume: d = "many such context-free prompts across the capability spectrum"; break;
      case kSigFixedFrame:
        d = pct(p.top2_template_share()) +
            " of prompts use one or two fixed templates (lowers the risk: a single application or pipeline does this)";
        break;
      case kSigBareBreadth:
        d = fmt::format("{} context-free requests (single-turn, no system prompt) spread over {} capability areas",
                        p.bare, areas_of(p.bare_cap, p.bare));
        break;
      case kSigBareVolume: d = fmt::format("{} context-free requests across the capability spectrum", p.bare); break;
      case kSigRotatingWrappers:
        d = fmt::format("{} of context-free prompts reuse one of several instruction wrappers around varied content",
                        pct(p.bare ? static_cast<double>(p.bare_rewrapped) / p.bare : 0.0));
        break;
      case kSigSplitSource:
        d = fmt::format("members ask disjoint prompts (about {:.0f} distinct in {}) with the same capability mix "
                        "(similarity {:.2f}), as when splitting one dataset",
                        std::min(n, p.prompts.estimate()), p.n, group ? group->member_similarity : 0.0);
        break;
      case kSigRotatingAddresses: d = fmt::format("about {:.0f} address blocks for {} requests (rotating proxies)", std::min(n, p.blocks.estimate()), p.n); break;
    }
    out.push_back({kSignals[i].name, v[i], c, std::move(d)});
  }
  // What raised the risk first (largest first), then what lowered it: an
  // analyst reads why an account was flagged before what spoke for it.
  std::sort(out.begin(), out.end(), [](const Reason& a, const Reason& b) {
    if ((a.weight > 0) != (b.weight > 0)) return a.weight > 0;
    return std::abs(a.weight) > std::abs(b.weight);
  });
  return out;
}

Verdict verdict_for(double risk, const Thresholds& t) {
  if (risk >= t.attack) return Verdict::kAttack;
  if (risk >= t.suspicious) return Verdict::kSuspicious;
  return Verdict::kOk;
}

}  // namespace dg::engine
