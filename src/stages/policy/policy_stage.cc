#include "stages/policy/policy_stage.h"

#include <fmt/format.h>

#include <algorithm>

#include "defend/degrade.h"
#include "defend/watermark_transform.h"

namespace dg {
namespace {

class PolicyStage final : public Stage {
 public:
  PolicyStage(defend::PolicyConfig config, Clock& clock, StageMode mode,
              std::shared_ptr<defend::CanaryRegistry> registry)
      : ladder_(std::move(config)), clock_(clock), mode_(mode), registry_(std::move(registry)),
        logprob_key_(hmac_sha256(ladder_.config().master_secret.empty() ? std::string("distillguard-logprob")
                                                                        : ladder_.config().master_secret,
                                 "distillguard/logprob/v1")) {}

  std::string_view name() const override { return "policy"; }

  FilterStatus on_request(ExchangeContext& ctx) override {
    const TimeNs now = clock_.now();
    const std::string& account = ctx.account.account;
    defend::PolicyDecision d = ladder_.decide(account, ctx.account.tier, ctx.risk, now);
    if (mode_ != StageMode::kEnforce) {
      ctx.notes.emplace_back("policy", fmt::format("shadow: would {}: {}", action_name(d.action), d.reason));
      return FilterStatus::kContinue;
    }
    ctx.action = d.action;
    const auto& cfg = ladder_.config();
    if (d.action == Action::kBlock) {
      ctx.notes.emplace_back("policy", fmt::format("block: {}", d.reason));
      ctx.reply(LocalReply{403, "permission_error", "blocked_by_policy",
                           "This account's access has been suspended by policy.", {}});
      return FilterStatus::kStop;
    }
    // Throttling is the limit stage's job (one limiter): the ladder only says
    // what share of its tier's limits the account keeps.
    const double share = d.action >= Action::kThrottle ? cfg.throttle_multiplier : 1.0;
    ctx.limit_multiplier = share;
    ctx.notes.emplace_back("policy", share < 1.0 ? fmt::format("{}: {}; limits x{:.2f}", action_name(d.action),
                                                               d.reason, share)
                                                 : fmt::format("{}: {}", action_name(d.action), d.reason));
    if (d.action >= Action::kDegrade) {
      if (cfg.reasoning != defend::ReasoningMode::kKeep) {
        ctx.add_transform(std::make_unique<defend::ReasoningTransform>(cfg.reasoning, cfg.reasoning_summary_words));
      }
      if (cfg.max_tokens_cap > 0 && defend::cap_output_tokens(ctx.request, cfg.max_tokens_cap)) {
        ctx.request_modified = true;
      }
    }
    if (d.action == Action::kTrace && !cfg.master_secret.empty()) {
      const std::string kind = defend::classify_prompt(defend::last_user_text(ctx.request));
      if (!kind.empty()) {
        ctx.add_transform(std::make_unique<defend::CanaryTransform>(
            account, kind, defend::canary_signature(cfg.master_secret, account, kind), registry_.get(), now));
        ctx.notes.emplace_back("canary", kind);
      }
    }
    if (!cfg.watermark_off && !cfg.master_secret.empty() && d.action >= cfg.watermark_from) {
      const double strength = d.action == Action::kTrace ? cfg.trace_watermark_strength : cfg.watermark_strength;
      ctx.add_transform(std::make_unique<defend::WatermarkTransform>(
          defend::SynonymTable::builtin(), defend::derive_account_key(cfg.master_secret, account), strength));
      ctx.notes.emplace_back("watermark", fmt::format("strength {:.2f}", strength));
    }
    if (d.action >= Action::kDegrade && cfg.logprob_sigma > 0 && asks_logprobs(ctx.request)) {
      ctx.add_transform(std::make_unique<defend::LogprobTransform>(
          logprob_key_, defend::request_fingerprint(account, ctx.request), cfg.logprob_sigma));
    }
    return FilterStatus::kContinue;
  }

 private:
  static bool asks_logprobs(const boost::json::object& r) {
    const auto* v = r.if_contains("logprobs");
    return v && ((v->is_bool() && v->as_bool()) || v->is_int64());
  }

  defend::PolicyLadder ladder_;
  Clock& clock_;
  StageMode mode_;
  std::shared_ptr<defend::CanaryRegistry> registry_;
  Sha256 logprob_key_;
};

}  // namespace

std::unique_ptr<Stage> make_policy_stage_with(defend::PolicyConfig config, Clock& clock, StageMode mode,
                                              std::shared_ptr<defend::CanaryRegistry> registry) {
  return std::make_unique<PolicyStage>(std::move(config), clock, mode, std::move(registry));
}

Result<std::unique_ptr<Stage>> make_policy_stage(const Config& config, Clock& clock, StageMode mode) {
  // The throttle rung works through the limit stage: it must run after policy.
  const auto& order = config.stages.order;
  const auto limit = std::find(order.begin(), order.end(), "limit");
  if (limit != order.end() && limit < std::find(order.begin(), order.end(), "policy") &&
      config.stages.mode("limit") != StageMode::kOff) {
    return invalid_argument(config.source_name +
                            ": stages.order: 'policy' must come before 'limit' (its throttle rung sets the "
                            "share of the account's limits that the limit stage enforces)");
  }
  DG_ASSIGN_OR_RETURN(defend::PolicyConfig p, defend::PolicyConfig::from_config(config));
  std::shared_ptr<defend::CanaryRegistry> registry;
  std::string db = p.canary_db.empty() ? config.storage.sqlite_path : p.canary_db;
  if (!db.empty() && !p.master_secret.empty()) {
    DG_ASSIGN_OR_RETURN(auto reg, defend::CanaryRegistry::open(db));
    registry = std::move(reg);
  }
  return make_policy_stage_with(std::move(p), clock, mode, std::move(registry));
}

}  // namespace dg
