// What the countermeasure transforms add per response, on the real answers
// shipped in data/teacher/teacher.jsonl (822), at the strengths the policy
// ships (0.5: throttle/degrade; 1.0: trace).
//
// Measure: thread CPU time per response (CLOCK_THREAD_CPUTIME_ID, which a
// loaded machine's preemption does not inflate), summed over all of a
// streamed response's chunks. The gateway runs the transforms inline on the
// I/O thread, so this is also an upper bound on the latency they add to any
// byte of the response. Each benchmark measures every answer `DG_BENCH_REPS`
// times (default 5, interleaved: answer 0..821, then again), takes each
// answer's median, and reports over the 822 answers (counters, µs):
//   p50_us, p99_us, max_us   per-response CPU time
//   mean_us                  its mean
// Benchmarks:
//   Body/<strength>        WatermarkTransform::on_body on the parsed response
//   Stream/<strength>      WatermarkTransform::on_chunk on each ~4-byte chunk
//                          (about one token; never inside a UTF-8 sequence)
//   ChainBody/<strength>   what the gateway adds once a transform is attached
//   ChainStream/<strength> to a response: parse, transforms, serialize
//                          (pipeline::apply_body_transforms; for SSE,
//                          pipeline::StreamTransformer on OpenAI-shaped events,
//                          which all take its text path: no tree, see
//                          pipeline/text_chunk.h)
//   ChainStreamTree/<strength>  the same with the StreamTransformer's tree path
//                          forced for every event (the transform hidden behind a
//                          wrapper that is not a TextChunkTransform): parse,
//                          transforms, serialize, as before the text path existed
//   ChainStreamNone        StreamTransformer with no transform: the pipeline's own
//                          cost (text path; the forwarder skips it without transforms)
//   ChainStreamDelay/<strength>, ChainStreamTreeDelay/<strength>
//                          the same pipelines, but per response the
//                          largest CPU time of any one event (parse, transforms,
//                          serialize; the [DONE] event includes the final
//                          flush): the most that processing delays any byte of
//                          a streamed response. Events arrive one token at a
//                          time, so a stream's summed CPU (ChainStream) overlaps
//                          generation; this is the added latency a client sees.
//                          (Each event is timed with its own clock reads, which
//                          adds their cost: an upper bound.) Text held back to a
//                          word boundary waits for the next token on top of this.
//   TraceBody              reasoning + watermark 1.0 + log-prob transforms on a body
//
//   build-wm/src/defend/transforms_bench [--benchmark_filter=...]   (DG_SOURCE_DIR: repo root)
#include <benchmark/benchmark.h>

#include <algorithm>
#include <boost/json.hpp>
#include <cstdlib>
#include <ctime>
#include <fstream>

#include "defend/degrade.h"
#include "defend/watermark_transform.h"
#include "pipeline/chain.h"

namespace {
namespace json = boost::json;
using dg::defend::WatermarkTransform;
using Transforms = std::vector<std::unique_ptr<dg::ResponseTransform>>;

const std::vector<std::string>& answers() {
  static const std::vector<std::string> a = [] {
    const char* src = std::getenv("DG_SOURCE_DIR");
    std::ifstream in(std::string(src ? src : ".") + "/data/teacher/teacher.jsonl");
    std::vector<std::string> out;
    std::string line;
    while (std::getline(in, line))
      out.emplace_back(json::parse(line).at("response").as_string().c_str());
    if (out.empty()) std::abort();  // run from the repository root or set DG_SOURCE_DIR
    return out;
  }();
  return a;
}

int reps() {
  const char* r = std::getenv("DG_BENCH_REPS");
  return r != nullptr && std::atoi(r) > 0 ? std::atoi(r) : 5;
}

// The answer cut into ~4-byte pieces (one token or so), never inside a UTF-8 sequence.
std::vector<std::string> pieces(const std::string& a) {
  std::vector<std::string> out;
  size_t p = 0;
  while (p < a.size()) {
    size_t e = std::min(a.size(), p + 4);
    while (e < a.size() && (static_cast<unsigned char>(a[e]) & 0xc0) == 0x80) ++e;
    out.push_back(a.substr(p, e - p));
    p = e;
  }
  return out;
}

json::object body_of(const std::string& text) {
  return json::object{
      {"id", "chatcmpl-bench"},
      {"object", "chat.completion"},
      {"created", 1700000000},
      {"model", "teacher"},
      {"choices",
       json::array{json::object{{"index", 0},
                                {"message", json::object{{"role", "assistant"}, {"content", text}}},
                                {"logprobs", nullptr},
                                {"finish_reason", "stop"}}}},
      {"usage",
       json::object{{"prompt_tokens", 20}, {"completion_tokens", 300}, {"total_tokens", 320}}}};
}

json::object chunk_of(json::object delta, json::value finish) {
  return json::object{{"id", "chatcmpl-bench"},
                      {"object", "chat.completion.chunk"},
                      {"created", 1700000000},
                      {"model", "teacher"},
                      {"system_fingerprint", "fp_bench"},
                      {"choices", json::array{json::object{{"index", 0},
                                                           {"delta", std::move(delta)},
                                                           {"logprobs", nullptr},
                                                           {"finish_reason", std::move(finish)}}}}};
}

// A streamed answer as the upstream sends it: role chunk, content chunks, finish chunk.
std::vector<json::object> chunks_of(const std::string& a) {
  std::vector<json::object> out;
  out.push_back(chunk_of(json::object{{"role", "assistant"}, {"content", ""}}, nullptr));
  for (auto& p : pieces(a)) out.push_back(chunk_of(json::object{{"content", p}}, nullptr));
  out.push_back(chunk_of(json::object{}, "stop"));
  return out;
}

std::string sse_of(const std::vector<json::object>& chunks) {
  std::string s;
  for (const auto& c : chunks) s += "data: " + json::serialize(c) + "\n\n";
  return s + "data: [DONE]\n\n";
}

// This thread's CPU time in microseconds.
double thread_cpu_us() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) * 1e6 + static_cast<double>(ts.tv_nsec) / 1e3;
}

// Runs `one(answer index)` on every answer reps() times (interleaved), outside
// the timed region except for `one`'s own timed part, which it returns in µs.
template <typename F>
void measure(benchmark::State& state, F one) {
  const size_t n = answers().size();
  const int r = reps();
  std::vector<std::vector<double>> per(n);
  for (auto _ : state) {
    for (int k = 0; k < r; ++k) {
      for (size_t i = 0; i < n; ++i) per[i].push_back(one(i));
    }
  }
  std::vector<double> med;
  double sum = 0;
  for (auto& v : per) {
    std::sort(v.begin(), v.end());
    med.push_back(v[v.size() / 2]);
    sum += med.back();
  }
  std::sort(med.begin(), med.end());
  state.counters["p50_us"] = med[med.size() / 2];
  state.counters["p99_us"] = med[med.size() * 99 / 100];
  state.counters["max_us"] = med.back();
  state.counters["mean_us"] = sum / static_cast<double>(med.size());
}

double strength_of(const benchmark::State& state) {
  return static_cast<double>(state.range(0)) / 100.0;
}

void BM_Body(benchmark::State& state) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  const double strength = strength_of(state);
  std::vector<json::object> bodies;
  for (const auto& a : answers()) bodies.push_back(body_of(a));
  measure(state, [&](size_t i) {
    json::object b = bodies[i];
    const double c0 = thread_cpu_us();
    WatermarkTransform w(table, key, strength);
    w.on_body(b);
    const double us = thread_cpu_us() - c0;
    benchmark::DoNotOptimize(b);
    return us;
  });
}
BENCHMARK(BM_Body)->Arg(50)->Arg(100)->Iterations(1);

void BM_Stream(benchmark::State& state) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  const double strength = strength_of(state);
  std::vector<std::vector<json::object>> streams;
  for (const auto& a : answers()) streams.push_back(chunks_of(a));
  measure(state, [&](size_t i) {
    std::vector<json::object> s = streams[i];
    std::vector<json::object> extra;
    const double c0 = thread_cpu_us();
    WatermarkTransform w(table, key, strength);
    for (auto& c : s) w.on_chunk(c);
    w.on_stream_end(&s.back(), extra);
    const double us = thread_cpu_us() - c0;
    benchmark::DoNotOptimize(s);
    return us;
  });
}
BENCHMARK(BM_Stream)->Arg(50)->Arg(100)->Iterations(1);

void BM_ChainBody(benchmark::State& state) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  const double strength = strength_of(state);
  std::vector<std::string> raw;
  for (const auto& a : answers()) raw.push_back(json::serialize(body_of(a)));
  measure(state, [&](size_t i) {
    dg::ExchangeContext ctx;
    ctx.transforms().push_back(std::make_unique<WatermarkTransform>(table, key, strength));
    const double c0 = thread_cpu_us();
    json::value v = json::parse(raw[i]);
    dg::pipeline::apply_body_transforms(ctx, v.as_object());
    std::string out = json::serialize(v);
    const double us = thread_cpu_us() - c0;
    benchmark::DoNotOptimize(out);
    return us;
  });
}
BENCHMARK(BM_ChainBody)->Arg(50)->Arg(100)->Iterations(1);

// One streamed response through the StreamTransformer, event by event, as the
// forwarder runs it. Returns the CPU time of the whole response (kTotal), or
// of its slowest event (kWorstEvent: each event timed on its own).
enum class StreamMeasure { kTotal, kWorstEvent };
double run_stream(Transforms& ts, const std::string& sse, StreamMeasure m) {
  std::string out;
  double worst = 0;
  const double c0 = thread_cpu_us();
  dg::pipeline::StreamTransformer tr(ts);
  std::string_view rest = sse;
  while (!rest.empty()) {
    const size_t e = rest.find("\n\n");
    const json::object* parsed = nullptr;
    out.clear();
    const double e0 = m == StreamMeasure::kWorstEvent ? thread_cpu_us() : 0;
    tr.process_event(rest.substr(0, e + 2), out, &parsed);
    if (m == StreamMeasure::kWorstEvent) worst = std::max(worst, thread_cpu_us() - e0);
    benchmark::DoNotOptimize(out);
    rest.remove_prefix(e + 2);
  }
  return m == StreamMeasure::kTotal ? thread_cpu_us() - c0 : worst;
}

// Hides a transform's text path: the StreamTransformer takes the tree path for every event.
struct TreeOnly : dg::ResponseTransform {
  explicit TreeOnly(std::unique_ptr<dg::ResponseTransform> t) : t_(std::move(t)) {}
  void on_body(json::object& b) override { t_->on_body(b); }
  void on_chunk(json::object& c) override { t_->on_chunk(c); }
  void on_stream_end(const json::object* last, std::vector<json::object>& extra) override {
    t_->on_stream_end(last, extra);
  }
  std::unique_ptr<dg::ResponseTransform> t_;
};

enum class Path { kAsShipped, kTree };

// Every answer streamed through the pipeline with a watermark at the benchmark's strength.
void watermarked_streams(benchmark::State& state, StreamMeasure m, Path path) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  const double strength = strength_of(state);
  std::vector<std::string> sse;
  for (const auto& a : answers()) sse.push_back(sse_of(chunks_of(a)));
  measure(state, [&](size_t i) {
    Transforms ts;
    auto w = std::make_unique<WatermarkTransform>(table, key, strength);
    if (path == Path::kTree) {
      ts.push_back(std::make_unique<TreeOnly>(std::move(w)));
    } else {
      ts.push_back(std::move(w));
    }
    return run_stream(ts, sse[i], m);
  });
}

void BM_ChainStream(benchmark::State& state) {
  watermarked_streams(state, StreamMeasure::kTotal, Path::kAsShipped);
}
BENCHMARK(BM_ChainStream)->Arg(50)->Arg(100)->Iterations(1);

void BM_ChainStreamTree(benchmark::State& state) {
  watermarked_streams(state, StreamMeasure::kTotal, Path::kTree);
}
BENCHMARK(BM_ChainStreamTree)->Arg(50)->Arg(100)->Iterations(1);

void BM_ChainStreamNone(benchmark::State& state) {
  std::vector<std::string> sse;
  for (const auto& a : answers()) sse.push_back(sse_of(chunks_of(a)));
  measure(state, [&](size_t i) {
    Transforms ts;
    return run_stream(ts, sse[i], StreamMeasure::kTotal);
  });
}
BENCHMARK(BM_ChainStreamNone)->Iterations(1);

void BM_ChainStreamDelay(benchmark::State& state) {
  watermarked_streams(state, StreamMeasure::kWorstEvent, Path::kAsShipped);
}
BENCHMARK(BM_ChainStreamDelay)->Arg(50)->Arg(100)->Iterations(1);

void BM_ChainStreamTreeDelay(benchmark::State& state) {
  watermarked_streams(state, StreamMeasure::kWorstEvent, Path::kTree);
}
BENCHMARK(BM_ChainStreamTreeDelay)->Arg(50)->Arg(100)->Iterations(1);

// The trace rung's full set on a body: reasoning, watermark (strength 1), log-prob perturbation.
void BM_TraceBody(benchmark::State& state) {
  const auto& table = dg::defend::SynonymTable::builtin();
  const auto key = dg::defend::derive_account_key("bench", "acct");
  const auto lkey = dg::sha256("logprob");
  std::vector<json::object> bodies;
  for (const auto& a : answers())
    bodies.push_back(body_of("<think>Some steps. More steps.</think>" + a));
  const json::object req{
      {"model", "m"}, {"messages", json::array{json::object{{"role", "user"}, {"content", "hi"}}}}};
  measure(state, [&](size_t i) {
    json::object b = bodies[i];
    const double c0 = thread_cpu_us();
    dg::defend::ReasoningTransform r(dg::defend::ReasoningMode::kSummarize);
    WatermarkTransform w(table, key, 1.0);
    dg::defend::LogprobTransform l(lkey, dg::defend::request_fingerprint("acct", req));
    r.on_body(b);
    w.on_body(b);
    l.on_body(b);
    const double us = thread_cpu_us() - c0;
    benchmark::DoNotOptimize(b);
    return us;
  });
}
BENCHMARK(BM_TraceBody)->Iterations(1);

}  // namespace

BENCHMARK_MAIN();
