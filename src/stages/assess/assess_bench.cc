// The assess stage's cost on the request path (issue 4's goal: <= 50 us per
// request at p99): the synthetic traffic of assess_traffic.h through one
// enforcing stage, timing on_request (classify the prompt, read the
// published risk, check the capability and cluster limits) per request;
// on_complete (feature extraction, hand-off to the engine thread) runs
// untimed between them, as it does after the response. Prints p50/p99/max
// over all passes. Built, not run by ctest (speed belongs in benchmarks).
//
//   build/src/stages/assess/assess_bench [passes]   (default 5)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "distillguard/clock.h"
#include "stages/assess/assess_stage.h"
#include "stages/assess/assess_traffic.h"

int main(int argc, char** argv) {
  using namespace dg;
  using namespace dg::assess_testing;
  const int passes = argc > 1 ? std::atoi(argv[1]) : 5;
  const auto records = traffic();
  std::vector<double> us;
  us.reserve(records.size() * static_cast<size_t>(std::max(passes, 1)));
  for (int p = 0; p < passes; ++p) {
    ManualClock clock(kT0);  // a fresh stage per pass: the same day replayed
    auto stage = AssessStage::create(AssessConfig{}, clock, StageMode::kEnforce);
    for (const auto& r : records) {
      ExchangeContext c = ctx_of(r);
      const auto t0 = std::chrono::steady_clock::now();
      (void)stage->on_request(c);
      const auto t1 = std::chrono::steady_clock::now();
      stage->on_complete(c);
      us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
    }
  }
  if (us.empty()) return 1;
  std::sort(us.begin(), us.end());
  std::printf(
      "assess on_request: p50 %.1f us, p99 %.1f us, max %.1f us (%zu requests, %d passes)\n",
      us[us.size() / 2], us[us.size() * 99 / 100], us.back(), us.size(), passes);
  return 0;
}
