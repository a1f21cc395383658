#include "gateway/gateway.h"

#include <pthread.h>
#include <signal.h>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <boost/json.hpp>
#include <cctype>
#include <cmath>
#include <cstdio>

#include "admin/admin_http.h"
#include "common/hash.h"
#include "gateway/stage_registry.h"
#include "http/errors.h"
#include "store/sqlite/sqlite_account_store.h"

namespace dg::gateway {
namespace json = boost::json;
namespace bhttp = boost::beast::http;
using http::GatewayError;

namespace {

RouteId match_route(std::string_view path) {
  if (path == "/v1/chat/completions") return RouteId::kChat;
  if (path == "/v1/completions") return RouteId::kCompletions;
  if (path == "/v1/models") return RouteId::kModels;
  return RouteId::kOther;
}

// One pass over the request's fields: headers_fp (XXH3 of the lower-case
// names in arrival order, joined by ","), and the first User-Agent and
// Authorization values (what req[field] would return).
struct HeaderScan {
  std::string_view user_agent;
  std::string_view authorization;
  char fp[16];  // hex
};

void scan_headers(const http::Request& req, HeaderScan& out) {
  char stack_buf[1024];
  std::string heap;
  char* names = stack_buf;
  size_t cap = sizeof stack_buf;
  size_t len = 0;
  bool ua = false, auth = false;
  for (const auto& f : req) {
    const bhttp::field id = f.name();
    if (id == bhttp::field::user_agent && !ua) {
      out.user_agent = f.value();
      ua = true;
    } else if (id == bhttp::field::authorization && !auth) {
      out.authorization = f.value();
      auth = true;
    }
    std::string_view name = f.name_string();
    if (len + name.size() + 1 > cap) {  // rare: many or long header names
      if (names == stack_buf) heap.assign(stack_buf, len);
      heap.resize(std::max(2 * cap, len + name.size() + 1));
      names = heap.data();
      cap = heap.size();
    }
    if (len > 0) names[len++] = ',';
    for (char c : name)
      names[len++] = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c;
  }
  uint64_t h = hash64(std::string_view(names, len));
  static constexpr char kHex[] = "0123456789abcdef";
  for (int i = 15; i >= 0; --i, h >>= 4) out.fp[i] = kHex[h & 0xf];
}

std::string_view bearer(std::string_view auth) {
  if (auth.size() > 7 && (auth.substr(0, 7) == "Bearer " || auth.substr(0, 7) == "bearer ")) {
    auth.remove_prefix(7);
    while (!auth.empty() && auth.front() == ' ') auth.remove_prefix(1);
    while (!auth.empty() && auth.back() == ' ') auth.remove_suffix(1);
    return auth;
  }
  return {};
}

}  // namespace

Result<std::pair<std::string, uint16_t>> parse_listen(std::string_view listen) {
  size_t colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == listen.size())
    return invalid_argument("server.listen: expected host:port, got '" + std::string(listen) + "'");
  std::string host(listen.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  int port = 0;
  for (char c : listen.substr(colon + 1)) {
    if (c < '0' || c > '9')
      return invalid_argument("server.listen: bad port in '" + std::string(listen) + "'");
    port = port * 10 + (c - '0');
    if (port > 65535)
      return invalid_argument("server.listen: port out of range in '" + std::string(listen) + "'");
  }
  if (host.empty()) host = "0.0.0.0";
  return std::make_pair(host, static_cast<uint16_t>(port));
}

Result<std::vector<http::UpstreamTarget>> upstream_targets(const Config& config) {
  std::vector<http::UpstreamTarget> out;
  for (const auto& u : config.upstreams) {
    auto t = http::UpstreamTarget::from_url(u.url);
    if (!t.ok())
      return invalid_argument(config.source_name + ": upstream '" + u.name +
                              "': " + t.status().message());
    t->name = u.name;
    t->models = u.models;
    t->connect_timeout = std::chrono::milliseconds(u.connect_timeout_ms);
    t->first_byte_timeout = std::chrono::milliseconds(u.first_byte_timeout_ms);
    t->idle_timeout = std::chrono::milliseconds(u.idle_timeout_ms);
    t->pool_size = static_cast<size_t>(std::max(0, u.pool_size));
    t->tls_verify = u.tls_verify;
    t->ca_file = u.ca_file;
    t->api_key = u.api_key;
    out.push_back(std::move(t).value());
  }
  return out;
}

Gateway::Gateway(const Config& config, Clock& clock, AuditLog& audit, pipeline::Chain chain)
    : config_(config),
      clock_(clock),
      audit_(audit),
      chain_(std::move(chain)),
      layout_(
          [&] {
            std::vector<std::string> tiers;
            for (const auto& [name, t] : config.tiers) tiers.push_back(name);
            return tiers;
          }(),
          [&] {
            std::vector<std::string> ups;
            for (const auto& u : config.upstreams) ups.push_back(u.name);
            return ups;
          }()) {}

Gateway::~Gateway() {
  if (server_) server_->stop();
}

Result<std::unique_ptr<Gateway>> Gateway::create(const Config& config, Clock& clock,
                                                 AuditLog& audit, pipeline::Chain chain) {
  std::unique_ptr<Gateway> g(new Gateway(config, clock, audit, std::move(chain)));
  DG_ASSIGN_OR_RETURN(auto listen, parse_listen(config.server.listen));
  DG_ASSIGN_OR_RETURN(auto targets, upstream_targets(config));
  DG_ASSIGN_OR_RETURN(auto set, http::UpstreamSet::create(std::move(targets)));
  forward::ForwardOptions fo;
  fo.keep_content = config.audit.keep_content;
  DG_ASSIGN_OR_RETURN(g->forwarder_, forward::Forwarder::create(set, fo));
  http::ServerOptions so;
  so.host = listen.first;
  so.port = listen.second;
  so.io_threads = config.server.io_threads;
  so.max_body_bytes = static_cast<size_t>(config.server.max_body_bytes);
  g->host_ = listen.first;
  DG_ASSIGN_OR_RETURN(g->server_, http::Server::create(so, *g));
  for (int i = 0; i < g->server_->io_threads(); ++i) {
    g->workers_.push_back(
        std::make_unique<forward::Forwarder::WorkerState>(g->server_->worker_context(i), set));
    g->metrics_.push_back(g->layout_.make());
  }
  return g;
}

net::awaitable<void> Gateway::serve_metrics(http::Connection& conn) {
  WorkerMetrics total = layout_.make();
  for (int i = 0; i < server_->io_threads(); ++i) {
    // Copy worker i's counters on worker i's own thread.
    WorkerMetrics snap = co_await net::co_spawn(
        server_->worker_context(i),
        [this, i]() -> net::awaitable<WorkerMetrics> {
          WorkerMetrics m = metrics_[i];
          m.active_streams = workers_[i]->active_streams;
          m.idle_connections = static_cast<int64_t>(workers_[i]->pool.idle_count());
          co_return m;
        },
        net::use_awaitable);
    total.add(snap);
  }
  auto c = audit_.counters();
  MetricsLayout::AuditFigures a{c.backlog, c.written, c.write_errors, c.refused, c.mirror_errors};
  std::string body = layout_.render(total, a);
  co_await conn.write_response(200, "text/plain; version=0.0.4", body, {});
}

// One exchange's state across its awaits. It lives on the heap, not in
// handle()'s coroutine frame: that keeps the frame under 1 KiB, which Asio
// recycles from request to request (it caches frames up to 1020 bytes) and
// which spares glibc a malloc_consolidate (run before any allocation of 1 KiB
// or more that its per-thread cache cannot serve). This object (< 1 KiB) is
// served from that cache.
struct Gateway::Exchange {
  ExchangeContext ctx;
  std::optional<LocalReply> early;
  const LocalReply* reply = nullptr;  // early, or the chain's local reply
  pipeline::Chain::Outcome outcome;
  forward::ForwardResult fr;
  std::string reply_body;
  http::HeaderList reply_headers;
};

void Gateway::admit(http::Request& req, bool body_too_large, http::Connection& conn, RouteId route,
                    std::string_view path, Exchange& x) {
  ExchangeContext& ctx = x.ctx;
  ctx.arrived = clock_.now();
  ctx.method = std::string(req.method_string());
  ctx.endpoint = std::string(path);
  ctx.client_ip = conn.remote_ip();
  HeaderScan hs;
  scan_headers(req, hs);
  ctx.user_agent = hs.user_agent;
  ctx.headers_fp.assign(hs.fp, sizeof hs.fp);
  ctx.bearer_token = bearer(hs.authorization);
  const bool is_get = route == RouteId::kModels;

  std::optional<LocalReply>& early = x.early;
  if (body_too_large) {
    early = http::gateway_error(
        GatewayError::kBodyTooLarge,
        "request body larger than " + std::to_string(config_.server.max_body_bytes) + " bytes");
  } else if (route == RouteId::kOther) {
    early = http::gateway_error(GatewayError::kUnknownRoute,
                                "Invalid URL (" + ctx.method + " " + std::string(path) + ")");
  } else if ((is_get && req.method() != bhttp::verb::get) ||
             (!is_get && req.method() != bhttp::verb::post)) {
    early = http::gateway_error(GatewayError::kMethodNotAllowed,
                                "Method " + ctx.method + " not allowed on " + std::string(path));
    early->headers.emplace_back("Allow", is_get ? "GET" : "POST");
  } else if (!is_get) {
    boost::system::error_code ec;
    json::value v = json::parse(req.body(), ec);
    if (ec) {
      early =
          http::gateway_error(GatewayError::kMalformedJson,
                              "We could not parse the JSON body of your request: " + ec.message());
    } else if (!v.is_object()) {
      early = http::gateway_error(GatewayError::kMalformedJson,
                                  "The request body must be a JSON object");
    } else {
      ctx.request = std::move(v.get_object());
      auto s = ctx.request.find("stream");
      ctx.stream = s != ctx.request.end() && s->value().is_bool() && s->value().get_bool();
    }
  }
  if (!early && audit_refusing_.load(std::memory_order_relaxed)) {
    if (audit_.counters().backlog < config_.audit.max_backlog)
      audit_refusing_.store(false);
    else
      early = http::gateway_error(GatewayError::kAuditBacklogFull,
                                  "the audit log is not keeping up; try again shortly");
  }
  if (early) {
    x.reply = &*early;
    return;
  }
  x.outcome = chain_.run_request(ctx);
  if (x.outcome.replied) x.reply = ctx.local_reply();
}

void Gateway::prepare_reply(Exchange& x) {
  const LocalReply& reply = *x.reply;
  ExchangeContext& ctx = x.ctx;
  ctx.status = reply.status;
  x.reply_body = http::error_body(reply);
  x.reply_headers = reply.headers;
  for (const auto& h : ctx.response_headers) x.reply_headers.push_back(h);
  json::object err;
  err["message"] = reply.message;
  err["type"] = reply.type;
  err["code"] = reply.code;
  ctx.response_summary.clear();
  ctx.response_summary["error"] = std::move(err);
}

net::awaitable<void> Gateway::handle(http::Request& req, bool body_too_large,
                                     http::Connection& conn) {
  const auto t0 = std::chrono::steady_clock::now();
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/healthz") {
    co_await conn.write_response(200, "application/json", "{\"status\":\"ok\"}", {});
    co_return;
  }
  if (path == "/metrics") {
    co_await serve_metrics(conn);
    co_return;
  }
  if (!config_.server.admin_token.empty() &&
      admin::is_admin_path(path)) {  // not exchanges: src/admin/admin_http.h
    co_await admin::serve_admin(config_, req, conn);
    co_return;
  }

  const int worker = conn.worker();
  const RouteId route = match_route(path);
  auto xp = std::make_unique<Exchange>();
  Exchange& x = *xp;
  ExchangeContext& ctx = x.ctx;
  admit(req, body_too_large, conn, route, path, x);
  if (!x.reply) {
    if (route == RouteId::kModels && forwarder_->models_local()) {
      ctx.status = 200;
      co_await conn.write_response(200, "application/json", forwarder_->models_body(),
                                   ctx.response_headers);
    } else {
      x.fr = co_await forwarder_->forward(ctx, req.body(), conn, *workers_[worker]);
      if (x.fr.error) {
        if (!x.fr.client_gone) ctx.upstream_failed = true;
        if (ctx.upstream_error.empty()) ctx.upstream_error = x.fr.error->message;
        x.early = std::move(x.fr.error);
        x.reply = &*x.early;
      }
    }
  }
  if (x.reply) {
    prepare_reply(x);
    co_await conn.write_response(x.reply->status, "application/json", x.reply_body,
                                 x.reply_headers);
  }
  chain_.run_complete(ctx, x.outcome.ran);

  WorkerMetrics& m = metrics_[worker];
  const forward::ForwardResult& fr = x.fr;
  if (fr.upstream_first_byte_ms >= 0)
    MetricsLayout::observe_upstream(m, fr.upstream_first_byte_ms / 1000.0);
  if (ctx.upstream_failed && fr.upstream >= 0)
    ++m.upstream_failures[static_cast<size_t>(fr.upstream)];
  if (fr.client_gone || conn.client_gone()) ++m.client_disconnects;
  static const std::string kNoReply;
  record(ctx, route, x.reply ? x.reply->code : kNoReply, worker, t0);
}

void Gateway::record(ExchangeContext& ctx, RouteId route, const std::string& reply_code, int worker,
                     std::chrono::steady_clock::time_point t0) {
  WorkerMetrics& m = metrics_[worker];
  layout_.count_request(m, route, ctx.status, ctx.account.tier);
  if (!reply_code.empty()) {
    auto it = m.local_replies.find(reply_code);
    if (it == m.local_replies.end())
      m.local_replies.emplace(reply_code, 1);
    else
      ++it->second;
    if (ctx.status == 429) ++m.limit_refusals[layout_.tier_index(ctx.account.tier)];
  }

  ExchangeRecord rec;
  // The record's wire form has millisecond precision; keep the in-memory value
  // identical so the audit row's ts column matches its line (audit verify).
  rec.ts = ctx.arrived - ctx.arrived % kNsPerMs;
  // ctx ends with this call: its strings move into the record.
  if (ctx.account.account.empty())
    rec.account = "-";
  else
    rec.account = std::move(ctx.account.account);
  rec.key_id = std::move(ctx.account.key_id);
  rec.ip = std::move(ctx.client_ip);
  rec.user_agent = std::move(ctx.user_agent);
  rec.headers_fp = std::move(ctx.headers_fp);
  if (ctx.account.created != 0) rec.account_created = ctx.account.created;
  rec.endpoint = std::move(ctx.endpoint);
  rec.request = std::move(ctx.request);
  if (!ctx.response_summary.empty()) rec.response = std::move(ctx.response_summary);
  rec.status = ctx.status;
  rec.latency_ms =
      std::round(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count() *
          1000.0) /
      1000.0;
  rec.action = action_name(ctx.action);
  if (!ctx.notes.empty()) {
    json::array notes;
    for (auto& [stage, note] : ctx.notes) {
      json::object n;
      n["stage"] = stage;
      n["note"] = note;
      notes.push_back(std::move(n));
    }
    rec.extra["notes"] = std::move(notes);
  }
  Status st = audit_.append(std::move(rec));
  if (!st.ok()) {
    ++m.audit_dropped;
    audit_refusing_.store(true);
    std::fprintf(
        stderr,
        "distillguard: AUDIT RECORD LOST (%s); refusing new requests with 503 until it drains\n",
        st.to_string().c_str());
  }
}

// ------------------------------------------------------------------- serve

int serve(const Config& config) {
  // Block SIGINT/SIGTERM before any thread starts, so they all inherit the
  // mask and only sigwait() below sees them.
  sigset_t sigs;
  sigemptyset(&sigs);
  sigaddset(&sigs, SIGINT);
  sigaddset(&sigs, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &sigs, nullptr);
  signal(SIGPIPE, SIG_IGN);

  Clock& clock = SystemClock::instance();
  SqliteAccountStoreOptions so;
  so.path = config.storage.sqlite_path;
  auto store = open_sqlite_account_store(so, clock);
  if (!store.ok()) {
    std::fprintf(stderr, "distillguard serve: cannot open the account store: %s\n",
                 store.status().to_string().c_str());
    return 1;
  }
  AuditLogOptions ao;
  ao.max_backlog = static_cast<size_t>(config.audit.max_backlog);
  ao.jsonl_path = config.audit.jsonl_path;
  ao.keep_content = config.audit.keep_content;
  auto audit = AuditLog::open(config.audit.effective_sqlite_path(config.storage), ao);
  if (!audit.ok()) {
    std::fprintf(stderr, "distillguard serve: cannot open the audit log: %s\n",
                 audit.status().to_string().c_str());
    return 1;
  }
  auto chain = build_chain(config, clock, **store, **audit);
  if (!chain.ok()) {
    std::fprintf(stderr, "distillguard serve: %s\n", chain.status().message().c_str());
    return 2;
  }
  auto gw = Gateway::create(config, clock, **audit, std::move(chain).value());
  if (!gw.ok()) {
    std::fprintf(stderr, "distillguard serve: %s\n", gw.status().message().c_str());
    return gw.status().code() == StatusCode::kInvalidArgument ? 2 : 1;
  }
  (*gw)->start();
  const std::string& host = (*gw)->host();
  if (host.find(':') != std::string::npos)
    std::printf("listening on [%s]:%u\n", host.c_str(), (*gw)->port());
  else
    std::printf("listening on %s:%u\n", host.c_str(), (*gw)->port());
  std::fflush(stdout);

  int sig = 0;
  sigwait(&sigs, &sig);
  std::fprintf(stderr, "distillguard serve: %s, stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
  (*gw)->stop();
  gw->reset();
  Status fl = (*audit)->flush();
  if (!fl.ok()) {
    std::fprintf(stderr, "distillguard serve: audit log not fully flushed: %s\n",
                 fl.to_string().c_str());
    return 1;
  }
  return 0;
}

}  // namespace dg::gateway
