// The auth stage: `Authorization: Bearer <key>` (ctx.bearer_token) -> ctx.account.
//
// Replies (enforce mode):
//   401 invalid_request_error / invalid_api_key — missing, unknown or revoked key
//   403 invalid_request_error / account_disabled — the key's account is disabled
//   503 server_error / store_unavailable — the store could not be read (fail closed)
// Shadow mode records the decision in ctx.notes and lets the request go on
// (ctx.account stays empty for a bad key). Off: not in the chain.
//
// Thread-safety: the stage is shared by all requests; `store` must outlive it.
#pragma once

#include <memory>

#include "distillguard/stage.h"
#include "store/account_store.h"

namespace dg {

Result<std::unique_ptr<Stage>> make_auth_stage(AccountStore& store, StageMode mode);

}  // namespace dg
