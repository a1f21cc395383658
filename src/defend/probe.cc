#include "defend/probe.h"

#include <algorithm>

#include "defend/canary.h"

namespace dg::defend {

std::vector<std::string> probe_prompts(const std::string& kind, size_t n) {
  static const std::vector<std::string> kDefinition = {
      "What is a hash function?", "What is photosynthesis?", "What is inflation in economics?",
      "What is a black hole?", "What is machine learning?", "What is a sonnet?", "What is entropy?",
      "What is a vaccine?", "What is compound interest?", "What is democracy?", "What is an API?",
      "What is a glacier?", "What is the greenhouse effect?", "What is a prime number?", "What is recursion?",
      "What is a supply chain?", "What is a metaphor?", "What is plate tectonics?", "What is a neural network?",
      "What is a budget deficit?"};
  static const std::vector<std::string> kList = {
      "List five tips for better sleep.", "List some healthy breakfast ideas.", "List five famous painters.",
      "List ways to save money on groceries.", "List the planets of the solar system.",
      "List five programming languages and what they are used for.", "List some tips for public speaking.",
      "List five houseplants that are easy to care for.", "List ways to reduce stress.",
      "List five classic novels everyone should read.", "List some good habits for students.",
      "List five ways to stay productive when working from home.", "List some popular board games.",
      "List five countries in South America.", "List ideas for a rainy day.", "List some ways to learn a new language.",
      "List five benefits of regular exercise.", "List some tips for writing a resume.",
      "List common kitchen herbs.", "List five renewable energy sources."};
  static const std::vector<std::string> kHowto = {
      "How do I boil an egg?", "How do I change a flat tire?", "How do I start a vegetable garden?",
      "How do I write a cover letter?", "How do I make a budget?", "How do I learn to play guitar?",
      "How do I clean a laptop keyboard?", "How do I prepare for a job interview?", "How do I brew coffee with a French press?",
      "How do I back up my phone?", "How do I improve my handwriting?", "How do I plan a road trip?",
      "How do I make bread at home?", "How do I meditate?", "How do I train a puppy to sit?",
      "How do I paint a room?", "How do I set up a fish tank?", "How do I negotiate a salary?",
      "How do I remove a stain from a shirt?", "How do I start running?"};
  const std::vector<std::string>* src = kind == "definition" ? &kDefinition : kind == "list" ? &kList : &kHowto;
  return std::vector<std::string>(src->begin(), src->begin() + static_cast<long>(std::min(n, src->size())));
}

ProbeReport analyze_probe(const std::vector<std::string>& answers, const std::vector<ProbeSignature>& signatures,
                          const VerifyOptions& verify) {
  ProbeReport r;
  r.answers = answers.size();
  r.signatures = signatures.size();
  for (const auto& a : answers) r.max_len = std::max(r.max_len, a.size());
  for (const auto& s : signatures) {
    CanaryHit hit{s, 0, {}};
    for (size_t i = 0; i < answers.size(); ++i) {
      if (answers[i].find(s.signature) != std::string::npos) {
        ++hit.answers_with_hit;
        if (hit.answer_indexes.size() < 5) hit.answer_indexes.push_back(i);
      }
    }
    if (hit.answers_with_hit > 0) r.hits.push_back(std::move(hit));
  }
  r.chance = canary_chance(r.signatures, r.answers, r.max_len);
  PositionExtractor ex(SynonymTable::builtin());
  for (const auto& a : answers) ex.add_text(a);
  if (!verify.keys.empty()) r.watermark = verify_positions(ex.positions(), verify);
  return r;
}

}  // namespace dg::defend
