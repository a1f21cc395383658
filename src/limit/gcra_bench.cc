// Hot-path micro-benchmarks: authenticate() (cache hit) and the limiter's
// admit() for one request. Built, not run by ctest:
//   build/src/limit/gcra_bench
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "limit/limiter.h"
#include "store/memory/memory_account_store.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg {
namespace {

std::string account_name(int i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "acct%d", i);
  return buf;
}

void BM_GcraAcquire(benchmark::State& state) {
  static GcraStore store(1'000'000);
  GcraRate rate{1e9, 60};  // never refuses: measures the bookkeeping
  std::vector<LimitKey> keys;
  for (int i = 0; i < 10000; ++i) keys.push_back(LimitKey::of("acct", account_name(i), "rpm"));
  ManualClock clock(1'700'000'000LL * kNsPerSec);
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    benchmark::DoNotOptimize(store.acquire(keys[i++ % keys.size()], rate, 1, clock.now()));
  }
}
BENCHMARK(BM_GcraAcquire)->Threads(1)->Threads(2);

void BM_LimiterAdmit(benchmark::State& state) {
  static ManualClock clock(1'700'000'000LL * kNsPerSec);
  static LimitsConfig limits;
  static Limiter limiter(limits, clock);
  static TierConfig tier = [] {
    TierConfig t;
    t.requests_per_minute = 1'000'000'000;
    t.tokens_per_minute = 1'000'000'000;
    t.ramp.start_fraction = 0.5;
    t.ramp.full_after_days = 14;
    return t;
  }();
  std::vector<std::string> names;
  for (int i = 0; i < 10000; ++i) names.push_back(account_name(i));
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    AdmitRequest r;
    r.account = names[i++ % names.size()];
    r.tier = &tier;
    r.account_created = clock.now() - 86400LL * kNsPerSec;  // ramping: one more lookup
    r.estimated_tokens = 300;
    Admission a = limiter.admit(r);
    benchmark::DoNotOptimize(a);
  }
}
BENCHMARK(BM_LimiterAdmit)->Threads(1)->Threads(2);

void BM_AuthenticateSqliteCached(benchmark::State& state) {
  static std::vector<std::string> secrets;
  static std::unique_ptr<AccountStore> store = [] {
    auto path = std::filesystem::temp_directory_path() / "dg_gcra_bench.db";
    for (const char* s : {"", "-wal", "-shm"}) std::filesystem::remove(path.string() + s);
    SqliteAccountStoreOptions o;
    o.path = path.string();
    auto r = open_sqlite_account_store(o, SystemClock::instance());
    if (!r.ok()) std::abort();
    for (int i = 0; i < 1000; ++i) {
      (void)(*r)->create_account(account_name(i), "standard");
      secrets.push_back((*r)->create_key(account_name(i))->secret);
    }
    return std::move(r).value();
  }();
  size_t i = static_cast<size_t>(state.thread_index()) * 7919;
  for (auto _ : state) {
    auto r = store->authenticate(secrets[i++ % secrets.size()]);
    benchmark::DoNotOptimize(r);
  }
}
BENCHMARK(BM_AuthenticateSqliteCached)->Threads(1)->Threads(2);

}  // namespace
}  // namespace dg

BENCHMARK_MAIN();
