// Engine speed and memory benchmark (figures in docs/detection.md).
//   engine_bench TRACE.jsonl[.gz]   records/s of parse + features + engine (CPU time, one core)
//   engine_bench --accounts N       memory per tracked account (N synthetic accounts)
#include <sys/resource.h>
#include <zlib.h>

#include <boost/json.hpp>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

#include "engine/engine.h"

using namespace dg;

static double cpu_now() {
  timespec t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  return t.tv_sec + t.tv_nsec * 1e-9;
}
static long peak_rss_kb() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_maxrss;
}

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: engine_bench TRACE | --accounts N\n");
    return 2;
  }
  (void)engine::CapabilityClassifier::builtin();  // training is start-up, not per record
  if (!std::strcmp(argv[1], "--accounts")) {
    long n = argc > 2 ? std::atol(argv[2]) : 100000;
    long rss0 = peak_rss_kb();
    engine::Engine e;
    ExchangeRecord r;
    r.endpoint = "/v1/chat/completions";
    r.request = boost::json::object{{"model", "m"},
                                    {"messages", boost::json::array{boost::json::object{{"role", "user"}, {"content", "hello there"}}}}};
    for (long i = 0; i < n; ++i) {
      r.ts = 1'769'947'200LL * kNsPerSec + i * kNsPerMs;
      r.account = "acct_" + std::to_string(i);
      r.ip = "10." + std::to_string(i % 250) + ".0.1";
      e.observe(r);
    }
    long rss1 = peak_rss_kb();
    std::printf("%ld accounts: engine reports %.0f bytes/account; peak RSS grew %.0f bytes/account (%ld MiB total)\n", n,
                static_cast<double>(e.memory_bytes()) / n, (rss1 - rss0) * 1024.0 / n, rss1 / 1024);
    return 0;
  }
  gzFile f = gzopen(argv[1], "rb");
  if (!f) return 2;
  std::vector<std::string> lines;
  std::string cur;
  char buf[1 << 16];
  int k;
  while ((k = gzread(f, buf, sizeof buf)) > 0) {
    for (int i = 0; i < k; ++i) {
      if (buf[i] == '\n') {
        lines.push_back(std::move(cur));
        cur.clear();
      } else {
        cur.push_back(buf[i]);
      }
    }
  }
  gzclose(f);
  engine::Engine e;
  double t0 = cpu_now();
  size_t n = 0;
  for (const auto& l : lines) {
    auto r = parse_exchange_record(l);
    if (!r.ok()) continue;
    e.observe(*r);
    ++n;
  }
  double t1 = cpu_now();
  std::printf("%zu records, %zu accounts: %.0f records/s per core (%.2f us/record, CPU time), peak RSS %ld MiB\n", n,
              e.account_count(), n / (t1 - t0), (t1 - t0) * 1e6 / n, peak_rss_kb() / 1024);
  return 0;
}
