// The HTTP/1.1 server: Boost.Beast on Boost.Asio, C++20 coroutines.
//
// Threading. One io_context per I/O thread (`io_threads`), each run by exactly
// one thread. One acceptor (on worker 0) hands each accepted socket to the
// next worker, round robin; a connection then lives on that worker for its
// whole life: its requests, its upstream connections (pooled per worker),
// its metrics. So a request never hops threads, needs no strand and takes no
// lock in the server. Why not one shared io_context with strands: every
// handler dispatch would go through the strand's queue and a shared
// scheduler mutex, and upstream pools would need locks; with a context per
// thread the pool and counters are thread-confined. The cost is imbalance
// when a few connections carry most of the load; round-robin accept is good
// enough for an API front end with many clients.
//
// Per connection: keep-alive, a request header limit (64 KiB), a body limit
// (`max_body_bytes`; larger bodies are handed to the handler flagged
// body_too_large so it can answer 413 and record it, then the connection is
// closed), `Expect: 100-continue`, an idle timeout between requests, and
// a 400 for unparsable HTTP (not handed to the handler).
//
// Responses are written by the handler through the Connection: a whole
// response, or a chunked stream (head, chunks, end). Write calls return false
// when the client is gone.
//
// Lifetime: the Server must outlive run(); stop() is thread-safe and graceful
// (stop accepting, let in-flight requests finish for up to drain_timeout, then
// close everything).
#pragma once

#include <atomic>
#include <boost/asio/any_completion_handler.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "distillguard/status.h"
#include "http/op_timeout.h"

namespace dg::http {

namespace net = boost::asio;
namespace beast = boost::beast;

using HeaderList = std::vector<std::pair<std::string, std::string>>;
using Request = beast::http::request<beast::http::string_body>;

struct ServerOptions {
  std::string host = "127.0.0.1";
  uint16_t port = 0;                // 0 = any free port (see local_port())
  int io_threads = 1;               // >= 1
  size_t max_body_bytes = 4 << 20;  // larger request bodies -> body_too_large
  size_t max_header_bytes = 64 << 10;
  std::chrono::milliseconds keepalive_timeout{60000};  // idle between requests
  std::chrono::milliseconds read_timeout{30000};       // reading one request
  std::chrono::milliseconds write_timeout{30000};      // one write to the client
  std::chrono::milliseconds drain_timeout{10000};      // graceful stop
};

class Server;

// One client connection. Lives on one worker thread; not thread-safe.
class Connection {
 public:
  Connection(Server& server, int worker, net::ip::tcp::socket socket);

  int worker() const { return worker_; }
  const std::string& remote_ip() const { return remote_ip_; }
  // Whether the connection stays open after the current response.
  bool keep_alive() const { return keep_alive_; }
  void set_keep_alive(bool k) { keep_alive_ = keep_alive_ && k; }

  // A complete response with Content-Length. False if the client is gone.
  net::awaitable<bool> write_response(int status, std::string_view content_type,
                                      std::string_view body, const HeaderList& extra);
  // A chunked response: the head, then chunks, then the end.
  net::awaitable<bool> write_stream_head(int status, std::string_view content_type,
                                         const HeaderList& extra);
  net::awaitable<bool> write_chunk(std::string_view data);
  net::awaitable<bool> write_stream_end();
  // Watches the client while the handler waits on something else (the
  // upstream): when the client closes its side (EOF or error), client_gone()
  // turns true and on_gone(arg) is called once, on this worker's thread. Any
  // bytes the client sends meanwhile (a pipelined request) are kept for the
  // next request (up to 1 MiB; beyond that the watch stops reading). No
  // coroutine and no read are pending, only a readiness wait, which outlives
  // stop_watch(): it completes when the next request arrives (ignored then)
  // or serves the next watch. So stopping a watch costs nothing (no cancel),
  // and the next request's read waits behind it instead of trying the socket
  // first. Arming it costs one epoll_ctl. stop_watch() ends
  // the watch (its callback is never called after that) and may be called at
  // any time; a watch must be stopped before the next start_watch and before
  // the handler returns. WatchGuard does both.
  void start_watch(void (*on_gone)(void*), void* arg);
  void stop_watch();
  class WatchGuard {
   public:
    WatchGuard(Connection& c, void (*on_gone)(void*), void* arg) : c_(c) {
      c_.start_watch(on_gone, arg);
    }
    ~WatchGuard() { c_.stop_watch(); }
    WatchGuard(const WatchGuard&) = delete;
    WatchGuard& operator=(const WatchGuard&) = delete;

   private:
    Connection& c_;
  };
  bool client_gone() const { return client_gone_; }

  net::awaitable<void> run();
  void close_if_idle();

 private:
  // Sends a then b: one non-blocking send first (true when it took
  // everything); write_rest() waits for the rest with the write timeout.
  bool try_write(std::string_view& a, std::string_view& b);
  net::awaitable<bool> write_rest(std::string_view a, std::string_view b);
  net::awaitable<bool> write_buffers(std::string_view a, std::string_view b = {});
  void arm_watch();
  void on_watch_ready(const boost::system::error_code& ec);

  Server& server_;
  int worker_;
  beast::tcp_stream stream_;  // no deadlines of its own: timeout_ times the reads and writes
  OpTimeout timeout_;
  beast::flat_buffer buffer_;
  std::string remote_ip_;
  std::string head_;  // reused for response heads
  bool keep_alive_ = true;
  bool idle_ = true;
  bool client_gone_ = false;
  // The client watch.
  bool watching_ = false;
  int watch_waits_ = 0;  // watch waits not yet completed (0 or 1; run() outlives them)
  void (*watch_on_gone_)(void*) = nullptr;
  void* watch_arg_ = nullptr;
  // run() waiting for a request's bytes: the same readiness wait serves it.
  // (emplace, not assignment: Boost 1.81's any_completion_handler move
  // assignment wraps the handler in itself.)
  std::optional<net::any_completion_handler<void(boost::system::error_code)>> reader_;
};

// Handles requests; implemented by the gateway. Thread-safe (called on every
// worker thread), one call per request, which must write exactly one response.
class Handler {
 public:
  virtual ~Handler() = default;
  virtual net::awaitable<void> handle(Request& request, bool body_too_large, Connection& conn) = 0;
};

class Server {
 public:
  // Binds and listens (so local_port() is known) but serves nothing yet.
  static Result<std::unique_ptr<Server>> create(const ServerOptions& options, Handler& handler);
  ~Server();

  uint16_t local_port() const { return port_; }
  int io_threads() const { return static_cast<int>(workers_.size()); }
  net::io_context& worker_context(int i) { return workers_[i]->ioc; }
  const ServerOptions& options() const { return options_; }
  Handler& handler() { return handler_; }

  // Starts the I/O threads and returns.
  void start();
  // Graceful stop (see header comment); blocks until the threads have ended.
  // Safe from any thread but an I/O thread; idempotent.
  void stop();
  bool stopping() const { return stopping_.load(std::memory_order_relaxed); }

  // Connection bookkeeping, on the connection's worker thread.
  void add_connection(int worker, Connection* c);
  void remove_connection(int worker, Connection* c);

 private:
  struct Worker {
    net::io_context ioc{1};
    std::vector<Connection*> conns;  // touched only on this worker's thread
    std::thread thread;
  };
  Server(const ServerOptions& options, Handler& handler);
  net::awaitable<void> accept_loop();

  ServerOptions options_;
  Handler& handler_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<net::ip::tcp::acceptor> acceptor_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::mutex stop_mu_;
  bool started_ = false;
  bool stopped_ = false;
};

}  // namespace dg::http
