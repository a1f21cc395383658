#include "http/upstream.h"

#include <openssl/ssl.h>

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/host_name_verification.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/url/parse.hpp>
#include <boost/url/url_view.hpp>
#include <charconv>
#include <tuple>

namespace dg::http {
namespace {
constexpr auto kNothrow = net::as_tuple(net::use_awaitable);
}

Result<UpstreamTarget> UpstreamTarget::from_url(std::string_view url) {
  auto parsed = boost::urls::parse_uri(url);
  if (!parsed) return invalid_argument("bad upstream url '" + std::string(url) + "'");
  boost::urls::url_view u = *parsed;
  UpstreamTarget t;
  std::string scheme(u.scheme());
  if (scheme == "https")
    t.tls = true;
  else if (scheme != "http")
    return invalid_argument("upstream url '" + std::string(url) +
                            "': scheme must be http or https");
  t.host = std::string(u.host_address());
  if (t.host.empty())
    return invalid_argument("upstream url '" + std::string(url) + "' has no host");
  if (!t.host.empty() && t.host.front() == '[' && t.host.back() == ']')
    t.host = t.host.substr(1, t.host.size() - 2);
  t.port = u.has_port() ? std::string(u.port()) : (t.tls ? "443" : "80");
  t.host_header = std::string(u.encoded_host_and_port());
  std::string path(u.encoded_path());
  while (!path.empty() && path.back() == '/') path.pop_back();
  t.base_path = path.empty() ? "/v1" : path;
  return t;
}

bool UpstreamTarget::serves(std::string_view model) const {
  for (const auto& m : models) {
    if (m == "*" || m == model) return true;
  }
  return false;
}

UpstreamConn::UpstreamConn(net::io_context& ioc, size_t target, net::ssl::context* tls,
                           std::chrono::milliseconds shortest)
    : timeout(
          ioc.get_executor(), shortest, [](void* c) { static_cast<UpstreamConn*>(c)->close(); },
          this),
      target_(target) {
  if (tls)
    ssl_ = std::make_unique<SslStream>(ioc, *tls);
  else
    tcp_ = std::make_unique<beast::tcp_stream>(ioc);
  // Room for a typical response head and body in one read (Beast reads at
  // most the buffer's free capacity, at least 512 bytes).
  buffer_.reserve(4096);
}

void UpstreamConn::close() {
  boost::system::error_code ec;
  tcp().socket().close(ec);
}

Result<std::shared_ptr<const UpstreamSet>> UpstreamSet::create(
    std::vector<UpstreamTarget> targets) {
  auto s = std::make_shared<UpstreamSet>();
  for (auto& t : targets) {
    auto prefix = [&](std::string_view path) {
      std::string h = "POST " + t.base_path + std::string(path) +
                      " HTTP/1.1\r\nHost: " + t.host_header +
                      "\r\nContent-Type: application/json\r\n";
      if (!t.api_key.empty()) h += "Authorization: Bearer " + t.api_key + "\r\n";
      h += "Content-Length: ";
      return h;
    };
    t.chat_head_prefix = prefix("/chat/completions");
    t.completions_head_prefix = prefix("/completions");
    t.models_head = "GET " + t.base_path + "/models HTTP/1.1\r\nHost: " + t.host_header + "\r\n";
    if (!t.api_key.empty()) t.models_head += "Authorization: Bearer " + t.api_key + "\r\n";
    t.models_head += "\r\n";
    if (!t.tls) {
      s->tls_.push_back(nullptr);
      continue;
    }
    auto ctx = std::make_unique<net::ssl::context>(net::ssl::context::tls_client);
    boost::system::error_code ec;
    if (t.tls_verify) {
      ctx->set_verify_mode(net::ssl::verify_peer, ec);
      if (!t.ca_file.empty()) {
        ctx->load_verify_file(t.ca_file, ec);
        if (ec)
          return invalid_argument("upstream '" + t.name + "': cannot load ca_file '" + t.ca_file +
                                  "': " + ec.message());
      } else {
        ctx->set_default_verify_paths(ec);
        if (ec)
          return invalid_argument("upstream '" + t.name + "': no system CA store: " + ec.message());
      }
    } else {
      ctx->set_verify_mode(net::ssl::verify_none, ec);
    }
    s->tls_.push_back(std::move(ctx));
  }
  s->targets_ = std::move(targets);
  return std::shared_ptr<const UpstreamSet>(std::move(s));
}

UpstreamPool::UpstreamPool(net::io_context& ioc, std::shared_ptr<const UpstreamSet> set)
    : ioc_(ioc), set_(std::move(set)), idle_(set_->targets().size()) {}

std::unique_ptr<UpstreamConn> UpstreamPool::take_idle(size_t target) {
  auto& v = idle_[target];
  while (!v.empty()) {
    std::unique_ptr<UpstreamConn> c = std::move(v.back());
    v.pop_back();
    if (c->tcp().socket().is_open()) return c;
  }
  return nullptr;
}

void UpstreamPool::give_back(std::unique_ptr<UpstreamConn> c) {
  auto& v = idle_[c->target()];
  size_t cap = set_->targets()[c->target()].pool_size;
  if (cap == 0) return;
  if (v.size() >= cap) v.erase(v.begin());  // drop the oldest
  v.push_back(std::move(c));
}

size_t UpstreamPool::idle_count() const {
  size_t n = 0;
  for (const auto& v : idle_) n += v.size();
  return n;
}

net::awaitable<Result<std::unique_ptr<UpstreamConn>>> UpstreamPool::connect(size_t target) {
  const UpstreamTarget& t = set_->targets()[target];
  auto c = std::make_unique<UpstreamConn>(ioc_, target, set_->tls_context(target),
                                          std::min(t.first_byte_timeout, t.idle_timeout));
  beast::tcp_stream& tcp = c->tcp();
  boost::system::error_code cec;
  boost::system::error_code aec;
  const net::ip::address addr = net::ip::make_address(t.host, aec);
  uint16_t port = 0;
  const auto [pend, perr] = std::from_chars(t.port.data(), t.port.data() + t.port.size(), port);
  if (!aec && perr == std::errc() && pend == t.port.data() + t.port.size()) {
    // A literal address needs no resolver (Asio runs getaddrinfo on a thread
    // of its own, started at the first resolve and kept for the process).
    tcp.expires_after(t.connect_timeout);
    std::tie(cec) = co_await tcp.async_connect(net::ip::tcp::endpoint(addr, port), kNothrow);
  } else {
    net::ip::tcp::resolver resolver(ioc_);
    auto [rec, results] = co_await resolver.async_resolve(t.host, t.port, kNothrow);
    if (rec)
      co_return unavailable("upstream '" + t.name + "': cannot resolve " + t.host + ": " +
                            rec.message());
    tcp.expires_after(t.connect_timeout);
    net::ip::tcp::endpoint ep;
    std::tie(cec, ep) = co_await tcp.async_connect(results, kNothrow);
  }
  if (cec == beast::error::timeout)
    co_return Status(StatusCode::kDeadlineExceeded, "upstream '" + t.name + "': connect timed out");
  if (cec)
    co_return unavailable("upstream '" + t.name + "': connect to " + t.host + ":" + t.port + ": " +
                          cec.message());
  boost::system::error_code ec;
  tcp.socket().set_option(net::ip::tcp::no_delay(true), ec);
  if (c->tls()) {
    auto& ssl = c->ssl();
    if (!SSL_set_tlsext_host_name(ssl.native_handle(), t.host.c_str()))
      co_return unavailable("upstream '" + t.name + "': cannot set SNI");
    if (t.tls_verify) ssl.set_verify_callback(net::ssl::host_name_verification(t.host));
    auto [hec] = co_await ssl.async_handshake(net::ssl::stream_base::client, kNothrow);
    if (hec == beast::error::timeout)
      co_return Status(StatusCode::kDeadlineExceeded,
                       "upstream '" + t.name + "': TLS handshake timed out");
    if (hec) co_return unavailable("upstream '" + t.name + "': TLS handshake: " + hec.message());
  }
  tcp.expires_never();
  co_return std::move(c);
}

}  // namespace dg::http
