// The limit stage: per-account requests/tokens per minute from the account's
// tier (ctx.account.tier; unknown tier -> limits.default_tier), GCRA, ramp for
// new accounts, anomaly multiplier.
//
// on_request: estimates the request's tokens (estimate_tokens(), stored in
// ctx.estimated_tokens), admits or refuses; always adds the x-ratelimit-*
// headers to ctx.response_headers. A refusal (enforce) is
//   429 {"error":{"type":"requests"|"tokens","code":"rate_limit_exceeded",...}}
// with Retry-After and retry-after-ms. Shadow: the refusal is only noted.
// on_complete: reconciles the token charge with ctx.prompt_tokens +
// ctx.completion_tokens (no reconciliation if both are 0 and the upstream
// failed: the estimate stands).
//
// Anomaly hook: ctx.risk in [0, 1] lowers the limits by the multiplier
// `risk_multiplier(ctx.risk)` (1 below risk 0.5, falling linearly to 0.1 at
// risk 1). A stage before limit that sets ctx.risk (e.g. the account's last
// known risk) tightens the limits; LimitStageHooks::multiplier replaces that rule.
// When the policy stage runs before limit it decides instead: it sets
// ctx.limit_multiplier (its throttle rung; 1 for allow), which replaces the rule.
// Extra limits (per capability, per cluster of linked accounts) come from
// LimitStageHooks::extra_limits and are checked all-or-nothing with the
// account's own; a refusal by one is a 429 like the others.
//
// Thread-safety: shared by all requests. `clock` must outlive the stage.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "config/config.h"
#include "distillguard/stage.h"
#include "limit/limiter.h"

namespace dg {

Result<std::unique_ptr<Stage>> make_limit_stage(const Config& config, Clock& clock,
                                                StageMode mode);
// Optional per-request hooks for other parts (engine, policy). Called on the
// I/O thread for every request: must be fast and thread-safe.
struct LimitStageHooks {
  // The limit multiplier in (0, 1] for this request (default: risk_multiplier(ctx.risk)).
  std::function<double(const ExchangeContext&)> multiplier;
  // Appends extra limits for this request, e.g.
  //   out.push_back({LimitKey::of("cluster", id, "rpm"), GcraRate{600, 30}, 1, "cluster:rpm"});
  // ExtraLimit::name must outlive the call (use string literals or long-lived strings).
  std::function<void(const ExchangeContext&, std::vector<ExtraLimit>&)> extra_limits;
};

// The same stage on an existing limiter (shared with other stages or tests).
Result<std::unique_ptr<Stage>> make_limit_stage_with(std::shared_ptr<Limiter> limiter,
                                                     const Config& config, StageMode mode,
                                                     LimitStageHooks hooks = {});

// (0, 1]: the limit multiplier for a risk score.
double risk_multiplier(double risk);

}  // namespace dg
