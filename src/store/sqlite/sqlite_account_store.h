// The default AccountStore: a SQLite database (WAL mode) that the server and
// the CLI open at the same time, from different processes.
//
// Tables: accounts(name PK, tier, created_ns, disabled),
//         api_keys(key_id PK, account, secret_sha256 UNIQUE, created_ns, revoked),
//         account_changes(seq, kind, name): one row per management write.
//
// Hot path: authenticate() reads a sharded in-memory cache keyed by the
// secret's hash (per-shard shared_mutex, readers never contend with each
// other). A miss reads the database (a key the CLI just created works on the
// next request); the miss is cached negatively for a short time so a flood of
// bad keys does not turn into a flood of queries. Every management write (from
// any process) appends to account_changes in the same transaction; a
// background thread reads new rows every `poll_interval` and drops exactly the
// cache entries they name (the next request reloads them), so a revoked key or
// a disabled account stops working within about one interval (default 200 ms).
// (Polling `PRAGMA data_version` would fire on every audit-log commit when
// both share the file.)
//
// Thread-safety: all methods are thread-safe. Management calls serialize on
// one connection; authenticate() hits only the cache except on a miss.
#pragma once

#include <memory>
#include <string>

#include "store/account_store.h"

namespace dg {

struct SqliteAccountStoreOptions {
  std::string path = "./distillguard.db";
  TimeNs poll_interval = 200 * kNsPerMs;   // change-log polling (0 = no watcher thread)
  TimeNs negative_ttl = 1 * kNsPerSec;     // how long an unknown-key miss is cached
  size_t max_cached_keys = 1'000'000;      // cache bound (positive entries)
};

// Opens (creating if needed) the database and its tables. Errors: kUnavailable
// (cannot open), kInternal (schema). `clock` must outlive the store.
Result<std::unique_ptr<AccountStore>> open_sqlite_account_store(
    const SqliteAccountStoreOptions& options, Clock& clock);

}  // namespace dg
