// Latency the countermeasure transforms add per response, on real recorded
// answers (data/teacher/teacher.jsonl). Each benchmark reports the mean per
// response (Google Benchmark's time) and, per response, wall-clock p50/p99
// and thread-CPU-time p50/p99 (cpu_p50_us, cpu_p99_us: not inflated when a
// loaded machine preempts the benchmark) as counters.
//   build-def/src/defend/transforms_bench [--benchmark_filter=...]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <boost/json.hpp>
#include <chrono>
#include <ctime>
#include <cstdlib>
#include <fstream>

#include "defend/degrade.h"
#include "defend/watermark_transform.h"

namespace {
namespace json = boost::json;
using dg::defend::WatermarkTransform;

const std::vector<std::string>& answers() {
  static const std::vector<std::string> a = [] {
    const char* src = std::getenv("DG_SOURCE_DIR");
    std::ifstream in(std::string(src ? src : ".") + "/data/teacher/teacher.jsonl");
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line)) out.emplace_back(json::parse(line).at("response").as_string().c_str());
    return out;
  }();
  return a;
}

json::object body_of(const std::string& text) {
  return json::object{{"object", "chat.completion"},
                      {"choices", json::array{json::object{{"index", 0},
                                                           {"message", json::object{{"role", "assistant"}, {"content", text}}},
                                                           {"finish_reason", "stop"}}}}};
}

void report(benchmark::State& state, std::vector<double>& us, std::vector<double>* cpu = nullptr) {
  std::sort(us.begin(), us.end());
  state.counters["p50_us"] = us[us.size() / 2];
  state.counters["p99_us"] = us[us.size() * 99 / 100];
  state.counters["max_us"] = us.back();
  if (cpu != nullptr && !cpu->empty()) {
    std::sort(cpu->begin(), cpu->end());
    state.counters["cpu_p50_us"] = (*cpu)[cpu->size() / 2];
    state.counters["cpu_p99_us"] = (*cpu)[cpu->size() * 99 / 100];
  }
}

// This thread's CPU time in microseconds.
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Whole-body watermark (non-streamed response), the policy stage's default strength.
void BM_WatermarkBody(benchmark::State& state) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  std::vector<json::object> bodies;
  for (const auto& a : answers()) bodies.push_back(body_of(a));
  std::vector<double> us, cpu;
  size_t i = 0;
  for (auto _ : state) {
    json::object b = bodies[i++ % bodies.size()];
    const double c0 = thread_cpu_us();
    const auto t0 = std::chrono::steady_clock::now();
    WatermarkTransform w(table, key, 0.5);
    w.on_body(b);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(thread_cpu_us() - c0);
    benchmark::DoNotOptimize(b);
  }
  report(state, us, &cpu);
}
BENCHMARK(BM_WatermarkBody);

// Streamed: the answer in ~4-character SSE chunks; time summed over the response.
void BM_WatermarkStream(benchmark::State& state) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  std::vector<std::vector<json::object>> streams;
  for (const auto& a : answers()) {
    std::vector<json::object> chunks;
    for (size_t p = 0; p < a.size(); p += 4) {
      chunks.push_back(json::object{{"choices", json::array{json::object{{"index", 0},
                                                                          {"delta", json::object{{"content", a.substr(p, 4)}}},
                                                                          {"finish_reason", nullptr}}}}});
    }
    streams.push_back(std::move(chunks));
  }
  std::vector<double> us, cpu;
  size_t i = 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::vector<json::object> s = streams[i++ % streams.size()];
    state.ResumeTiming();
    const double c0 = thread_cpu_us();
    const auto t0 = std::chrono::steady_clock::now();
    WatermarkTransform w(table, key, 0.5);
    for (auto& c : s) w.on_chunk(c);
    std::vector<json::object> extra;
    w.on_stream_end(&s.back(), extra);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    cpu.push_back(thread_cpu_us() - c0);
  }
  report(state, us, &cpu);
}
BENCHMARK(BM_WatermarkStream);

// The full degrade+trace set on a body: reasoning, watermark (strength 1), logprob perturbation.
void BM_TraceTransformsBody(benchmark::State& state) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  const auto lkey = dg::sha256("logprob");
  std::vector<json::object> bodies;
  for (const auto& a : answers()) bodies.push_back(body_of("<think>Some steps. More steps.</think>" + a));
  const json::object req{{"model", "m"}, {"messages", json::array{json::object{{"role", "user"}, {"content", "hi"}}}}};
  std::vector<double> us;
  size_t i = 0;
  for (auto _ : state) {
    json::object b = bodies[i++ % bodies.size()];
    const auto t0 = std::chrono::steady_clock::now();
    dg::defend::ReasoningTransform r(dg::defend::ReasoningMode::kSummarize);
    WatermarkTransform w(table, key, 1.0);
    dg::defend::LogprobTransform l(lkey, dg::defend::request_fingerprint("acct", req));
    r.on_body(b);
    w.on_body(b);
    l.on_body(b);
    us.push_back(std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count());
    benchmark::DoNotOptimize(b);
  }
  report(state, us);
}
BENCHMARK(BM_TraceTransformsBody);

// Baseline: copying the body (what any transform costs at least).
void BM_BaselineCopy(benchmark::State& state) {
  std::vector<json::object> bodies;
  for (const auto& a : answers()) bodies.push_back(body_of(a));
  size_t i = 0;
  for (auto _ : state) {
    json::object b = bodies[i++ % bodies.size()];
    benchmark::DoNotOptimize(b);
  }
}
BENCHMARK(BM_BaselineCopy);

}  // namespace

BENCHMARK_MAIN();
