// `distillguard probe` as a library (the HTTP part lives in the command):
// the prompts asked of a suspect model, and the analysis of its answers —
// canary signatures found (with their chance probability) and the watermark
// test on the answers.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <vector>

#include "defend/verify.h"

namespace dg::defend {

// Built-in prompts of a canary kind (definition, list, howto); at most `n`.
std::vector<std::string> probe_prompts(const std::string& kind, size_t n);

struct ProbeSignature {
  std::string account;
  std::string kind;
  std::string signature;
};

struct CanaryHit {
  ProbeSignature sig;
  size_t answers_with_hit = 0;
  std::vector<size_t> answer_indexes;  // first few
};

struct ProbeReport {
  size_t answers = 0;
  size_t max_len = 0;
  size_t signatures = 0;
  std::vector<CanaryHit> hits;
  double chance = 1.0;  // P(any hit by chance) bound: canary_chance(signatures, answers, max_len)
  VerifyResult watermark;
};

// Searches every answer for every signature (case-sensitive, exact), and
// runs the watermark test over all answers together (each answer its own
// document; positions deduplicated across them).
ProbeReport analyze_probe(const std::vector<std::string>& answers, const std::vector<ProbeSignature>& signatures,
                          const VerifyOptions& verify);

}  // namespace dg::defend
