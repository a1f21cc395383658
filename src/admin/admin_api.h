// The admin API and the dashboard's files, behind `Authorization: Bearer
// <server.admin_token>`. Transport-free: the gateway hands it a method, a
// target, the Authorization header and the body, and writes back the status,
// content type, headers and body (src/admin/admin_http.h is that glue).
//
//   GET  /admin/accounts[?limit=N&q=substr]  accounts with risk and last action
//   GET  /admin/accounts/{id}                one account: stats, risk over time,
//                                            reasons, recent exchanges
//   POST /admin/accounts/{id}/disable        refuse its keys (403 account_disabled)
//   POST /admin/accounts/{id}/enable
//   GET  /admin/decisions[?limit=N]          recent non-allow actions and local replies
//   GET  /admin/clusters                     linked accounts scored as one actor
//   GET  /admin/audit/verify                 the audit hash chain, checked end to end
//   GET  /dashboard, /dashboard/<file>       the dashboard (web/, embedded at build time)
//
// Auth. server.admin_token empty: the admin API and the dashboard do not exist
// (404 unknown_url, as for any unknown path). Otherwise every /admin/ request
// needs the token as a bearer (compared in constant time); without it: 401
// {"error":{...,"code":"invalid_admin_token"}} with WWW-Authenticate. The
// dashboard's static files need no token (they hold no data; the page asks for
// the token and sends it with each API call).
//
// Where the data comes from. Accounts: the account store. Everything else:
// the audit log, read through this object's own read-only SQLite connection
// (WAL: readers never block the gateway's writer thread). Risk, verdicts,
// reasons, risk over time and clusters come from a replica of the detection
// engine fed with the audit log's records in seq order — the engine is
// deterministic on record time, so the replica gives the verdicts the live
// engine gives (DESIGN: "one engine, two feeds"). Each call first catches up
// on new audit entries, at most `max_sync_per_call` of them (so one call stays
// short on a large log; "engine.catching_up" says when it is behind), and the
// admin thread keeps catching up in steps of that size between calls.
// Decisions are kept in a bounded ring (`decisions_kept`); per-account figures
// are a fixed-size struct per account; recent exchanges are read on demand
// with LIMIT through the (account, seq) index.
//
// Thread-safety: handle() is thread-safe (one mutex: calls are serialized) and
// may block on SQLite for a bounded time (bounded reads; the full chain check
// of /admin/audit/verify reads the whole log), so the gateway calls it on a
// dedicated admin thread, never on an I/O thread. answer_without_data() never
// touches the disk and is safe on an I/O thread.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "distillguard/clock.h"
#include "distillguard/status.h"
#include "engine/engine.h"
#include "store/account_store.h"

namespace dg {
struct Config;
}

namespace dg::admin {

struct AdminRequest {
  std::string method;         // "GET", "POST", ...
  std::string target;         // path with optional "?query"
  std::string authorization;  // the Authorization header as sent ("" if none)
  std::string body;
};

struct AdminResponse {
  int status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct AdminOptions {
  std::string admin_token;          // "" = admin API disabled (everything 404)
  std::string audit_path;           // SQLite audit database ("" = no audit data)
  engine::EngineConfig engine;      // the replica's config ([engine] section)
  int64_t max_sync_per_call = 5000;   // audit entries replayed per call / catch-up step at most
  size_t decisions_kept = 2000;       // ring of recent decisions
  int recent_exchanges = 50;          // per account page
};

// True for the paths this module answers: /admin, /admin/..., /dashboard, /dashboard/...
bool is_admin_path(std::string_view path);

class AdminApi {
 public:
  // `store` must outlive the AdminApi. Never fails on a missing audit database
  // (it may be created later); kInvalidArgument for bad options.
  static Result<std::unique_ptr<AdminApi>> create(AdminOptions options, AccountStore& store);
  // As create(), owning a store connection of its own on storage.sqlite_path
  // (no cache watcher: management calls only) and reading the audit database
  // and [engine] of `config`. Errors: the store cannot be opened, bad [engine].
  static Result<std::unique_ptr<AdminApi>> open(const Config& config, Clock& clock);
  ~AdminApi();

  // The whole API (see the header comment). Blocks on SQLite; thread-safe.
  AdminResponse handle(const AdminRequest& request);

  // Replays one batch of new audit entries (at most max_sync_per_call) into the
  // engine replica; true while the replica is still behind the log's last seq.
  // For the admin thread's background catch-up between calls. Thread-safe.
  bool catch_up();

  // The answers that need no data: 404 when disabled or unknown, 401 without
  // the token, the dashboard's files, 405. nullopt: an authorized API call
  // for handle(). Pure; safe on an I/O thread.
  static std::optional<AdminResponse> answer_without_data(const AdminRequest& request,
                                                          std::string_view admin_token);

  AdminApi(const AdminApi&) = delete;
  AdminApi& operator=(const AdminApi&) = delete;

 private:
  struct Impl;
  explicit AdminApi(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace dg::admin
