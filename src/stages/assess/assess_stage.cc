#include "stages/assess/assess_stage.h"

#include <atomic>
#include <condition_variable>
#include <fmt/format.h>
#include <mutex>
#include <thread>
#include <vector>

#include "common/hash.h"
#include "common/thread_priority.h"
#include "engine/analyze.h"
#include "limit/gcra.h"

namespace dg {

namespace {

using engine::Assessment;
using engine::RecordFeatures;

struct Item {
  std::string account;
  RecordFeatures f;
};

// Dmitry Vyukov's bounded MPMC queue (used MPSC here): one CAS per push/pop.
class Ring {
 public:
  explicit Ring(size_t cap) {
    size_t n = 1;
    while (n < cap) n <<= 1;
    mask_ = n - 1;
    cells_ = std::make_unique<Cell[]>(n);
    for (size_t i = 0; i < n; ++i) cells_[i].seq.store(i, std::memory_order_relaxed);
  }
  bool push(Item&& it) {
    size_t pos = enq_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      size_t seq = c.seq.load(std::memory_order_acquire);
      intptr_t dif = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos);
      if (dif == 0) {
        if (enq_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          c.item = std::move(it);
          c.seq.store(pos + 1, std::memory_order_release);
          return true;
        }
      } else if (dif < 0) {
        return false;  // full
      } else {
        pos = enq_.load(std::memory_order_relaxed);
      }
    }
  }
  bool pop(Item& out) {
    size_t pos = deq_.load(std::memory_order_relaxed);
    for (;;) {
      Cell& c = cells_[pos & mask_];
      size_t seq = c.seq.load(std::memory_order_acquire);
      intptr_t dif = static_cast<intptr_t>(seq) - static_cast<intptr_t>(pos + 1);
      if (dif == 0) {
        if (deq_.compare_exchange_weak(pos, pos + 1, std::memory_order_relaxed)) {
          out = std::move(c.item);
          c.seq.store(pos + mask_ + 1, std::memory_order_release);
          return true;
        }
      } else if (dif < 0) {
        return false;  // empty
      } else {
        pos = deq_.load(std::memory_order_relaxed);
      }
    }
  }

 private:
  struct Cell {
    std::atomic<size_t> seq;
    Item item;
  };
  std::unique_ptr<Cell[]> cells_;
  size_t mask_ = 0;
  alignas(64) std::atomic<size_t> enq_{0};
  alignas(64) std::atomic<size_t> deq_{0};
};

// Published per account slot (64 bits): tag(20) | verdict(2) | risk(10, /1023) | cluster root(32).
// Per cluster root: risk (/1023) and size, in a second table.
constexpr uint64_t pack(uint64_t tag, engine::Verdict v, double risk, uint32_t root) {
  return (tag & 0xfffff) << 44 | (static_cast<uint64_t>(v) & 3) << 42 |
         (static_cast<uint64_t>(risk * 1023.0 + 0.5) & 0x3ff) << 32 | root;
}

class AssessStageImpl final : public AssessStage {
 public:
  AssessStageImpl(const AssessConfig& c, Clock& clock, StageMode mode)
      : cfg_(c), clock_(clock), mode_(mode), engine_(c.engine), ring_(c.queue_capacity),
        slots_(std::make_unique<std::atomic<uint64_t>[]>(c.published_slots)),
        clusters_(std::make_unique<std::atomic<uint64_t>[]>(c.published_slots)), limits_(1 << 20) {
    for (size_t i = 0; i < c.published_slots; ++i) {
      slots_[i].store(0, std::memory_order_relaxed);
      clusters_[i].store(0, std::memory_order_relaxed);
    }
    worker_ = std::thread([this] { run(); });
  }
  ~AssessStageImpl() override {
    {
      std::lock_guard<std::mutex> g(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    worker_.join();
  }

  std::string_view name() const override { return "assess"; }

  FilterStatus on_request(ExchangeContext& ctx) override {
    const std::string& account = ctx.account.account;
    PublishedRisk p = published(account);
    ctx.risk = std::max(ctx.risk, p.risk);
    // The capability of this prompt (the same classifier the engine uses).
    RecordFeatures f = features_of(ctx);
    ctx.capability = engine::capability_name(f.capability);
    ctx.notes.emplace_back("assess", fmt::format("risk {:.2f} {}{}, capability {}", p.risk,
                                                 engine::verdict_name(p.verdict),
                                                 p.cluster_size > 1 ? fmt::format(", cluster of {}", p.cluster_size) : "",
                                                 ctx.capability));
    double mult = p.risk > 0.5 ? std::max(0.1, 1.0 - 0.9 * (p.risk - 0.5) / 0.5) : 1.0;
    TimeNs now = clock_.now();
    if (cfg_.capability_rpm > 0) {
      GcraRate rate{cfg_.capability_rpm * mult, 60};
      auto d = limits_.acquire(LimitKey::of("acct", account, "cap:" + ctx.capability), rate, 1, now);
      if (!d.allowed && refuse(ctx, "capability_rate_limited",
                               "Rate limit reached for capability '" + ctx.capability + "' on account " + account,
                               d.retry_after))
        return FilterStatus::kStop;
    }
    if (cfg_.cluster_rpm > 0 && p.cluster_size > 1) {
      GcraRate rate{cfg_.cluster_rpm * mult, 60};
      auto d = limits_.acquire(LimitKey::of("cluster", std::to_string(p.cluster), "rpm"), rate, 1, now);
      if (!d.allowed && refuse(ctx, "cluster_rate_limited",
                               "Rate limit reached for the group of linked accounts of " + account, d.retry_after))
        return FilterStatus::kStop;
    }
    return FilterStatus::kContinue;
  }

  void on_complete(ExchangeContext& ctx) override {
    if (ctx.account.account.empty()) return;  // unauthenticated: nothing to learn
    Item it{ctx.account.account, features_of(ctx)};
    if (!ring_.push(std::move(it))) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    pushed_.fetch_add(1, std::memory_order_release);
    if (sleeping_.load(std::memory_order_acquire)) cv_.notify_one();
  }

  PublishedRisk published(std::string_view account) const override {
    uint64_t h = hash64(account, 0xa55e55);
    uint64_t v = slots_[h % cfg_.published_slots].load(std::memory_order_acquire);
    PublishedRisk p;
    if (v == 0 || (v >> 44) != ((h >> 40) & 0xfffff)) return p;
    p.known = true;
    p.verdict = static_cast<engine::Verdict>((v >> 42) & 3);
    p.risk = static_cast<double>((v >> 32) & 0x3ff) / 1023.0;
    uint32_t root = static_cast<uint32_t>(v);
    if (root != 0) {
      uint64_t c = clusters_[root % cfg_.published_slots].load(std::memory_order_acquire);
      if (c) {
        p.cluster = root;
        p.cluster_size = static_cast<uint32_t>(c >> 16);
        p.risk = std::max(p.risk, static_cast<double>(c & 0x3ff) / 1023.0);
        if ((c >> 10) & 1) p.verdict = engine::Verdict::kAttack;
      }
    }
    return p;
  }

  void flush() override {
    std::unique_lock<std::mutex> g(mu_);
    uint64_t target = pushed_.load(std::memory_order_acquire);
    cv_.notify_all();
    done_cv_.wait(g, [&] { return processed_ >= target; });
  }

  engine::EngineReport report() override {
    flush();
    std::lock_guard<std::mutex> g(engine_mu_);
    return engine_.report();
  }

  uint64_t dropped() const override { return dropped_.load(std::memory_order_relaxed); }

 private:
  bool refuse(ExchangeContext& ctx, const std::string& code, const std::string& message, TimeNs retry) {
    if (mode_ != StageMode::kEnforce) {
      ctx.notes.emplace_back("assess", "shadow: would reply 429 " + code);
      return false;
    }
    int64_t secs = retry == INT64_MAX ? 60 : std::max<int64_t>(1, (retry + kNsPerSec - 1) / kNsPerSec);
    ctx.reply(LocalReply{429, "rate_limit_error", code, message + ". Please try again later.",
                         {{"Retry-After", std::to_string(secs)}}});
    return true;
  }

  RecordFeatures features_of(const ExchangeContext& ctx) const {
    engine::RecordView v;
    v.ts = ctx.arrived;
    v.request = &ctx.request;
    if (ctx.prompt_tokens > 0 || ctx.completion_tokens > 0) {
      v.prompt_tokens = ctx.prompt_tokens;
      v.completion_tokens = ctx.completion_tokens;
    }
    v.ip = ctx.client_ip;
    v.user_agent = ctx.user_agent;
    v.headers_fp = ctx.headers_fp;
    v.account_created = ctx.account.created;
    thread_local std::string scratch;
    return engine::extract_features(v, engine::CapabilityClassifier::builtin(), scratch);
  }

  void run() {
    // Behind the I/O threads, like the audit writer (common/thread_priority.h):
    // a full ring only costs the engine an exchange (counted), never a request
    // its latency.
    set_current_thread_name("dg-engine");
    lower_current_thread_priority(ThreadPriority::kBackground);
    Item it;
    for (;;) {
      bool any = false;
      while (ring_.pop(it)) {
        any = true;
        Assessment a;
        {
          std::lock_guard<std::mutex> g(engine_mu_);  // only the engine thread and report() take it
          a = engine_.observe(it.account, it.f);
        }
        publish(it.account, a);
        std::lock_guard<std::mutex> g(mu_);
        ++processed_;
        done_cv_.notify_all();
      }
      std::unique_lock<std::mutex> g(mu_);
      if (stop_ && processed_ >= pushed_.load()) return;
      if (!any) {
        sleeping_.store(true, std::memory_order_release);
        cv_.wait_for(g, std::chrono::milliseconds(5));
        sleeping_.store(false, std::memory_order_release);
      }
    }
  }

  void publish(const std::string& account, const Assessment& a) {
    uint64_t h = hash64(account, 0xa55e55);
    // Cluster root: the engine index + 1 of the account's root (0 = none).
    uint32_t root = 0;
    if (a.cluster_size > 1) {
      root = a.cluster_root + 1;
      uint64_t c = static_cast<uint64_t>(a.cluster_size) << 16 |
                   (a.cluster_verdict == engine::Verdict::kAttack ? 1u << 10 : 0u) |
                   (static_cast<uint64_t>(a.cluster_risk * 1023.0 + 0.5) & 0x3ff);
      clusters_[root % cfg_.published_slots].store(c, std::memory_order_release);
    }
    slots_[h % cfg_.published_slots].store(pack(h >> 40, a.verdict, a.risk, root),
                                           std::memory_order_release);
  }

  AssessConfig cfg_;
  Clock& clock_;
  StageMode mode_;
  engine::Engine engine_;
  std::mutex engine_mu_;
  Ring ring_;
  std::unique_ptr<std::atomic<uint64_t>[]> slots_;
  std::unique_ptr<std::atomic<uint64_t>[]> clusters_;
  GcraStore limits_;
  std::thread worker_;
  std::mutex mu_;
  std::condition_variable cv_, done_cv_;
  std::atomic<bool> sleeping_{false};
  std::atomic<uint64_t> pushed_{0}, dropped_{0};
  uint64_t processed_ = 0;
  bool stop_ = false;
};

}  // namespace

std::unique_ptr<AssessStage> AssessStage::create(const AssessConfig& config, Clock& clock, StageMode mode) {
  return std::make_unique<AssessStageImpl>(config, clock, mode);
}

Result<AssessConfig> assess_config_from(const Config& config) {
  AssessConfig c;
  DG_ASSIGN_OR_RETURN(c.engine, engine::engine_config_from(config));
  ConfigSection s(config, "engine");
  c.capability_rpm = s.get_double("capability_rpm", 0, 0, 1e9);
  c.cluster_rpm = s.get_double("cluster_rpm", 0, 0, 1e9);
  c.queue_capacity = static_cast<size_t>(s.get_int("queue_capacity", 65536, 16, 1 << 24));
  return c;
}

Result<std::unique_ptr<Stage>> make_assess_stage(const Config& config, Clock& clock, StageMode mode) {
  DG_ASSIGN_OR_RETURN(auto c, assess_config_from(config));
  return std::unique_ptr<Stage>(AssessStage::create(c, clock, mode));
}

}  // namespace dg
