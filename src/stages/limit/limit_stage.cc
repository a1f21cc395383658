#include "stages/limit/limit_stage.h"

#include <climits>
#include <cstdio>

#include "limit/redis_sync.h"

namespace dg {

namespace {

std::string retry_text(TimeNs d) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3gs", static_cast<double>(d) / kNsPerSec);
  return buf;
}

class LimitStage final : public Stage {
 public:
  LimitStage(std::shared_ptr<Limiter> limiter, const Config& config, StageMode mode,
             LimitStageHooks hooks)
      : limiter_(std::move(limiter)), tiers_(config.tiers), limits_(config.limits), mode_(mode),
        hooks_(std::move(hooks)) {
    default_tier_ = &tiers_.at(limits_.default_tier);
  }

  std::string_view name() const override { return "limit"; }

  FilterStatus on_request(ExchangeContext& ctx) override {
    const TierConfig& tier = tier_of(ctx);
    const std::string& subject = subject_of(ctx);
    const int64_t estimate = estimate_tokens(ctx.request, limits_.default_completion_tokens);
    AdmitRequest r;
    r.account = subject;
    r.tier = &tier;
    r.account_created = ctx.account.created;
    r.estimated_tokens = estimate;
    r.multiplier = multiplier(ctx);
    if (hooks_.extra_limits) hooks_.extra_limits(ctx, r.extra);
    Admission a = limiter_->admit(r);
    ctx.estimated_tokens = a.charged_tokens;  // what on_complete reconciles
    ctx.response_headers.reserve(ctx.response_headers.size() + 8);
    if (a.allowed || mode_ == StageMode::kEnforce) {
      Limiter::add_headers(a, ctx.response_headers);
    } else {
      Admission shown = a;  // shadow: the client sees no Retry-After
      shown.retry_after = 0;
      Limiter::add_headers(shown, ctx.response_headers);
    }
    if (a.allowed) return FilterStatus::kContinue;

    const bool tokens = a.refused_by == LimitKind::kTokens;
    std::string what = tokens ? "tokens per min (TPM)" : "requests per min (RPM)";
    std::string message;
    if (a.too_large) {
      message = "Request too large for " + what + " on account " + subject + ": Limit " +
                std::to_string(a.limit_tokens) + ", Requested " + std::to_string(estimate) +
                ". Reduce the input or max_tokens.";
    } else if (a.refused_by == LimitKind::kExtra) {
      message = "Rate limit reached for " + std::string(a.refused_extra) + " on account " +
                subject + ". Please try again in " + retry_text(a.retry_after) + ".";
    } else {
      const int64_t limit = tokens ? a.limit_tokens : a.limit_requests;
      const int64_t remaining = tokens ? a.remaining_tokens : a.remaining_requests;
      message = "Rate limit reached for " + what + " on account " + subject + ": Limit " +
                std::to_string(limit) + ", Remaining " + std::to_string(remaining) +
                ", Requested " + std::to_string(tokens ? estimate : 1) +
                ". Please try again in " + retry_text(a.retry_after) + ".";
    }
    ctx.notes.emplace_back("limit", message);
    if (mode_ != StageMode::kEnforce) return FilterStatus::kContinue;
    LocalReply reply;
    reply.status = 429;
    reply.type = tokens ? "tokens" : "requests";
    reply.code = "rate_limit_exceeded";
    reply.message = std::move(message);
    ctx.reply(std::move(reply));
    return FilterStatus::kStop;
  }

  void on_complete(ExchangeContext& ctx) override {
    const int64_t charged = ctx.estimated_tokens;
    if (charged <= 0) return;  // refused (nothing charged) or nothing to reconcile
    int64_t actual = ctx.prompt_tokens + ctx.completion_tokens;
    if (actual <= 0) {
      // No usage reported. If the exchange never reached the upstream (a local
      // reply after this stage), nothing was generated: refund. If the upstream
      // failed mid-way, tokens were spent but not counted: the estimate stands.
      if (ctx.local_reply() == nullptr) return;
      actual = 0;
    }
    limiter_->reconcile(subject_of(ctx), tier_of(ctx), ctx.account.created, multiplier(ctx),
                        charged, actual);
    ctx.estimated_tokens = actual;
  }

 private:
  double multiplier(const ExchangeContext& ctx) const {
    if (ctx.limit_multiplier) return *ctx.limit_multiplier;  // the policy ladder decided
    return hooks_.multiplier ? hooks_.multiplier(ctx) : risk_multiplier(ctx.risk);
  }
  const TierConfig& tier_of(const ExchangeContext& ctx) const {
    auto it = tiers_.find(ctx.account.tier);
    return it == tiers_.end() ? *default_tier_ : it->second;
  }
  // Unauthenticated requests (auth off or shadow) are limited per client address.
  static const std::string& subject_of(const ExchangeContext& ctx) {
    return ctx.account.account.empty() ? ctx.client_ip : ctx.account.account;
  }

  std::shared_ptr<Limiter> limiter_;
  std::map<std::string, TierConfig, std::less<>> tiers_;
  LimitsConfig limits_;
  const TierConfig* default_tier_;
  StageMode mode_;
  LimitStageHooks hooks_;
};

}  // namespace

double risk_multiplier(double risk) {
  if (!(risk > 0.5)) return 1.0;
  if (risk >= 1.0) return 0.1;
  return 1.0 - 0.9 * (risk - 0.5) / 0.5;
}

Result<std::unique_ptr<Stage>> make_limit_stage_with(std::shared_ptr<Limiter> limiter,
                                                     const Config& config, StageMode mode,
                                                     LimitStageHooks hooks) {
  if (!limiter) return invalid_argument("limit stage: no limiter");
  if (!config.tier(config.limits.default_tier)) {
    return invalid_argument("limit stage: limits.default_tier '" + config.limits.default_tier +
                            "' is not a configured tier");
  }
  return std::unique_ptr<Stage>(std::make_unique<LimitStage>(std::move(limiter), config, mode, std::move(hooks)));
}

namespace {

// A limiter whose state is shared through Redis for as long as it lives.
struct SharedLimiter {
  std::shared_ptr<Limiter> limiter;
  std::unique_ptr<RedisLimitSync> sync;
};

}  // namespace

Result<std::unique_ptr<Stage>> make_limit_stage(const Config& config, Clock& clock,
                                                StageMode mode) {
  auto limiter = std::make_shared<Limiter>(config.limits, clock);
  if (config.storage.redis_url.empty()) return make_limit_stage_with(limiter, config, mode);
  RedisSyncOptions o;
  o.url = config.storage.redis_url;
  DG_ASSIGN_OR_RETURN(auto sync, RedisLimitSync::start(limiter->store(), clock, o));
  // The sync must stop before the limiter goes: tie both to one owner, and
  // hand the stage an aliasing pointer to the limiter inside it.
  auto owner = std::make_shared<SharedLimiter>(SharedLimiter{limiter, std::move(sync)});
  std::shared_ptr<Limiter> alias(owner, owner->limiter.get());
  return make_limit_stage_with(std::move(alias), config, mode);
}

}  // namespace dg
