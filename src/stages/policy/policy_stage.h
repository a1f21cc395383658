// The policy stage: applies the countermeasure ladder (src/defend/policy.h)
// to each request, after `assess` has put the account's risk (max of account
// and cluster risk) in ctx.risk.
//
//   allow     nothing (no watermark unless watermark_from = "allow")
//   throttle  ctx.limit_multiplier = [policy] throttle_multiplier: the limit
//             stage (which must come after policy) enforces that share of the
//             tier's limits with its own 429 and headers; plus the watermark
//             at watermark_strength
//   degrade   reasoning withheld/summarised, log-probs perturbed, max_tokens
//             capped, watermark at watermark_strength
//   trace     degrade + canary for prompts of canary kinds + watermark at
//             trace_watermark_strength
// Each rung includes the limit share of the rungs below it; allow (and the
// allow-list) sets ctx.limit_multiplier = 1, so a licensed distiller keeps its
// whole tier whatever its risk.
//   block     403 `blocked_by_policy`
// The action goes to ctx.action (→ the exchange record's `action` and the
// audit log) and the reason to ctx.notes ("policy", ...). Shadow mode: the
// decision is only noted ("shadow: would trace"), ctx.action stays allow.
// Transform order: reasoning → canary → watermark → logprobs.
//
// Thread-safety: shared by all requests; the ladder is sharded-lock safe.
#pragma once

#include <memory>

#include "config/config.h"
#include "defend/canary.h"
#include "defend/policy.h"
#include "distillguard/clock.h"
#include "distillguard/stage.h"

namespace dg {

// Reads [policy]; refuses a stages.order with 'limit' (not off) before
// 'policy'. Opens the canary registry in storage.sqlite_path (or
// [policy] canary_db; "" with no storage = no registry).
Result<std::unique_ptr<Stage>> make_policy_stage(const Config& config, Clock& clock, StageMode mode);
// For tests: an explicit policy config and registry (may be null).
std::unique_ptr<Stage> make_policy_stage_with(defend::PolicyConfig config, Clock& clock, StageMode mode,
                                              std::shared_ptr<defend::CanaryRegistry> registry);

}  // namespace dg
