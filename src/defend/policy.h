// The countermeasure ladder: allow → throttle → degrade → trace → block,
// driven by risk (the assess stage puts max(account risk, cluster risk) in
// ctx.risk), with per-tier thresholds and hysteresis so accounts don't flap.
//
// Up: an account moves up at once to the highest rung whose threshold its
// risk reaches. Down: only when risk has fallen below (threshold − hysteresis)
// of its current rung AND it has stayed on that rung for min_dwell; it then
// drops to the highest rung whose (threshold − hysteresis) the risk still
// reaches. Allow-listed accounts (licensed distillers) always get allow; an
// admin override pins an account to a rung.
//
// Config ([policy] in the TOML file; every key optional):
//   thresholds.<tier> = { throttle = 0.5, degrade = 0.7, trace = 0.85, block = 0.97 }
//                       (tier "default" applies to tiers not listed)
//   hysteresis = 0.1            risk margin for going down
//   min_dwell_seconds = 600     time on a rung before going down
//   allow_accounts = [...]      always allow
//   accounts.<id> = "trace"     admin override
//   throttle_multiplier = 0.25  share of its tier's limits (requests and tokens per
//                               minute) an account keeps at throttle and above; the
//                               limit stage applies it (ctx.limit_multiplier)
//   watermark_from = "throttle" lowest rung that watermarks ("off" = never)
//   watermark_strength = 0.5    share of eligible words forced green
//   trace_watermark_strength = 1.0
//   watermark_master_key_file   ("" = $DG_WATERMARK_MASTER_KEY; no key = no watermark)
//   reasoning = "summarize"     degrade/trace: keep | withhold | summarize
//   reasoning_summary_words = 30  summarize: at most this many words of the
//                               reasoning's first sentence (1..200)
//   max_tokens_cap = 1024       degrade/trace output cap (0 = none)
//   logprob_sigma = 1.5         degrade/trace log-prob noise scale (nats)
//   canary_db = ""              canary registry SQLite file ("" = storage.sqlite_path)
//   max_tracked_accounts = 1e6  ladder state bound
//
// Thread-safety: PolicyLadder::decide() is thread-safe (sharded locks);
// memory is bounded by max_tracked accounts (when a shard is full an arbitrary
// entry of it is dropped; a dropped account restarts from allow, and climbs
// back at once on its next request if its risk is still high).
#pragma once

#include <array>
#include <map>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "config/config.h"
#include "defend/degrade.h"
#include "distillguard/clock.h"
#include "distillguard/stage.h"

namespace dg::defend {

struct TierThresholds {
  double throttle = 0.5, degrade = 0.7, trace = 0.85, block = 0.97;
  double up(Action a) const;
};

struct PolicyConfig {
  std::map<std::string, TierThresholds, std::less<>> tiers;  // "default" = fallback
  double hysteresis = 0.1;
  TimeNs min_dwell = 600 * kNsPerSec;
  std::unordered_set<std::string> allow_accounts;
  std::map<std::string, Action, std::less<>> overrides;
  double throttle_multiplier = 0.25;
  Action watermark_from = Action::kThrottle;
  bool watermark_off = false;
  double watermark_strength = 0.5;
  double trace_watermark_strength = 1.0;
  std::string master_secret;  // "" = watermark disabled
  ReasoningMode reasoning = ReasoningMode::kSummarize;
  int reasoning_summary_words = 30;
  int64_t max_tokens_cap = 1024;
  double logprob_sigma = 1.5;
  size_t max_tracked = 1'000'000;
  std::string canary_db;  // "" = storage.sqlite_path

  const TierThresholds& thresholds(std::string_view tier) const;
  // Reads [policy]; errors carry the key and line.
  static Result<PolicyConfig> from_config(const Config& config);
};

Result<Action> parse_action(std::string_view s);

struct PolicyDecision {
  Action action = Action::kAllow;
  std::string reason;  // e.g. "risk 0.91 >= trace 0.85 (tier new)"
  bool changed = false;  // the account moved to another rung
};

class PolicyLadder {
 public:
  explicit PolicyLadder(PolicyConfig config) : config_(std::move(config)) {}
  PolicyDecision decide(const std::string& account, std::string_view tier, double risk, TimeNs now);
  const PolicyConfig& config() const { return config_; }

 private:
  struct State {
    Action action = Action::kAllow;
    TimeNs since = 0;
  };
  struct Shard {
    std::mutex mu;
    std::unordered_map<std::string, State> states;
  };
  Shard& shard(const std::string& account);

  PolicyConfig config_;
  std::array<Shard, 16> shards_;
};

}  // namespace dg::defend
