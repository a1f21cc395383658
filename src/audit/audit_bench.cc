// Micro-benchmark of the audit log: real CPU per record, on the real SQLite
// sink, with the record the gateway benchmark writes (bench/lib/post.lua's
// request and the fixed mock's 390-byte answer).
//
//   audit_bench [--records N] [--rate PER_SEC] [--producers P] [--dir DIR]
//               [--linger-ms MS] [--checkpoint-kb KB] [--page-size BYTES]
//               (AuditLogOptions; defaults as served)
//
// Producers append copies of the record (the copy is made outside the timed
// part), paced at --rate records/s in total (0 = as fast as the backlog
// allows: the backlog then grows to max_backlog, which is not the gateway's
// steady state), then flush. Prints CPU time (user+sys, getrusage) per record:
// `append` = the producers' cost of append() alone (timed around each call,
// so it includes about one clock_gettime); `writer` = every other
// thread of the process (the writer, which also checkpoints; measured as the
// process's CPU minus the producers' and the WAL sampler's); `batch` = the
// writer thread's CPU per write_batch() call, a checkpoint included when one
// is due (p50/p99/max); `wal` = the -wal
// file's size, sampled every 100 ms (largest, at the end, and once a second);
// and wall time.
// Built, not run by ctest.
#include <sys/resource.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "audit/audit_log.h"

namespace dg {
namespace {

// A record as the gateway writes it for bench/lib/post.lua through the fixed
// mock upstream (captured from a bench run; the key id and times vary).
constexpr const char* kLine =
    R"({"ts":"2026-11-26T20:31:07.123Z","account":"bench","key_id":"key_5e1f0c2a9b3","ip":"127.0.0.1","headers_fp":"9f3a1c0e5b7d2468","account_created":"2026-11-26T20:30:59.000Z","endpoint":"/v1/chat/completions","request":{"model":"mock-model","messages":[{"role":"user","content":"Say this is a test."}],"max_tokens":20},"response":{"id":"chatcmpl-mock","model":"mock-model","usage":{"prompt_tokens":9,"completion_tokens":77,"total_tokens":86},"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"This is a test. The quick brown fox jumps over the lazy dog, and the mock upstream answers every request with the same fixed text so that the benchmark measures the proxy rather than a model. It is long enough to look like a short real answer: a few sentences, some punctuation, \"quotes\", and a line break\nso that escaping is exercised too."}}]},"status":200,"latency_ms":0.412,"action":"allow"})";

double thread_cpu_s() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_nsec) * 1e-9;
}

double process_cpu_s() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  auto s = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) * 1e-6;
  };
  return s(u.ru_utime) + s(u.ru_stime);
}

// Thread CPU times of one kind of call: count and p50/p99/max.
class CpuSamples {
 public:
  void add(double us) {
    std::lock_guard<std::mutex> l(mu_);
    us_.push_back(us);
  }
  size_t count() {
    std::lock_guard<std::mutex> l(mu_);
    return us_.size();
  }
  // "n N, CPU p50/p99/max X/Y/Z us".
  std::string summary() {
    std::lock_guard<std::mutex> l(mu_);
    if (us_.empty()) return "n 0";
    std::vector<double> v = us_;
    std::sort(v.begin(), v.end());
    auto at = [&](double q) {
      return v[static_cast<size_t>(q * static_cast<double>(v.size() - 1))];
    };
    char buf[120];
    std::snprintf(buf, sizeof buf, "n %zu, CPU p50/p99/max %.0f/%.0f/%.0f us", v.size(), at(0.5),
                  at(0.99), v.back());
    return buf;
  }

 private:
  std::mutex mu_;
  std::vector<double> us_;
};

// Forwards to the real sink, noting the writer thread's CPU per write_batch()
// (which includes a WAL checkpoint when one is due).
class TimedSink final : public AuditSink {
 public:
  explicit TimedSink(std::unique_ptr<AuditSink> inner) : inner_(std::move(inner)) {}
  Status write_batch(const std::vector<PendingEntry>& batch) override {
    const double c0 = thread_cpu_s();
    Status st = inner_->write_batch(batch);
    batches.add((thread_cpu_s() - c0) * 1e6);
    records.fetch_add(batch.size());
    return st;
  }

  CpuSamples batches;
  std::atomic<size_t> records{0};

 private:
  std::unique_ptr<AuditSink> inner_;
};

int run(int argc, char** argv) {
  long records = 200000, rate = 0, producers = 1;
  AuditLogOptions options;
  std::string dir = "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--records")
      records = std::atol(argv[i + 1]);
    else if (a == "--rate")
      rate = std::atol(argv[i + 1]);
    else if (a == "--producers")
      producers = std::atol(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else if (a == "--linger-ms")
      options.linger = std::atol(argv[i + 1]) * kNsPerMs;
    else if (a == "--checkpoint-kb")
      options.sqlite.checkpoint_bytes = std::atol(argv[i + 1]) * 1024;
    else if (a == "--page-size")
      options.sqlite.page_size = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: audit_bench [--records N] [--rate PER_SEC] [--producers P] [--dir DIR] "
                   "[--linger-ms MS] [--checkpoint-kb KB] [--page-size BYTES]\n");
      return 2;
    }
  }
  if (records <= 0 || producers <= 0 || rate < 0) return 2;
  const std::string path = dir + "/audit_bench_" + std::to_string(::getpid()) + ".db";
  auto rec = parse_exchange_record(kLine);
  if (!rec.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", rec.status().to_string().c_str());
    return 1;
  }
  auto sink = open_sqlite_audit_sink(path, options.sqlite);
  if (!sink.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", sink.status().to_string().c_str());
    return 1;
  }
  auto timed_owner = std::make_unique<TimedSink>(std::move(*sink));
  TimedSink* timed = timed_owner.get();
  auto log = AuditLog::create(std::move(timed_owner), options);
  if (!log.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", log.status().to_string().c_str());
    return 1;
  }

  std::atomic<double> append_cpu{0}, producer_cpu{0};
  auto add = [](std::atomic<double>& a, double v) {
    double cur = a.load();
    while (!a.compare_exchange_weak(cur, cur + v)) {
    }
  };
  std::atomic<long> refused{0};
  // The WAL file's size every 100 ms: the largest, and once a second.
  std::atomic<bool> sampling{true};
  uintmax_t wal_max = 0;
  std::vector<uintmax_t> wal_per_s;
  double sampler_cpu = 0;
  std::thread sampler([&] {
    const double start = thread_cpu_s();
    for (int tick = 1; sampling.load(); ++tick) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
      std::error_code ec;
      const uintmax_t size = std::filesystem::file_size(path + "-wal", ec);
      if (ec) continue;
      wal_max = std::max(wal_max, size);
      if (tick % 10 == 0) wal_per_s.push_back(size);
    }
    sampler_cpu = thread_cpu_s() - start;
  });
  const double cpu0 = process_cpu_s();
  const auto wall0 = std::chrono::steady_clock::now();
  std::vector<std::thread> threads;
  for (long p = 0; p < producers; ++p) {
    threads.emplace_back([&, p] {
      const long n = records / producers + (p < records % producers ? 1 : 0);
      const auto period = rate > 0 ? std::chrono::nanoseconds(1'000'000'000LL * producers / rate)
                                   : std::chrono::nanoseconds(0);
      auto next = std::chrono::steady_clock::now();
      constexpr long kChunk = 64;
      std::vector<ExchangeRecord> chunk;
      double cpu = 0;
      const double start = thread_cpu_s();
      for (long done = 0; done < n;) {
        const long k = std::min(kChunk, n - done);
        chunk.assign(static_cast<size_t>(k), *rec);
        for (auto& r : chunk) r.ts += done * kNsPerMs;
        for (auto& r : chunk) {
          if (rate > 0) {
            next += period;
            std::this_thread::sleep_until(next);
          }
          const double c1 = thread_cpu_s();
          Status st = (*log)->append(std::move(r));
          cpu += thread_cpu_s() - c1;
          while (!st.ok()) {  // backlog full: wait for the writer
            refused.fetch_add(1);
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
            st = (*log)->append(std::move(r));
          }
        }
        done += k;
      }
      add(append_cpu, cpu);
      add(producer_cpu, thread_cpu_s() - start);
    });
  }
  for (auto& t : threads) t.join();
  Status st = (*log)->flush(60 * kNsPerSec);
  const double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  sampling.store(false);
  sampler.join();
  const double cpu_total = process_cpu_s() - cpu0;
  auto c = (*log)->counters();
  std::error_code ec;
  const auto wal_bytes = std::filesystem::file_size(path + "-wal", ec);
  wal_max = std::max(wal_max, wal_bytes);
  const double per_batch = static_cast<double>(timed->records.load()) /
                           static_cast<double>(std::max<size_t>(1, timed->batches.count()));
  const std::string batches = timed->batches.summary();
  log->reset();
  for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path + s);
  if (!st.ok()) {
    std::fprintf(stderr, "audit_bench: %s\n", st.to_string().c_str());
    return 1;
  }
  std::printf("records %ld  producers %ld  rate %ld/s  written %lld  refused-retries %ld\n",
              records, producers, rate, static_cast<long long>(c.written), refused.load());
  std::printf("append  %.0f ns CPU/record (producer threads, append() only)\n",
              append_cpu.load() / static_cast<double>(records) * 1e9);
  std::printf("wall    %.2f s\n", wall);
  std::printf("wal     %.1f MB largest, %.1f MB at the end; each second:",
              static_cast<double>(wal_max) / 1e6, static_cast<double>(wal_bytes) / 1e6);
  for (uintmax_t b : wal_per_s) std::printf(" %.1f", static_cast<double>(b) / 1e6);
  std::printf("\n");
  std::printf("batch   %s, %.1f records/batch\n", batches.c_str(), per_batch);
  std::printf("writer  %.0f ns CPU/record (all other threads: the writer, checkpoints included)\n",
              (cpu_total - producer_cpu.load() - sampler_cpu) / static_cast<double>(records) * 1e9);
  return 0;
}

}  // namespace
}  // namespace dg

int main(int argc, char** argv) { return dg::run(argc, argv); }
