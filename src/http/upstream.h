// The upstream client: pooled keep-alive connections to OpenAI-compatible
// servers, plain HTTP or TLS (OpenSSL through beast::ssl_stream: SNI, certificate
// and host name verification on by default, optional CA file).
//
// Timeouts: connect (TCP + TLS handshake; a beast::tcp_stream deadline, once
// per connection), first byte (request sent -> response head) and idle (max
// silence between two reads of the body), timed by the connection's
// OpTimeout (no timer armed per read). An expired timeout closes the socket:
// the pending operation fails and UpstreamConn::timeout.expired() is true.
//
// Pools are per worker thread (UpstreamPool is thread-confined: one per
// io_context), so taking and returning a connection takes no lock. A
// connection goes back to the pool only after a complete response that
// allowed keep-alive; the pool keeps at most `pool_size` idle connections per
// upstream and drops the oldest beyond that.
#pragma once

#include <array>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "distillguard/status.h"
#include "http/op_timeout.h"

namespace dg::http {

namespace net = boost::asio;
namespace beast = boost::beast;

struct UpstreamTarget {
  std::string name;
  bool tls = false;
  std::string host;                 // DNS name or address (also the TLS SNI / verified name)
  std::string port;                 // "80", "443", ...
  std::string base_path;            // path prefix replacing "/v1", e.g. "/v1" or "/openai/v1"
  std::string host_header;          // "host[:port]" as sent
  std::string api_key;              // "" = no Authorization header to the upstream
  std::vector<std::string> models;  // served model names; "*" = any
  std::chrono::milliseconds connect_timeout{2000};
  std::chrono::milliseconds first_byte_timeout{60000};
  std::chrono::milliseconds idle_timeout{30000};
  size_t pool_size = 64;
  bool tls_verify = true;
  std::string ca_file;  // "" = system store

  // Precomputed request heads up to "Content-Length: " (per endpoint).
  std::string chat_head_prefix;
  std::string completions_head_prefix;
  std::string models_head;  // the whole GET {base}/models request head

  // Parses "http[s]://host[:port][/prefix]". The prefix defaults to "/v1"
  // (client path "/v1/chat/completions" -> prefix + "/chat/completions").
  static Result<UpstreamTarget> from_url(std::string_view url);
  bool serves(std::string_view model) const;
};

// One connection to one upstream. Owned by the pool while idle, by the
// request while in use.
class UpstreamConn {
 public:
  using SslStream = beast::ssl_stream<beast::tcp_stream>;
  // `shortest`: the shortest of the target's first-byte and idle timeouts.
  UpstreamConn(net::io_context& ioc, size_t target, net::ssl::context* tls,
               std::chrono::milliseconds shortest);

  size_t target() const { return target_; }
  bool tls() const { return ssl_ != nullptr; }
  beast::tcp_stream& tcp() { return ssl_ ? beast::get_lowest_layer(*ssl_) : *tcp_; }
  SslStream& ssl() { return *ssl_; }
  beast::flat_buffer& buffer() { return buffer_; }
  // Requests served on this connection before the current one.
  int uses = 0;
  // Scratch for reading response bodies (reused with the connection).
  std::array<char, 16384> body_buf;
  // The current response's Content-Type (its capacity is reused too).
  std::string content_type;
  // Times the reads of the current exchange (begin/end around each); on
  // expiry the connection is closed.
  OpTimeout timeout;
  // Closes the socket; pending operations fail at once. Safe to call twice.
  void close();

 private:
  size_t target_;
  std::unique_ptr<beast::tcp_stream> tcp_;
  std::unique_ptr<SslStream> ssl_;
  beast::flat_buffer buffer_;
};

// The shared, immutable part: targets and their TLS contexts. Thread-safe.
class UpstreamSet {
 public:
  static Result<std::shared_ptr<const UpstreamSet>> create(std::vector<UpstreamTarget> targets);
  const std::vector<UpstreamTarget>& targets() const { return targets_; }
  net::ssl::context* tls_context(size_t i) const { return tls_[i].get(); }

 private:
  std::vector<UpstreamTarget> targets_;
  std::vector<std::unique_ptr<net::ssl::context>> tls_;
};

// Per-worker pool. Not thread-safe: use only on its io_context's thread.
class UpstreamPool {
 public:
  UpstreamPool(net::io_context& ioc, std::shared_ptr<const UpstreamSet> set);

  // An idle pooled connection to `target`, or null.
  std::unique_ptr<UpstreamConn> take_idle(size_t target);
  // A new, connected (and TLS-handshaken) connection. Errors: kDeadlineExceeded
  // (connect timeout), kUnavailable (refused, DNS, TLS failure).
  net::awaitable<Result<std::unique_ptr<UpstreamConn>>> connect(size_t target);
  // Returns a connection after a complete keep-alive response.
  void give_back(std::unique_ptr<UpstreamConn> c);

  const UpstreamSet& set() const { return *set_; }
  size_t idle_count() const;

 private:
  net::io_context& ioc_;
  std::shared_ptr<const UpstreamSet> set_;
  std::vector<std::vector<std::unique_ptr<UpstreamConn>>> idle_;
};

}  // namespace dg::http
