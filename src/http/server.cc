#include "http/server.h"

#include <algorithm>
#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/status.hpp>
#include <cstdio>
#include <tuple>

#include "http/errors.h"

namespace dg::http {
namespace bhttp = beast::http;
namespace {

constexpr auto kNothrow = net::as_tuple(net::use_awaitable);

void append_decimal(std::string& out, size_t v);

void append_status_line(std::string& out, int status) {
  out += "HTTP/1.1 ";
  append_decimal(out, static_cast<size_t>(status < 0 ? 0 : status));
  out += ' ';
  auto reason = bhttp::obsolete_reason(static_cast<bhttp::status>(status));
  out.append(reason.data(), reason.size());
  out += "\r\n";
}

void append_decimal(std::string& out, size_t v) {
  char buf[24];
  char* end = buf + sizeof buf;
  char* p = end;
  do {
    *--p = static_cast<char>('0' + v % 10);
    v /= 10;
  } while (v != 0);
  out.append(p, static_cast<size_t>(end - p));
}

void append_headers(std::string& out, const HeaderList& extra) {
  for (const auto& [k, v] : extra) {
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
}

}  // namespace

// ---------------------------------------------------------------- Connection

Connection::Connection(Server& server, int worker, net::ip::tcp::socket socket)
    : server_(server),
      worker_(worker),
      stream_(std::move(socket)),
      timeout_(
          stream_.get_executor(),
          std::min({server.options().keepalive_timeout, server.options().read_timeout,
                    server.options().write_timeout}),
          [](void* c) {
            boost::system::error_code ec;
            static_cast<Connection*>(c)->stream_.socket().cancel(
                ec);  // the timed-out operation fails
          },
          this) {
  boost::system::error_code ec;
  stream_.socket().non_blocking(true, ec);  // for the speculative writes
  auto ep = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ip_ = ep.address().to_string();
  stream_.socket().set_option(net::ip::tcp::no_delay(true), ec);
  head_.reserve(512);
}

bool Connection::try_write(std::string_view& a, std::string_view& b) {
  // Most writes fit the socket buffer: one non-blocking send, no timer.
  std::array<net::const_buffer, 2> bufs{net::buffer(a.data(), a.size()),
                                        net::buffer(b.data(), b.size())};
  boost::system::error_code wec;
  size_t sent = stream_.socket().write_some(bufs, wec);
  if (!wec && sent == a.size() + b.size()) return true;
  if (wec && wec != net::error::would_block && wec != net::error::try_again) {
    client_gone_ = true;
    return false;
  }
  if (sent >= a.size()) {
    b.remove_prefix(sent - a.size());
    a = {};
  } else {
    a.remove_prefix(sent);
  }
  return false;
}

net::awaitable<bool> Connection::write_rest(std::string_view a, std::string_view b) {
  std::array<net::const_buffer, 2> bufs{net::buffer(a.data(), a.size()),
                                        net::buffer(b.data(), b.size())};
  timeout_.begin(server_.options().write_timeout);
  auto [ec, n] = co_await net::async_write(stream_, bufs, kNothrow);
  (void)n;
  timeout_.end();
  if (ec) {
    client_gone_ = true;
    co_return false;
  }
  co_return true;
}

net::awaitable<bool> Connection::write_buffers(std::string_view a, std::string_view b) {
  if (client_gone_) co_return false;
  if (try_write(a, b)) co_return true;
  if (client_gone_) co_return false;
  co_return co_await write_rest(a, b);
}

// The write calls below inline write_buffers' fast path: no nested coroutine
// frame when the socket takes everything at once.
net::awaitable<bool> Connection::write_response(int status, std::string_view content_type,
                                                std::string_view body, const HeaderList& extra) {
  if (client_gone_) co_return false;
  head_.clear();
  append_status_line(head_, status);
  head_ += "Content-Type: ";
  head_ += content_type;
  head_ += "\r\nContent-Length: ";
  append_decimal(head_, body.size());
  head_ += "\r\n";
  append_headers(head_, extra);
  if (!keep_alive_) head_ += "Connection: close\r\n";
  head_ += "\r\n";
  std::string_view a = head_;
  if (try_write(a, body)) co_return true;
  if (client_gone_) co_return false;
  co_return co_await write_rest(a, body);
}

net::awaitable<bool> Connection::write_stream_head(int status, std::string_view content_type,
                                                   const HeaderList& extra) {
  if (client_gone_) co_return false;
  head_.clear();
  append_status_line(head_, status);
  head_ += "Content-Type: ";
  head_ += content_type;
  head_ += "\r\nCache-Control: no-cache\r\nTransfer-Encoding: chunked\r\n";
  append_headers(head_, extra);
  if (!keep_alive_) head_ += "Connection: close\r\n";
  head_ += "\r\n";
  std::string_view a = head_, b;
  if (try_write(a, b)) co_return true;
  if (client_gone_) co_return false;
  co_return co_await write_rest(a, b);
}

net::awaitable<bool> Connection::write_chunk(std::string_view data) {
  if (data.empty() || client_gone_) co_return !client_gone_;  // an empty chunk would end the body
  // Chunk framing around the caller's bytes (not copied): "<hex>\r\n" data "\r\n".
  char prefix[24];
  int n = std::snprintf(prefix, sizeof prefix, "%zx\r\n", data.size());
  std::string_view pre(prefix, static_cast<size_t>(n));
  static constexpr std::string_view kCrlf = "\r\n";
  std::array<net::const_buffer, 3> bufs{net::buffer(pre.data(), pre.size()),
                                        net::buffer(data.data(), data.size()),
                                        net::buffer(kCrlf.data(), kCrlf.size())};
  const size_t total = pre.size() + data.size() + kCrlf.size();
  boost::system::error_code wec;
  size_t sent = stream_.socket().write_some(bufs, wec);
  if (!wec && sent == total) co_return true;
  if (wec && wec != net::error::would_block && wec != net::error::try_again) {
    client_gone_ = true;
    co_return false;
  }
  // Rare: the socket took only part of it; wait for the rest from one copy.
  head_.assign(pre);
  head_.append(data);
  head_.append(kCrlf);
  std::string_view rest = std::string_view(head_).substr(sent);
  co_return co_await write_rest(rest, {});
}

net::awaitable<bool> Connection::write_stream_end() {
  co_return co_await write_buffers("0\r\n\r\n");
}

void Connection::start_watch(void (*on_gone)(void*), void* arg) {
  watching_ = true;
  watch_on_gone_ = on_gone;
  watch_arg_ = arg;
  if (client_gone_ || watch_waits_ > 0) return;  // an earlier watch's wait is still pending
  arm_watch();
}

void Connection::stop_watch() {
  // The pending wait (if any) stays for the next watch. Cancelling it would
  // cost a turn of the event loop.
  watching_ = false;
  watch_on_gone_ = nullptr;
  watch_arg_ = nullptr;
}

void Connection::arm_watch() {
  ++watch_waits_;
  // A readiness wait: it reads nothing, so while it is pending the next
  // request's read queues behind it (no speculative read that fails with
  // EAGAIN), and its completion costs no system call.
  stream_.socket().async_wait(net::socket_base::wait_read,
                              [this](const boost::system::error_code& ec) { on_watch_ready(ec); });
}

void Connection::on_watch_ready(const boost::system::error_code& ec) {
  constexpr size_t kMaxPipelined = 1 << 20;
  --watch_waits_;
  if (reader_ && *reader_) {  // run() waits for the next request's bytes
    (*reader_)(ec);           // empties *reader_ before it runs the handler
    return;
  }
  // Not watching: the next request arrived (or the client left); its read sees it.
  if (!watching_ || ec == net::error::operation_aborted) return;
  boost::system::error_code rec = ec;
  while (!rec) {
    // Readable: pipelined bytes (kept for the next request), EOF or an error.
    if (buffer_.size() >= kMaxPipelined) return;  // enough: stop reading, the exchange goes on
    size_t n = stream_.socket().read_some(buffer_.prepare(4096), rec);
    if (!rec) buffer_.commit(n);
  }
  if (rec == net::error::would_block || rec == net::error::try_again) {
    arm_watch();
    return;
  }
  client_gone_ = true;
  watching_ = false;
  auto* on_gone = watch_on_gone_;
  void* arg = watch_arg_;
  watch_on_gone_ = nullptr;
  if (on_gone) on_gone(arg);
}

void Connection::close_if_idle() {
  if (idle_) {
    boost::system::error_code ec;
    stream_.socket().cancel(ec);
  }
}

net::awaitable<void> Connection::run() {
  const ServerOptions& opt = server_.options();
  server_.add_connection(worker_, this);
  bool linger = false;
  while (!server_.stopping()) {
    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(opt.max_header_bytes));
    parser.body_limit(opt.max_body_bytes);
    idle_ = true;
    timeout_.begin(opt.keepalive_timeout);
    // The head, read and parsed here rather than by an async read: bytes that
    // are there are taken at once (no completion posted, no turn of the event
    // loop), and while the client watch's wait is pending the socket is not
    // tried (it has nothing: the wait completes when bytes arrive).
    boost::system::error_code ec;
    while (!parser.is_header_done()) {
      if (buffer_.size() > 0) {
        buffer_.consume(parser.put(buffer_.data(), ec));
        if (ec != bhttp::error::need_more) break;  // the head, or an error
        ec = {};
      }
      if (watch_waits_ == 0) {
        const size_t room = std::max<size_t>(512, buffer_.capacity() - buffer_.size());
        const size_t got = stream_.socket().read_some(buffer_.prepare(room), ec);
        if (!ec) {
          buffer_.commit(got);
          continue;
        }
        if (ec != net::error::would_block && ec != net::error::try_again) break;
      }
      std::tie(ec) =
          co_await net::async_initiate<decltype(kNothrow), void(boost::system::error_code)>(
              [this](auto handler) {
                reader_.emplace(std::move(handler));
                if (watch_waits_ == 0) arm_watch();
              },
              kNothrow);
      if (ec) break;
    }
    if (ec == net::error::eof)
      ec = parser.got_some() ? bhttp::error::partial_message : bhttp::error::end_of_stream;
    timeout_.end();
    idle_ = false;
    bool too_large = false;
    if (ec == bhttp::error::body_limit) {  // Content-Length above the limit
      too_large = true;
      ec = {};
    }
    if (ec) {
      if (ec.category() == bhttp::make_error_code(bhttp::error::end_of_stream).category() &&
          ec != bhttp::error::end_of_stream && ec != bhttp::error::partial_message) {
        keep_alive_ = false;
        std::string body = error_body("could not parse the HTTP request: " + ec.message(),
                                      "invalid_request_error", "bad_http");
        co_await write_response(400, "application/json", body, {});
      }
      break;
    }
    // (After a body_limit error the header may not be marked done.)
    auto cl = too_large ? boost::none : parser.content_length();
    if (too_large || (cl && *cl > opt.max_body_bytes)) {
      too_large = true;
    } else if (!parser.is_done()) {
      // Usually the body came in with the head: parse what is buffered
      // first, without an async operation.
      boost::system::error_code pec;
      while (!parser.is_done() && buffer_.size() > 0) {
        size_t used = parser.put(buffer_.data(), pec);
        buffer_.consume(used);
        if (pec || used == 0) break;
      }
      if (pec == bhttp::error::need_more) pec = {};
      if (pec == bhttp::error::body_limit) {
        too_large = true;
      } else if (pec) {
        break;
      } else if (!parser.is_done()) {
        // (A server may skip 100 Continue once body bytes have arrived.)
        auto expect = parser.get()[bhttp::field::expect];
        if (beast::iequals(expect, "100-continue")) {
          if (!co_await write_buffers("HTTP/1.1 100 Continue\r\n\r\n")) break;
        }
        timeout_.begin(opt.read_timeout);
        auto [ec2, n2] = co_await bhttp::async_read(stream_, buffer_, parser, kNothrow);
        (void)n2;
        timeout_.end();
        if (ec2 == bhttp::error::body_limit) {
          too_large = true;
        } else if (ec2) {
          break;
        }
      }
    }
    keep_alive_ = parser.get().keep_alive() && !too_large;
    Request req = parser.release();
    co_await server_.handler().handle(req, too_large, *this);
    linger = too_large;
    if (!keep_alive_ || client_gone_) break;
  }
  boost::system::error_code ec;
  stream_.socket().shutdown(net::ip::tcp::socket::shutdown_send, ec);
  if (linger && !client_gone_) {
    // The client may still be sending the body we refused: closing now would
    // reset the connection and could destroy our 413 before the client reads
    // it. Drain (bounded in bytes and time) until the client closes.
    char scratch[16384];
    size_t drained = 0;
    timeout_.begin(std::chrono::seconds(2));
    while (drained < (8u << 20)) {
      auto [rec, rn] = co_await stream_.async_read_some(net::buffer(scratch), kNothrow);
      if (rec) break;
      drained += rn;
    }
    timeout_.end();
  }
  stream_.socket().close(ec);
  // The client watch's wait (cancelled by the close) may still have its
  // completion queued: it refers to this connection, which must outlive it.
  while (watch_waits_ > 0) co_await net::post(stream_.get_executor(), net::use_awaitable);
  server_.remove_connection(worker_, this);
}

// -------------------------------------------------------------------- Server

namespace {

net::awaitable<void> run_connection(std::unique_ptr<Connection> c) {
  try {
    co_await c->run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "distillguard: connection error: %s\n", e.what());
  }
}

}  // namespace

Server::Server(const ServerOptions& options, Handler& handler)
    : options_(options), handler_(handler) {}

Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::create(const ServerOptions& options, Handler& handler) {
  if (options.io_threads < 1) return invalid_argument("io_threads must be >= 1");
  std::unique_ptr<Server> s(new Server(options, handler));
  for (int i = 0; i < options.io_threads; ++i) s->workers_.push_back(std::make_unique<Worker>());
  boost::system::error_code ec;
  auto addr = net::ip::make_address(options.host, ec);
  if (ec) return invalid_argument("bad listen address '" + options.host + "': " + ec.message());
  net::ip::tcp::endpoint ep(addr, options.port);
  auto acc = std::make_unique<net::ip::tcp::acceptor>(s->workers_[0]->ioc);
  acc->open(ep.protocol(), ec);
  if (!ec) acc->set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acc->bind(ep, ec);
  if (!ec) acc->listen(net::socket_base::max_listen_connections, ec);
  if (ec) {
    return unavailable("cannot listen on " + options.host + ":" + std::to_string(options.port) +
                       ": " + ec.message());
  }
  s->port_ = acc->local_endpoint(ec).port();
  s->acceptor_ = std::move(acc);
  return s;
}

net::awaitable<void> Server::accept_loop() {
  size_t next = 0;
  while (!stopping()) {
    Worker& w = *workers_[next];
    int index = static_cast<int>(next);
    next = (next + 1) % workers_.size();
    auto [ec, socket] = co_await acceptor_->async_accept(w.ioc, kNothrow);
    if (ec) {
      if (stopping() || ec == net::error::operation_aborted) co_return;
      // EMFILE and friends: back off briefly rather than spin.
      net::steady_timer t(acceptor_->get_executor(), std::chrono::milliseconds(50));
      co_await t.async_wait(kNothrow);
      continue;
    }
    auto conn = std::make_unique<Connection>(*this, index, std::move(socket));
    net::co_spawn(w.ioc, run_connection(std::move(conn)), net::detached);
  }
}

void Server::add_connection(int worker, Connection* c) { workers_[worker]->conns.push_back(c); }

void Server::remove_connection(int worker, Connection* c) {
  auto& v = workers_[worker]->conns;
  for (auto& p : v) {
    if (p == c) {
      p = v.back();
      v.pop_back();
      break;
    }
  }
}

void Server::start() {
  if (started_) return;
  started_ = true;
  net::co_spawn(workers_[0]->ioc, accept_loop(), net::detached);
  for (auto& w : workers_) {
    Worker* wp = w.get();
    w->thread = std::thread([wp] {
      // Runs until stop() calls ioc.stop(): a worker without connections idles.
      auto guard = net::make_work_guard(wp->ioc);
      wp->ioc.run();
    });
  }
}

void Server::stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    if (stopped_) return;
    stopped_ = true;
  }
  stopping_.store(true);
  if (!started_) return;
  // Stop accepting; wake idle keep-alive connections so they close.
  net::post(workers_[0]->ioc, [this] {
    boost::system::error_code ec;
    acceptor_->close(ec);
  });
  for (auto& w : workers_) {
    Worker* wp = w.get();
    net::post(wp->ioc, [wp] {
      for (Connection* c : wp->conns) c->close_if_idle();
    });
  }
  // In-flight requests finish (up to drain_timeout); then everything stops.
  struct Probe {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
    bool empty = false;
  };
  auto deadline = std::chrono::steady_clock::now() + options_.drain_timeout;
  bool drained = false;
  while (!drained && std::chrono::steady_clock::now() < deadline) {
    drained = true;
    for (auto& w : workers_) {
      Worker* wp = w.get();
      auto p = std::make_shared<Probe>();
      net::post(wp->ioc, [p, wp] {
        std::lock_guard<std::mutex> l(p->m);
        p->empty = wp->conns.empty();
        p->done = true;
        p->cv.notify_one();
      });
      std::unique_lock<std::mutex> l(p->m);
      if (!p->cv.wait_until(l, deadline, [&] { return p->done; }) || !p->empty) {
        drained = false;
        break;
      }
    }
    if (!drained) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (auto& w : workers_) w->ioc.stop();
  for (auto& w : workers_) {
    if (w->thread.joinable()) w->thread.join();
  }
}

}  // namespace dg::http
