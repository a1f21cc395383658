// The auth stage: `Authorization: Bearer <key>` (ctx.bearer_token) -> ctx.account.
//
// Replies (enforce mode):
//   401 invalid_request_error / invalid_api_key — missing, unknown or revoked key
//   403 invalid_request_error / account_disabled — the key's account is disabled
//   503 server_error / store_unavailable — the store could not be read (fail closed)
// Shadow mode records the decision in ctx.notes and lets the request go on
// (ctx.account stays empty for a bad key). Off: not in the chain.
//
// Cache: each I/O thread keeps the accepted keys it has seen (secret ->
// AccountInfo, at most kAuthCacheEntries, then emptied) and answers from it
// while store.generation() is unchanged, so a known key costs one hash lookup
// instead of the store's SHA-256 and locked lookups. Any store change empties
// it, so revocation, disabling and tier changes apply exactly as fast as the
// store sees them. Only accepted keys are cached: refusals always ask the store.
// The secrets are held in memory only (like the requests carrying them).
//
// Thread-safety: the stage is shared by all requests; `store` must outlive it.
#pragma once

#include <memory>

#include "distillguard/stage.h"
#include "store/account_store.h"

namespace dg {

inline constexpr size_t kAuthCacheEntries = 16384;  // per I/O thread

Result<std::unique_ptr<Stage>> make_auth_stage(AccountStore& store, StageMode mode);

}  // namespace dg
