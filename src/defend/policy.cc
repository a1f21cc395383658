#include "defend/policy.h"

#include <fmt/format.h>

#include "defend/verify.h"

namespace dg::defend {

double TierThresholds::up(Action a) const {
  switch (a) {
    case Action::kAllow: return 0.0;
    case Action::kThrottle: return throttle;
    case Action::kDegrade: return degrade;
    case Action::kTrace: return trace;
    case Action::kBlock: return block;
  }
  return 2.0;
}

Result<Action> parse_action(std::string_view s) {
  for (Action a : {Action::kAllow, Action::kThrottle, Action::kDegrade, Action::kTrace, Action::kBlock}) {
    if (s == action_name(a)) return a;
  }
  return invalid_argument("action must be allow, throttle, degrade, trace or block");
}

const TierThresholds& PolicyConfig::thresholds(std::string_view tier) const {
  static const TierThresholds kDefault;
  if (auto it = tiers.find(tier); it != tiers.end()) return it->second;
  if (auto it = tiers.find("default"); it != tiers.end()) return it->second;
  return kDefault;
}

Result<PolicyConfig> PolicyConfig::from_config(const Config& config) {
  PolicyConfig p;
  ConfigSection s(config, "policy");
  p.hysteresis = s.get_double("hysteresis", p.hysteresis, 0.0, 1.0);
  p.min_dwell = static_cast<TimeNs>(s.get_double("min_dwell_seconds", 600, 0, 1e9) * kNsPerSec);
  for (auto& a : s.get_string_list("allow_accounts", {})) p.allow_accounts.insert(a);
  p.throttle_multiplier = s.get_double("throttle_multiplier", p.throttle_multiplier, 0.001, 1.0);
  const std::string wf = s.get_string("watermark_from", "throttle");
  if (wf == "off") {
    p.watermark_off = true;
  } else if (auto a = parse_action(wf); a.ok()) {
    p.watermark_from = *a;
  } else {
    s.fail("watermark_from", "must be off, allow, throttle, degrade, trace or block");
  }
  p.watermark_strength = s.get_double("watermark_strength", p.watermark_strength, 0.0, 1.0);
  p.trace_watermark_strength = s.get_double("trace_watermark_strength", p.trace_watermark_strength, 0.0, 1.0);
  const std::string key_file = s.get_string("watermark_master_key_file", "");
  if (auto secret = load_master_secret(key_file); secret.ok()) {
    p.master_secret = *secret;
  } else if (!key_file.empty()) {
    s.fail("watermark_master_key_file", secret.status().message());
  }
  if (auto m = parse_reasoning_mode(s.get_string("reasoning", "summarize")); m.ok()) {
    p.reasoning = *m;
  } else {
    s.fail("reasoning", m.status().message());
  }
  p.reasoning_summary_words = static_cast<int>(s.get_int("reasoning_summary_words", p.reasoning_summary_words, 1, 200));
  p.max_tokens_cap = s.get_int("max_tokens_cap", p.max_tokens_cap, 0);
  p.logprob_sigma = s.get_double("logprob_sigma", p.logprob_sigma, 0.0, 100.0);
  p.canary_db = s.get_string("canary_db", "");
  p.max_tracked = static_cast<size_t>(s.get_int("max_tracked_accounts", 1'000'000, 16));
  if (ConfigSection th = s.sub("thresholds"); th.present()) {
    for (const auto& tier : th.keys()) {
      ConfigSection t = th.sub(tier);
      TierThresholds v;
      v.throttle = t.get_double("throttle", v.throttle, 0.0, 2.0);
      v.degrade = t.get_double("degrade", v.degrade, 0.0, 2.0);
      v.trace = t.get_double("trace", v.trace, 0.0, 2.0);
      v.block = t.get_double("block", v.block, 0.0, 2.0);
      if (!(v.throttle <= v.degrade && v.degrade <= v.trace && v.trace <= v.block)) {
        t.fail("", "thresholds must rise: throttle <= degrade <= trace <= block");
      }
      DG_RETURN_IF_ERROR(t.finish());
      p.tiers[tier] = v;
    }
    DG_RETURN_IF_ERROR(th.finish());
  }
  if (ConfigSection ac = s.sub("accounts"); ac.present()) {
    for (const auto& id : ac.keys()) {
      auto a = parse_action(ac.get_string(id, "allow"));
      if (!a.ok()) ac.fail(id, a.status().message());
      else p.overrides[id] = *a;
    }
    DG_RETURN_IF_ERROR(ac.finish());
  }
  DG_RETURN_IF_ERROR(s.finish());
  return p;
}

PolicyLadder::Shard& PolicyLadder::shard(const std::string& account) {
  return shards_[std::hash<std::string>{}(account) % shards_.size()];
}

PolicyDecision PolicyLadder::decide(const std::string& account, std::string_view tier, double risk, TimeNs now) {
  PolicyDecision d;
  if (config_.allow_accounts.count(account)) {
    d.reason = "allow-listed (licensed)";
    return d;
  }
  if (auto it = config_.overrides.find(account); it != config_.overrides.end()) {
    d.action = it->second;
    d.reason = "admin override";
    return d;
  }
  const TierThresholds& th = config_.thresholds(tier);
  Shard& sh = shard(account);
  std::lock_guard lock(sh.mu);
  auto it = sh.states.find(account);
  if (it == sh.states.end()) {
    if (sh.states.size() >= config_.max_tracked / shards_.size()) sh.states.erase(sh.states.begin());
    it = sh.states.emplace(account, State{Action::kAllow, now}).first;
  }
  State& st = it->second;
  // Highest rung the risk reaches going up.
  Action target_up = Action::kAllow;
  for (Action a : {Action::kThrottle, Action::kDegrade, Action::kTrace, Action::kBlock}) {
    if (risk >= th.up(a)) target_up = a;
  }
  Action next = st.action;
  if (target_up > st.action) {
    next = target_up;
    d.reason = fmt::format("risk {:.2f} >= {} {:.2f} (tier {})", risk, action_name(next), th.up(next), tier);
  } else if (st.action != Action::kAllow && risk < th.up(st.action) - config_.hysteresis) {
    if (now - st.since >= config_.min_dwell) {
      Action down = Action::kAllow;
      for (Action a : {Action::kThrottle, Action::kDegrade, Action::kTrace, Action::kBlock}) {
        if (risk >= th.up(a) - config_.hysteresis) down = a;
      }
      next = down;
      d.reason = fmt::format("risk {:.2f} < {} {:.2f} - hysteresis {:.2f} after dwell; down to {}", risk,
                             action_name(st.action), th.up(st.action), config_.hysteresis, action_name(next));
    } else {
      d.reason = fmt::format("risk {:.2f} fell but dwell on {} not over", risk, action_name(st.action));
    }
  } else {
    d.reason = fmt::format("risk {:.2f}, stays {} (tier {})", risk, action_name(st.action), tier);
  }
  if (next != st.action) {
    st.action = next;
    st.since = now;
    d.changed = true;
  }
  d.action = st.action;
  return d;
}

}  // namespace dg::defend
