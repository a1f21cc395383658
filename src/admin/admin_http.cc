#include "admin/admin_http.h"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/http/field.hpp>
#include <cstdlib>
#include <map>
#include <mutex>
#include <thread>

#include "admin/admin_api.h"
#include "http/errors.h"

namespace dg::admin {
namespace net = boost::asio;
namespace bhttp = boost::beast::http;

namespace {

void stop_all_services();

// The admin thread and the AdminApi it owns (opened on that thread).
class AdminService {
 public:
  explicit AdminService(const Config& config) : config_(config), guard_(ioc_.get_executor()) {
    thread_ = std::thread([this] { ioc_.run(); });
  }
  ~AdminService() { stop(); }
  // Stops the admin thread (a step in progress finishes first). Idempotent;
  // not from the admin thread.
  void stop() {
    guard_.reset();
    ioc_.stop();
    if (thread_.joinable()) thread_.join();
  }
  net::io_context& context() { return ioc_; }

  // On the admin thread only.
  AdminResponse handle(const AdminRequest& req) {
    if (!api_) {
      auto api = AdminApi::open(config_, SystemClock::instance());
      if (!api.ok()) {
        AdminResponse r;
        r.status = 503;
        r.body = http::error_body("admin API unavailable: " + api.status().message(), "server_error",
                                  "admin_unavailable");
        return r;
      }
      api_ = std::move(api).value();
      // The engine uses function-local statics (its builtin classifier) built
      // just now by open(); registered after them, this handler runs before
      // they are destroyed at exit, so no step can touch them afterwards.
      static std::once_flag once;
      std::call_once(once, [] { std::atexit(stop_all_services); });
    }
    AdminResponse r = api_->handle(req);
    schedule_catch_up();
    return r;
  }

  // Keeps replaying the audit log in bounded steps on this thread while the
  // replica is behind; a request queued meanwhile runs between two steps.
  void schedule_catch_up() {
    if (catching_up_) return;
    catching_up_ = true;
    net::post(ioc_, [this] {
      catching_up_ = false;
      if (api_ && api_->catch_up()) schedule_catch_up();
    });
  }

 private:
  Config config_;  // a copy: the service outlives any one gateway
  net::io_context ioc_{1};
  net::executor_work_guard<net::io_context::executor_type> guard_;
  std::thread thread_;
  std::unique_ptr<AdminApi> api_;
  bool catching_up_ = false;  // a catch-up step is queued (admin thread only)
};

std::mutex& services_mu() {
  static std::mutex mu;
  return mu;
}
std::map<std::string, std::unique_ptr<AdminService>>& services() {
  static std::map<std::string, std::unique_ptr<AdminService>> m;
  return m;
}

void stop_all_services() {
  std::lock_guard<std::mutex> lock(services_mu());
  for (auto& [key, svc] : services()) svc->stop();
}

AdminService& service_for(const Config& config) {
  const std::string key = config.storage.sqlite_path + '\n' +
                          config.audit.effective_sqlite_path(config.storage) + '\n' + config.server.admin_token;
  std::lock_guard<std::mutex> lock(services_mu());
  auto& s = services()[key];
  if (!s) s = std::make_unique<AdminService>(config);
  return *s;
}

// A coroutine function, not a capturing coroutine lambda: GCC 12 destroys a
// lambda's non-trivial captures twice when the lambda is a coroutine
// (observed: free() of an invalid pointer); parameters are copied into the
// frame correctly.
net::awaitable<AdminResponse> handle_on_admin_thread(AdminService* svc, AdminRequest req) {
  co_return svc->handle(req);
}

}  // namespace

net::awaitable<void> serve_admin(const Config& config, http::Request& request, http::Connection& conn) {
  AdminRequest req;
  req.method = std::string(request.method_string());
  req.target = std::string(request.target());
  req.authorization = std::string(request[bhttp::field::authorization]);
  AdminResponse resp;
  if (auto quick = AdminApi::answer_without_data(req, config.server.admin_token)) {
    resp = std::move(*quick);
  } else {
    req.body = std::move(request.body());
    AdminService& svc = service_for(config);
    resp = co_await net::co_spawn(svc.context(), handle_on_admin_thread(&svc, std::move(req)), net::use_awaitable);
  }
  co_await conn.write_response(resp.status, resp.content_type, resp.body, resp.headers);
}

}  // namespace dg::admin
