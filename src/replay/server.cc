#include "replay/server.h"

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <array>
#include <charconv>
#include <chrono>
#include <thread>
#include <vector>

namespace dg::replay {
namespace net = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = net::ip::tcp;

Result<std::pair<std::string, uint16_t>> parse_host_port(std::string_view s) {
  const size_t colon = s.rfind(':');
  if (colon == std::string_view::npos || colon + 1 == s.size())
    return invalid_argument("expected HOST:PORT, got '" + std::string(s) + "'");
  std::string host(s.substr(0, colon));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  const auto p = s.substr(colon + 1);
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), port);
  if (ec != std::errc() || end != p.data() + p.size() || port > 65535)
    return invalid_argument("bad port in '" + std::string(s) + "'");
  if (host.empty()) host = "127.0.0.1";
  return std::make_pair(host, static_cast<uint16_t>(port));
}

namespace {

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, const Responder& responder, size_t body_limit)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), responder_(responder),
        body_limit_(body_limit) {}

  void start() { read(); }

 private:
  void read() {
    parser_.emplace();
    parser_->body_limit(body_limit_);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::body_limit) {
      reply_ = error_reply(413, "request body too large", "invalid_request_error", "body_too_large");
      keep_alive_ = false;
      return write_body();
    }
    if (ec) return close();
    auto& req = parser_->get();
    keep_alive_ = req.keep_alive();
    reply_ = responder_.respond(std::string_view(req.method_string()),
                                std::string_view(req.target()), req.body());
    if (!reply_.stream) {
      const TimeNs d = reply_.delays_ns.empty() ? 0 : reply_.delays_ns[0];
      if (d <= 0) return write_body();
      timer_.expires_after(std::chrono::nanoseconds(d));
      timer_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (!e) self->write_body();
      });
      return;
    }
    write_stream_header();
  }

  template <class Msg>
  void set_common(Msg& res) {
    res.version(11);
    res.set(http::field::server, "distillguard-replay");
    res.set(http::field::content_type, reply_.content_type);
    if (!reply_.match.empty()) res.set("x-replay-match", reply_.match);
    if (!reply_.source.empty()) res.set("x-replay-source", reply_.source);
    res.keep_alive(keep_alive_);
  }

  void write_body() {
    auto res = std::make_shared<http::response<http::string_body>>();
    res->result(static_cast<unsigned>(reply_.status));
    set_common(*res);
    res->body() = std::move(reply_.body);
    res->prepare_payload();
    http::async_write(socket_, *res, [self = shared_from_this(), res](beast::error_code ec, size_t) {
      self->after_response(ec);
    });
  }

  void write_stream_header() {
    header_.emplace();
    header_->result(static_cast<unsigned>(reply_.status));
    set_common(*header_);
    header_->set(http::field::cache_control, "no-cache");
    header_->chunked(true);
    serializer_.emplace(*header_);
    next_event_ = 0;
    // Events due at once travel together with the header's first chunk.
    http::async_write_header(socket_, *serializer_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) return self->close();
      self->next_group();
    });
  }

  // Writes the next group of events: one with a delay, and every following event
  // without one.
  void next_group() {
    if (next_event_ >= reply_.events.size()) {
      net::async_write(socket_, http::make_chunk_last(),
                       [self = shared_from_this()](beast::error_code ec, size_t) { self->after_response(ec); });
      return;
    }
    const TimeNs d = reply_.delays_ns[next_event_];
    if (d > 0) {
      timer_.expires_after(std::chrono::nanoseconds(d));
      timer_.async_wait([self = shared_from_this()](beast::error_code e) {
        if (e) return self->close();
        self->write_group();
      });
      return;
    }
    write_group();
  }

  void write_group() {
    group_.clear();
    group_ += reply_.events[next_event_++];
    while (next_event_ < reply_.events.size() && reply_.delays_ns[next_event_] <= 0)
      group_ += reply_.events[next_event_++];
    net::async_write(socket_, http::make_chunk(net::buffer(group_)),
                     [self = shared_from_this()](beast::error_code ec, size_t) {
                       if (ec) return self->close();
                       self->next_group();
                     });
  }

  void after_response(beast::error_code ec) {
    if (ec) return close();
    if (!keep_alive_) return linger_close();
    read();
  }

  // Half-closes, then discards what the client still sends (bounded: 1 s) before
  // closing, so a client still writing a refused body reads our reply instead of
  // a reset.
  void linger_close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    timer_.expires_after(std::chrono::seconds(1));
    timer_.async_wait([self = shared_from_this()](beast::error_code) { self->close(); });
    drain();
  }
  void drain() {
    socket_.async_read_some(net::buffer(discard_), [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec) {
        self->timer_.cancel();
        return self->close();
      }
      self->drain();
    });
  }

  void close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  const Responder& responder_;
  size_t body_limit_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  Reply reply_;
  bool keep_alive_ = true;
  std::optional<http::response<http::empty_body>> header_;
  std::optional<http::response_serializer<http::empty_body>> serializer_;
  size_t next_event_ = 0;
  std::string group_;
  std::array<char, 4096> discard_;
};

}  // namespace

struct Server::Impl {
  Impl(int threads, const Responder& r, size_t limit)
      : ioc(threads), acceptor(ioc), signals(ioc), responder(r), body_limit(limit), nthreads(threads) {}

  void accept() {
    acceptor.async_accept(net::make_strand(ioc), [this](beast::error_code ec, tcp::socket s) {
      if (ec == net::error::operation_aborted || !acceptor.is_open()) return;
      if (!ec) {
        s.set_option(tcp::no_delay(true), ec);
        std::make_shared<Session>(std::move(s), responder, body_limit)->start();
      }
      accept();
    });
  }

  net::io_context ioc;
  tcp::acceptor acceptor;
  net::signal_set signals;
  const Responder& responder;
  size_t body_limit;
  int nthreads;
  bool handle_signals = false;
};

Result<std::unique_ptr<Server>> Server::create(const ServerConfig& config, const Responder& responder) {
  DG_ASSIGN_OR_RETURN(auto hp, parse_host_port(config.listen));
  const int threads = std::max(1, config.threads);
  auto impl = std::make_unique<Impl>(threads, responder, config.body_limit);
  impl->handle_signals = config.handle_signals;
  beast::error_code ec;
  const auto addr = net::ip::make_address(hp.first, ec);
  if (ec) return invalid_argument("bad listen address '" + hp.first + "': " + ec.message());
  const tcp::endpoint ep(addr, hp.second);
  impl->acceptor.open(ep.protocol(), ec);
  if (!ec) impl->acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) impl->acceptor.bind(ep, ec);
  if (!ec) impl->acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) return unavailable("cannot listen on " + config.listen + ": " + ec.message());
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

uint16_t Server::port() const { return impl_->acceptor.local_endpoint().port(); }

std::string Server::address() const {
  const auto ep = impl_->acceptor.local_endpoint();
  const auto a = ep.address().to_string();
  return (ep.address().is_v6() ? "[" + a + "]" : a) + ":" + std::to_string(ep.port());
}

void Server::run() {
  if (impl_->handle_signals) {
    impl_->signals.add(SIGINT);
    impl_->signals.add(SIGTERM);
    impl_->signals.async_wait([this](beast::error_code ec, int) {
      if (!ec) stop();
    });
  }
  impl_->accept();
  std::vector<std::thread> extra;
  for (int i = 1; i < impl_->nthreads; ++i) extra.emplace_back([this] { impl_->ioc.run(); });
  impl_->ioc.run();
  for (auto& t : extra) t.join();
}

void Server::stop() { impl_->ioc.stop(); }

}  // namespace dg::replay
