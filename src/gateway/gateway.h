// The gateway: the HTTP server, the stage chain, the forwarder, the audit log
// and the metrics, assembled. See docs/life-of-a-request.md.
//
// Per request (on one I/O thread, no hops):
//   /healthz, /metrics  answered directly, not recorded;
//   everything else is an exchange and gets exactly one exchange record:
//     413 body too large, 404 unknown route, 405 wrong method, 400 malformed
//     JSON (these before the chain, so before auth: they are recorded under
//     account "-", the account of every exchange that did not authenticate),
//     503 audit_backlog_full while the audit log refuses records,
//     then the chain (auth, limit, ...), which may reply itself,
//     then GET /v1/models (answered here) or the forwarder;
//     then on_complete in reverse, then the record is appended to the audit
//     log (which never blocks on disk).
//
// Records: spec/exchange-log.md exactly; `response` is the forwarder's summary
// (usage, finish_reason, content when kept) or {"error":{...}} for a local
// reply; stage notes go in an extra field "notes": [{"stage","note"}].
// headers_fp = 16 hex digits of XXH3 over the lower-cased header names in
// arrival order, joined by ",".
//
// Thread-safety: handle() runs on every worker; per-worker state (metrics,
// upstream pool) is indexed by the connection's worker and touched only there.
#pragma once

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "audit/audit_log.h"
#include "config/config.h"
#include "gateway/metrics.h"
#include "http/server.h"
#include "pipeline/chain.h"
#include "stages/forward/forwarder.h"
#include "store/account_store.h"

namespace dg::gateway {

namespace net = boost::asio;

class Gateway final : public http::Handler {
 public:
  // Binds the listening socket (see port()); serves after start().
  static Result<std::unique_ptr<Gateway>> create(const Config& config, Clock& clock,
                                                 AuditLog& audit, pipeline::Chain chain);
  ~Gateway() override;

  uint16_t port() const { return server_->local_port(); }
  const std::string& host() const { return host_; }
  void start() { server_->start(); }
  // Graceful: stop accepting, finish in-flight exchanges (bounded), stop threads.
  void stop() { server_->stop(); }

  net::awaitable<void> handle(http::Request& req, bool body_too_large,
                              http::Connection& conn) override;

 private:
  struct Exchange;
  Gateway(const Config& config, Clock& clock, AuditLog& audit, pipeline::Chain chain);
  net::awaitable<void> serve_metrics(http::Connection& conn);
  // The synchronous start of an exchange: fills x.ctx from the request, gives
  // the early replies (413, 404, 405, 400, 503) and runs the chain.
  void admit(http::Request& req, bool body_too_large, http::Connection& conn, RouteId route,
             std::string_view path, Exchange& x);
  // Fills x.reply_body / x.reply_headers and the record's summary for x.reply.
  void prepare_reply(Exchange& x);
  void record(ExchangeContext& ctx, RouteId route, const std::string& reply_code, int worker,
              std::chrono::steady_clock::time_point t0);

  const Config& config_;
  Clock& clock_;
  AuditLog& audit_;
  pipeline::Chain chain_;
  std::string host_;
  std::shared_ptr<forward::Forwarder> forwarder_;
  std::unique_ptr<http::Server> server_;
  std::vector<std::unique_ptr<forward::Forwarder::WorkerState>> workers_;
  MetricsLayout layout_;
  std::vector<WorkerMetrics> metrics_;  // one per worker, written only by it
  std::atomic<bool> audit_refusing_{false};
};

// Splits "host:port" / "[v6]:port". kInvalidArgument if malformed.
Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view listen);
// The upstream targets for config.upstreams.
Result<std::vector<http::UpstreamTarget>> upstream_targets(const Config& config);

// `distillguard serve`: opens the store and the audit log, builds the chain,
// serves until SIGINT/SIGTERM, then stops gracefully and flushes the audit
// log. Prints "listening on HOST:PORT" on stdout once ready. Returns the
// process exit status.
int serve(const Config& config);

}  // namespace dg::gateway
