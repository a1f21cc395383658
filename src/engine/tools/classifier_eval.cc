// Held-out accuracy of the capability classifier (docs/detection.md):
//   classifier_eval [prompts.tsv]   (default: the embedded data/classifier/prompts.tsv)
// 1. random 80/20 split (seeded), overall and per class;
// 2. leave-one-source-out for each source: train on every other source, test on it
//    (mt_bench and vicuna carry their own human category labels; the keyword-
//    labelled sources measure agreement with those labels).
//   classifier_eval --bench FILE  CPU time per predict_reference(), predict() and classify() call over FILE's prompts
//   classifier_eval --dump FILE   (FILE: prompts separated by NUL bytes)
// prints, per prompt, the builtin model's predict() and classify() labels on the
// lower-cased prompt: diff two builds' dumps to check predictions did not change.
#include <cstdio>
#include <ctime>
#include <fstream>
#include <map>
#include <sstream>

#include "distillguard/random.h"
#include "engine/classifier.h"
#include "engine/text.h"

using namespace dg::engine;

static double accuracy(const CapabilityClassifier& m, const std::vector<LabelledPrompt>& test,
                       std::map<int, std::pair<int, int>>* per_class = nullptr) {
  int ok = 0;
  std::string l;
  for (const auto& t : test) {
    to_lower_ascii(t.text, l);
    bool hit = m.classify(l, false) == t.label;
    ok += hit;
    if (per_class) {
      auto& pc = (*per_class)[static_cast<int>(t.label)];
      pc.first += hit;
      pc.second += 1;
    }
  }
  return test.empty() ? 0 : static_cast<double>(ok) / test.size();
}

static int dump(const char* path, bool bench) {
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    std::fprintf(stderr, "cannot read %s\n", path);
    return 2;
  }
  const auto& m = CapabilityClassifier::builtin();
  std::string prompt, l;
  std::vector<std::string> lower;
  while (std::getline(f, prompt, '\0')) {
    to_lower_ascii(prompt, l);
    if (bench) lower.push_back(l);
    else std::printf("%s %s\n", capability_name(m.predict(l)), capability_name(m.classify(l, false)));
  }
  if (!bench || lower.empty()) return 0;
  for (int rep = 0; rep < 3; ++rep) {
    for (int mode : {0, 1, 2}) {
      std::timespec t0, t1;
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
      unsigned sum = 0;
      for (const auto& s : lower)
        sum += static_cast<unsigned>(mode == 0   ? m.predict_reference(s)
                                     : mode == 1 ? m.predict(s)
                                                 : m.classify(s, false));
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t1);
      double us = ((t1.tv_sec - t0.tv_sec) * 1e9 + (t1.tv_nsec - t0.tv_nsec)) / 1e3 / lower.size();
      std::printf("%zu prompts: %.3f us per %s (CPU time; checksum %u)\n", lower.size(), us,
                  mode == 0   ? "predict_reference() (the pre-2026-11-26 predict)"
                  : mode == 1 ? "predict()"
                              : "classify() (predict + scan_cues)",
                  sum);
    }
  }
  return 0;
}

int main(int argc, char** argv) {
  if (argc > 2 && std::string_view(argv[1]) == "--dump") return dump(argv[2], false);
  if (argc > 2 && std::string_view(argv[1]) == "--bench") return dump(argv[2], true);
  std::string tsv;
  if (argc > 1) {
    std::ifstream f(argv[1]);
    std::stringstream ss;
    ss << f.rdbuf();
    tsv = ss.str();
  } else {
    tsv = std::string(builtin_training_tsv());
  }
  auto data = parse_labelled_tsv(tsv);
  dg::Rng rng(42);
  std::vector<LabelledPrompt> train, test;
  for (auto& d : data) (rng.uniform() < 0.8 ? train : test).push_back(d);
  auto m = CapabilityClassifier::train(train);
  std::map<int, std::pair<int, int>> pc;
  std::printf("random 80/20 split: %zu train, %zu test, accuracy %.3f\n", train.size(), test.size(),
              accuracy(m, test, &pc));
  for (auto& [c, v] : pc)
    std::printf("  %-14s %4d/%-4d %.3f\n", capability_name(static_cast<Capability>(c)), v.first, v.second,
                static_cast<double>(v.first) / v.second);
  std::map<std::string, int> sources;
  for (auto& d : data) sources[d.source]++;
  std::printf("leave-one-source-out:\n");
  for (auto& [src, n] : sources) {
    std::vector<LabelledPrompt> tr, te;
    for (auto& d : data) (d.source == src ? te : tr).push_back(d);
    auto ms = CapabilityClassifier::train(tr);
    std::printf("  %-20s %5d prompts  accuracy %.3f\n", src.c_str(), n, accuracy(ms, te));
  }
  return 0;
}
