// The replay upstream's HTTP/1.1 server (Boost.Beast, asynchronous, keep-alive):
// reads a request, asks the Responder for a Reply, waits the reply's delays on a
// timer (never blocking a thread), and writes a JSON body or a chunked
// text/event-stream, one HTTP chunk per timed group of SSE events.
//
// Lifetime: create() binds; run() serves on `threads` threads until stop() (or
// SIGINT/SIGTERM when handle_signals). stop() is thread-safe. The Responder must
// outlive the Server. Errors on one connection close that connection only.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "distillguard/status.h"
#include "replay/responder.h"

namespace dg::replay {

struct ServerConfig {
  std::string listen = "127.0.0.1:8000";  // HOST:PORT; port 0 = any free port
  int threads = 1;
  size_t body_limit = 8 << 20;  // bytes; larger requests get 413
  bool handle_signals = false;
};

class Server {
 public:
  static Result<std::unique_ptr<Server>> create(const ServerConfig& config,
                                                const Responder& responder);
  ~Server();
  // The bound address, e.g. "127.0.0.1:43127".
  std::string address() const;
  uint16_t port() const;
  void run();
  void stop();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Splits "HOST:PORT" (IPv6 as "[::1]:PORT").
Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s);

}  // namespace dg::replay
