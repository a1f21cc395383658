#include "stages/forward/forwarder.h"

#include <array>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/http/basic_parser.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/json.hpp>
#include <chrono>
#include <cstring>
#include <set>

#include "http/errors.h"
#include "http/sse.h"
#include "pipeline/chain.h"
#include "stages/forward/response_scan.h"

namespace dg::forward {
namespace json = boost::json;
namespace beast = boost::beast;
namespace bhttp = beast::http;
using boost::system::error_code;
using http::UpstreamConn;

namespace {

constexpr auto kNothrow = net::as_tuple(net::use_awaitable);
// The upstream's response head and body. Only the status and the
// Content-Type are kept from the head (the forwarder drops every other field),
// so parsing it allocates nothing: the Content-Type goes into a string owned
// by the upstream connection. Body bytes are written into the buffer given
// to set_body_buffer(), like beast's buffer_body: when it is full, parsing
// stops with error::need_buffer.
class ResponseParser final : public bhttp::basic_parser<false> {
 public:
  explicit ResponseParser(std::string& content_type) : content_type_(content_type) {
    content_type_.clear();
  }

  int status() const { return status_; }
  // The first Content-Type field's value ("" if none).
  std::string_view content_type() const { return content_type_; }
  void set_body_buffer(char* data, size_t size) {
    data_ = data;
    room_ = size;
  }
  size_t body_room() const { return room_; }

 private:
  void on_request_impl(bhttp::verb, beast::string_view, beast::string_view, int,
                       error_code&) override {}
  void on_response_impl(int code, beast::string_view, int, error_code&) override { status_ = code; }
  void on_field_impl(bhttp::field name, beast::string_view, beast::string_view value,
                     error_code&) override {
    if (name == bhttp::field::content_type && !have_content_type_) {
      content_type_.assign(value.data(), value.size());
      have_content_type_ = true;
    }
  }
  void on_header_impl(error_code&) override {}
  void on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) override {}
  size_t on_body_impl(beast::string_view body, error_code& ec) override { return take(body, ec); }
  void on_chunk_header_impl(std::uint64_t, beast::string_view, error_code&) override {}
  size_t on_chunk_body_impl(std::uint64_t, beast::string_view body, error_code& ec) override {
    return take(body, ec);
  }
  void on_finish_impl(error_code&) override {}

  size_t take(beast::string_view body, error_code& ec) {
    const size_t n = std::min(room_, body.size());
    if (n > 0) std::memcpy(data_, body.data(), n);
    data_ += n;
    room_ -= n;
    if (n < body.size()) ec = bhttp::error::need_buffer;
    return n;
  }

  std::string& content_type_;
  bool have_content_type_ = false;
  int status_ = 0;
  char* data_ = nullptr;
  size_t room_ = 0;
};

double ms_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
}

// Plain TCP: sends what the socket takes now, without waiting (usually all
// of it: no timer, no coroutine). True when everything went; otherwise
// head/body are what is left (ec set on a real error). TLS: sends nothing.
bool try_send(UpstreamConn& c, std::string_view& head, std::string_view& body, error_code& ec) {
  if (c.tls()) return false;
  auto& sock = c.tcp().socket();
  if (!sock.non_blocking()) {
    sock.non_blocking(true, ec);  // once per connection
    if (ec) return false;
  }
  std::array<net::const_buffer, 2> bufs{net::buffer(head.data(), head.size()),
                                        net::buffer(body.data(), body.size())};
  size_t sent = sock.write_some(bufs, ec);
  if (!ec && sent == head.size() + body.size()) return true;
  if (ec == net::error::would_block || ec == net::error::try_again) ec = {};
  if (sent >= head.size()) {
    body.remove_prefix(sent - head.size());
    head = {};
  } else {
    head.remove_prefix(sent);
  }
  return false;
}

// Advances the parser on bytes already buffered from the upstream, without
// waiting (the usual case for a small body that came with its head). True
// if that was enough for progress; false when the socket must be read.
bool parse_buffered(UpstreamConn& c, ResponseParser& p, error_code& ec) {
  auto& b = c.buffer();
  if (b.size() == 0) return false;
  size_t used = p.put(b.data(), ec);
  b.consume(used);
  if (ec == bhttp::error::need_more) {
    ec = {};
    return false;
  }
  return true;
}

// One scanner per I/O thread: its buffers stay warm from request to request.
ResponseScanner& scanner() {
  static thread_local ResponseScanner s;
  return s;
}

// Collects usage, finish reasons and (optionally) content from a response.
// Bodies and chunks are read with ResponseScanner (no JSON tree); only a
// document with a top-level "error" (kept whole in the summary) or one a
// transform already parsed goes through the DOM.
class Capture {
 public:
  Capture(bool keep_content, bool chat) : keep_content_(keep_content), chat_(chat) {}

  // A whole (non-streamed) JSON body, unparsed.
  void on_body_text(std::string_view body) {
    ScanResult r = scanner().scan(body, chat_ ? ResponseShape::kChatBody : ResponseShape::kText);
    if (!r.ok) return;
    if (r.has_error) {
      error_code ec;
      json::value v = json::parse(body, ec);
      if (!ec && v.is_object()) on_body(v.get_object());
      return;
    }
    apply(r, false);
  }

  void on_body(const json::object& body) {
    take_usage(body);
    if (auto it = body.find("error"); it != body.end()) error_ = it->value();
    auto ch = body.find("choices");
    if (ch == body.end() || !ch->value().is_array()) return;
    for (const auto& cv : ch->value().get_array()) {
      if (!cv.is_object()) continue;
      const auto& c = cv.get_object();
      Choice& out = choice(c);
      take_finish(c, out);
      const json::object* src = &c;
      if (chat_) {
        auto m = c.find("message");
        if (m == c.end() || !m->value().is_object()) continue;
        src = &m->value().get_object();
      }
      take_text(*src, chat_ ? "content" : "text", out.content);
      take_text(*src, "reasoning_content", out.reasoning);
    }
  }

  // One SSE event's data, or `parsed` (then `data` is not read) when someone
  // already parsed it.
  void on_event_data(std::string_view data, const json::object* parsed) {
    if (!parsed && (data.empty() || data == "[DONE]")) return;
    json::value holder;
    if (!parsed) {
      bool has_usage = data.find("\"usage\"") != std::string_view::npos &&
                       data.find("\"usage\":null") == std::string_view::npos &&
                       data.find("\"usage\": null") == std::string_view::npos;
      if (keep_content_ || has_usage) {
        ScanResult r =
            scanner().scan(data, chat_ ? ResponseShape::kChatChunk : ResponseShape::kText);
        if (r.ok && !r.has_error) {
          apply(r, true);
          return;
        }
        if (r.ok) {  // an error object: keep it whole
          error_code ec;
          holder = json::parse(data, ec);
          if (!ec && holder.is_object()) parsed = &holder.get_object();
        }
      }
    }
    if (!parsed) {  // the cheap scan
      if (auto fr = find_json_string(data, "finish_reason")) last_finish_ = std::string(*fr);
      if (auto t = find_json_string(data, chat_ ? "content" : "text")) {
        content_chars_ += static_cast<int64_t>(t->size());
        ++content_chunks_;
      }
      return;
    }
    take_usage(*parsed);
    if (auto it = parsed->find("error"); it != parsed->end()) error_ = it->value();
    auto ch = parsed->find("choices");
    if (ch == parsed->end() || !ch->value().is_array()) return;
    for (const auto& cv : ch->value().get_array()) {
      if (!cv.is_object()) continue;
      const auto& c = cv.get_object();
      Choice& out = choice(c);
      take_finish(c, out);
      const json::object* src = &c;
      if (chat_) {
        auto d = c.find("delta");
        if (d == c.end() || !d->value().is_object()) continue;
        src = &d->value().get_object();
      }
      size_t before = out.content.size();
      take_text(*src, chat_ ? "content" : "text", out.content);
      take_text(*src, "reasoning_content", out.reasoning);
      if (out.content.size() != before) ++content_chunks_;
    }
  }

  void finish(ExchangeContext& ctx) {
    // Built in the summary's own storage, each container sized once (no
    // rehash, no copy when it is moved into place).
    const json::storage_ptr sp = ctx.response_summary.storage();
    int64_t completion_est = 0;
    for (const auto& c : choices_)
      completion_est += static_cast<int64_t>(c.content.size() + c.reasoning.size());
    completion_est = std::max<int64_t>((completion_est + content_chars_) / 4, content_chunks_);
    json::object usage(3, sp);
    if (have_usage_) {
      ctx.prompt_tokens = prompt_;
      ctx.completion_tokens = completion_;
    } else {
      ctx.prompt_tokens = estimate_prompt_tokens(ctx.request);
      ctx.completion_tokens = completion_est;
      usage.emplace("estimated", true);
    }
    usage.emplace("prompt_tokens", ctx.prompt_tokens);
    usage.emplace("completion_tokens", ctx.completion_tokens);
    json::array choices(sp);
    choices.reserve(std::max<size_t>(choices_.size(), 1));
    if (choices_.empty() && !last_finish_.empty()) {
      json::object c(2, sp);
      c.emplace("index", 0);
      c.emplace("finish_reason", json::string_view(last_finish_));
      choices.emplace_back(std::move(c));
    }
    for (size_t i = 0; i < choices_.size(); ++i) {
      const Choice& ch = choices_[i];
      json::object c(3, sp);
      c.emplace("index", static_cast<int64_t>(i));
      if (!ch.finish.empty())
        c.emplace("finish_reason", json::string_view(ch.finish));
      else if (i == 0 && !last_finish_.empty())
        c.emplace("finish_reason", json::string_view(last_finish_));
      else
        c.emplace("finish_reason", nullptr);
      if (keep_content_) {
        json::object m(3, sp);
        m.emplace("role", "assistant");
        m.emplace("content", json::string_view(ch.content));
        if (!ch.reasoning.empty()) m.emplace("reasoning_content", json::string_view(ch.reasoning));
        c.emplace("message", std::move(m));
      }
      choices.emplace_back(std::move(c));
    }
    json::object summary(3, sp);
    summary.emplace("usage", std::move(usage));
    summary.emplace("choices", std::move(choices));
    if (!error_.is_null()) summary.emplace("error", error_);
    if (ctx.upstream_failed) {
      json::object e(3, sp);
      e.emplace("type", "upstream_error");
      e.emplace("code", "upstream_failed");
      e.emplace("message", json::string_view(ctx.upstream_error));
      summary["error"] = std::move(e);
    }
    ctx.response_summary = std::move(summary);
  }

 private:
  struct Choice {
    std::string finish;
    std::string content;
    std::string reasoning;
  };

  // What the scanner read, applied as on_body / on_event_data apply the DOM.
  void apply(const ScanResult& r, bool event) {
    if (r.has_usage) {
      prompt_ = r.prompt_tokens;
      completion_ = r.completion_tokens;
      have_usage_ = true;
    }
    for (size_t i = 0; i < r.choice_count; ++i) {
      const ScannedChoice& sc = r.choices[i];
      if (choices_.size() <= sc.index) choices_.resize(sc.index + 1);
      Choice& out = choices_[sc.index];
      if (sc.has_finish) out.finish = sc.finish;
      size_t before = out.content.size();
      if (sc.has_content) add_text(sc.content, out.content);
      if (sc.has_reasoning) add_text(sc.reasoning, out.reasoning);
      if (event && out.content.size() != before) ++content_chunks_;
    }
  }
  void add_text(std::string_view text, std::string& out) {
    if (keep_content_)
      out.append(text);
    else
      content_chars_ += static_cast<int64_t>(text.size());
  }

  Choice& choice(const json::object& c) {
    size_t idx = 0;
    if (auto it = c.find("index"); it != c.end() && it->value().is_int64()) {
      int64_t v = it->value().get_int64();
      if (v >= 0 && v < 128) idx = static_cast<size_t>(v);
    }
    if (choices_.size() <= idx) choices_.resize(idx + 1);
    return choices_[idx];
  }
  void take_usage(const json::object& o) {
    auto it = o.find("usage");
    if (it == o.end() || !it->value().is_object()) return;
    const auto& u = it->value().get_object();
    auto num = [&](std::string_view k) -> int64_t {
      auto f = u.find(k);
      if (f == u.end() || !f->value().is_number()) return 0;
      return f->value().to_number<int64_t>();
    };
    prompt_ = num("prompt_tokens");
    completion_ = num("completion_tokens");
    have_usage_ = true;
  }
  static void take_finish(const json::object& c, Choice& out) {
    auto f = c.find("finish_reason");
    if (f != c.end() && f->value().is_string()) out.finish = std::string(f->value().get_string());
  }
  void take_text(const json::object& o, std::string_view key, std::string& out) {
    auto f = o.find(key);
    if (f == o.end() || !f->value().is_string()) return;
    if (keep_content_)
      out.append(f->value().get_string());
    else
      content_chars_ += static_cast<int64_t>(f->value().get_string().size());
  }

  bool keep_content_;
  bool chat_;
  bool have_usage_ = false;
  int64_t prompt_ = 0;
  int64_t completion_ = 0;
  int64_t content_chars_ = 0;
  int64_t content_chunks_ = 0;
  std::string last_finish_;
  json::value error_;
  std::vector<Choice> choices_;
};

// Everything one proxied exchange needs, shared by the proxy coroutine and the
// client watcher.
struct Exchange {
  const http::UpstreamTarget& target;
  size_t target_index;
  ExchangeContext& ctx;
  http::Connection& client;
  Forwarder::WorkerState& ws;
  std::string head;
  std::string_view body;
  const ForwardOptions& options;
  Capture capture;
  ForwardResult result;
  UpstreamConn* current = nullptr;  // the upstream connection in use, for cancel
};

LocalReply upstream_error_reply(const error_code& ec, const http::UpstreamTarget& t,
                                std::string_view what) {
  if (ec == beast::error::timeout) {
    return http::gateway_error(http::GatewayError::kUpstreamTimeout,
                               "upstream '" + t.name + "' timed out (" + std::string(what) + ")");
  }
  return http::gateway_error(
      http::GatewayError::kUpstreamUnreachable,
      "upstream '" + t.name + "' unreachable (" + std::string(what) + "): " + ec.message());
}

net::awaitable<void> relay_stream(Exchange& x, std::unique_ptr<UpstreamConn> uc, ResponseParser& p);
net::awaitable<void> relay_body(Exchange& x, std::unique_ptr<UpstreamConn> uc, ResponseParser& p,
                                std::string_view ctype);

// Reads more of the response body into the parser: from the bytes already
// buffered when they suffice, else from the socket (timed by the idle timeout;
// its expiry reads as beast::error::timeout). The awaits are written out at
// each call site (a helper coroutine would cost a frame per read).
#define DG_READ_BODY(x, uc, p, ec)                                                     \
  if (!parse_buffered(*(uc), (p), (ec))) {                                             \
    (uc)->timeout.begin((x).target.idle_timeout);                                      \
    if ((uc)->tls()) {                                                                 \
      auto [rec_, rn_] =                                                               \
          co_await bhttp::async_read_some((uc)->ssl(), (uc)->buffer(), (p), kNothrow); \
      (ec) = rec_;                                                                     \
    } else {                                                                           \
      auto [rec_, rn_] =                                                               \
          co_await bhttp::async_read_some((uc)->tcp(), (uc)->buffer(), (p), kNothrow); \
      (ec) = rec_;                                                                     \
    }                                                                                  \
    (uc)->timeout.end();                                                               \
    if ((ec) && (uc)->timeout.expired()) (ec) = beast::error::timeout;                 \
  }

net::awaitable<void> proxy(Exchange& x) {
  co_await net::this_coro::throw_if_cancelled(false);
  http::UpstreamPool& pool = x.ws.pool;
  std::unique_ptr<UpstreamConn> uc = pool.take_idle(x.target_index);
  std::optional<ResponseParser> p;
  for (int attempt = 0;; ++attempt) {
    bool reused = uc != nullptr;
    if (!uc) {
      auto r = co_await pool.connect(x.target_index);
      if (!r.ok()) {
        if (r.status().code() == StatusCode::kDeadlineExceeded)
          x.result.error =
              http::gateway_error(http::GatewayError::kUpstreamTimeout, r.status().message());
        else
          x.result.error =
              http::gateway_error(http::GatewayError::kUpstreamUnreachable, r.status().message());
        co_return;
      }
      uc = std::move(r).value();
    }
    if (x.client.client_gone()) co_return;
    x.current = uc.get();
    auto sent_at = std::chrono::steady_clock::now();
    uc->timeout.begin(x.target.first_byte_timeout);
    error_code ec;
    std::string_view head = x.head, body = x.body;
    if (!try_send(*uc, head, body, ec) && !ec) {
      std::array<net::const_buffer, 2> bufs{net::buffer(head.data(), head.size()),
                                            net::buffer(body.data(), body.size())};
      if (uc->tls()) {
        auto [wec, n] = co_await net::async_write(uc->ssl(), bufs, kNothrow);
        ec = wec;
      } else {
        auto [wec, n] = co_await net::async_write(uc->tcp(), bufs, kNothrow);
        ec = wec;
      }
    }
    p.emplace(uc->content_type);
    p->body_limit(boost::none);
    if (!ec) {
      if (uc->tls()) {
        auto [rec, n] = co_await bhttp::async_read_header(uc->ssl(), uc->buffer(), *p, kNothrow);
        ec = rec;
      } else {
        auto [rec, n] = co_await bhttp::async_read_header(uc->tcp(), uc->buffer(), *p, kNothrow);
        ec = rec;
      }
    }
    uc->timeout.end();
    if (ec && uc->timeout.expired()) ec = beast::error::timeout;
    if (!ec) {
      x.result.upstream_first_byte_ms = ms_since(sent_at);
      break;
    }
    x.current = nullptr;
    uc->close();
    uc.reset();
    if (x.client.client_gone()) co_return;
    if (reused && attempt == 0 && !p->got_some() && ec != beast::error::timeout) continue;
    x.result.error =
        upstream_error_reply(ec, x.target, p->got_some() ? "bad response head" : "no response");
    co_return;
  }
  ++uc->uses;
  std::string_view ctype = p->content_type();
  if (ctype.substr(0, 17) == "text/event-stream")
    co_await relay_stream(x, std::move(uc), *p);
  else
    co_await relay_body(x, std::move(uc), *p, ctype);
}

// Records what the transforms sent the client, not what the upstream sent:
// the chunk after the transforms when it took the tree path (`parsed`), else
// every event in `sent` (the text path's rewritten event, chunks a transform
// flushed at the end of the stream, or an event passed through unchanged).
void capture_sent(Exchange& x, std::string_view sent, const json::object* parsed,
                  std::string& scratch) {
  if (parsed) {
    x.capture.on_event_data({}, parsed);
    return;
  }
  for (std::string_view ev = http::next_event(&sent); !ev.empty(); ev = http::next_event(&sent))
    x.capture.on_event_data(http::event_data(ev, scratch), nullptr);
}

net::awaitable<void> relay_stream(Exchange& x, std::unique_ptr<UpstreamConn> uc,
                                  ResponseParser& p) {
  ExchangeContext& ctx = x.ctx;
  x.result.streamed = true;
  ++x.ws.active_streams;
  struct Dec {
    int& n;
    ~Dec() { --n; }
  } dec{x.ws.active_streams};
  ctx.status = p.status();
  if (!co_await x.client.write_stream_head(ctx.status, "text/event-stream", ctx.response_headers)) {
    x.current = nullptr;
    uc->close();
    co_return;
  }
  http::SseFramer framer;
  std::optional<pipeline::StreamTransformer> tr;
  if (!ctx.transforms().empty()) tr.emplace(ctx.transforms());
  std::string out;
  std::string scratch;
  bool failed = false;
  std::string reason;
  char* buf = uc->body_buf.data();
  const size_t cap = uc->body_buf.size();
  while (!p.is_done()) {
    p.set_body_buffer(buf, cap);
    error_code ec;
    DG_READ_BODY(x, uc, p, ec)
    if (ec == bhttp::error::need_buffer) ec = {};
    size_t got = cap - p.body_room();
    if (got > 0) {
      std::string_view complete = framer.take(std::string_view(buf, got));
      if (!complete.empty()) {
        std::string_view relay = complete;
        std::string_view rest = complete;
        if (tr) {
          out.clear();
          for (std::string_view ev = http::next_event(&rest); !ev.empty();
               ev = http::next_event(&rest)) {
            const json::object* parsed = nullptr;
            const size_t at = out.size();
            tr->process_event(ev, out, &parsed);
            capture_sent(x, std::string_view(out).substr(at), parsed, scratch);
          }
          relay = out;
        } else {
          for (std::string_view ev = http::next_event(&rest); !ev.empty();
               ev = http::next_event(&rest))
            x.capture.on_event_data(http::event_data(ev, scratch), nullptr);
        }
        if (!co_await x.client.write_chunk(relay)) {
          x.current = nullptr;
          uc->close();
          co_return;
        }
      }
      if (framer.overflow()) {
        failed = true;
        reason = "upstream '" + x.target.name + "' sent an oversized SSE event";
        break;
      }
    }
    if (ec) {
      if (x.client.client_gone()) co_return;
      failed = true;
      reason = ec == beast::error::timeout
                   ? "upstream '" + x.target.name + "' went silent mid-stream (idle timeout)"
                   : "upstream '" + x.target.name + "' failed mid-stream: " + ec.message();
      break;
    }
  }
  x.current = nullptr;
  out.clear();
  if (tr && !tr->ended()) {
    tr->finish(out);
    capture_sent(x, out, nullptr, scratch);
  }
  if (failed) {
    ctx.upstream_failed = true;
    ctx.upstream_error = reason;
    out += http::sse_error_event(http::gateway_error(http::GatewayError::kUpstreamFailed, reason));
  }
  if (!out.empty()) co_await x.client.write_chunk(out);
  co_await x.client.write_stream_end();
  if (!failed && p.keep_alive())
    x.ws.pool.give_back(std::move(uc));
  else
    uc->close();
}

net::awaitable<void> relay_body(Exchange& x, std::unique_ptr<UpstreamConn> uc, ResponseParser& p,
                                std::string_view ctype) {
  ExchangeContext& ctx = x.ctx;
  // The body is read into the connection's scratch buffer; only a body larger
  // than that spills into a string (no allocation for a typical answer).
  char* buf = uc->body_buf.data();
  const size_t cap = uc->body_buf.size();
  std::string spill;
  size_t got = 0;
  while (!p.is_done()) {
    if (got == cap) {
      if (spill.empty())
        if (auto len = p.content_length(); len && *len <= x.options.max_response_bytes)
          spill.reserve(*len);
      spill.append(buf, got);
      got = 0;
    }
    p.set_body_buffer(buf + got, cap - got);
    error_code ec;
    DG_READ_BODY(x, uc, p, ec)
    if (ec == bhttp::error::need_buffer) ec = {};
    got = cap - p.body_room();
    if (!ec && spill.size() + got > x.options.max_response_bytes) ec = bhttp::error::body_limit;
    if (ec) {
      x.current = nullptr;
      uc->close();
      if (x.client.client_gone()) co_return;
      ctx.upstream_failed = true;
      ctx.upstream_error = "upstream '" + x.target.name + "' failed mid-response: " + ec.message();
      x.result.error =
          ec == beast::error::timeout
              ? http::gateway_error(http::GatewayError::kUpstreamTimeout, ctx.upstream_error)
              : http::gateway_error(http::GatewayError::kUpstreamFailed, ctx.upstream_error);
      co_return;
    }
  }
  x.current = nullptr;
  std::string_view body(buf, got);
  if (!spill.empty()) {
    spill.append(buf, got);
    body = spill;
  }
  const bool keep = p.keep_alive();
  const int status = p.status();
  if (ctype.empty()) ctype = "application/json";
  std::string edited;
  if (ctype.find("json") != std::string_view::npos) {
    if (!ctx.transforms().empty() && status < 300) {
      error_code ec;
      json::value v = json::parse(body, ec);
      if (!ec && v.is_object()) {
        pipeline::apply_body_transforms(ctx, v.get_object());
        x.capture.on_body(v.get_object());  // what the client gets
        edited = json::serialize(v);
        body = edited;
      }
    } else {
      x.capture.on_body_text(body);
    }
  }
  ctx.status = status;
  // The body may live in the upstream connection's buffer: hand the
  // connection back only once the client has it.
  co_await x.client.write_response(status, ctype, body, ctx.response_headers);
  if (keep)
    x.ws.pool.give_back(std::move(uc));
  else
    uc->close();
}

#undef DG_READ_BODY

}  // namespace

Result<std::shared_ptr<Forwarder>> Forwarder::create(std::shared_ptr<const http::UpstreamSet> set,
                                                     ForwardOptions options) {
  if (!set || set->targets().empty()) return invalid_argument("no upstream configured");
  std::shared_ptr<Forwarder> f(new Forwarder());
  f->set_ = std::move(set);
  f->options_ = options;
  std::set<std::string> names;
  const auto& ts = f->set_->targets();
  for (size_t i = 0; i < ts.size(); ++i) {
    for (const auto& m : ts[i].models) {
      if (m == "*") {
        f->wildcard_.push_back(i);
      } else {
        f->by_model_[m].push_back(i);
        names.insert(m);
      }
    }
  }
  json::array data;
  for (const auto& n : names) {
    json::object m;
    m["id"] = n;
    m["object"] = "model";
    m["created"] = 0;
    m["owned_by"] = "distillguard";
    data.push_back(std::move(m));
  }
  json::object body;
  body["object"] = "list";
  body["data"] = std::move(data);
  f->models_body_ = json::serialize(body);
  return f;
}

const std::vector<size_t>& Forwarder::candidates(std::string_view model) const {
  auto it = by_model_.find(model);
  if (it != by_model_.end()) return it->second;
  return wildcard_;
}

bool Forwarder::has_model(std::string_view model) const { return !candidates(model).empty(); }

net::awaitable<ForwardResult> Forwarder::forward(ExchangeContext& ctx, std::string_view raw_body,
                                                 http::Connection& conn, WorkerState& ws) const {
  const bool chat = ctx.endpoint == "/v1/chat/completions";
  const bool models = ctx.endpoint == "/v1/models";
  std::string_view model = models ? std::string_view("*") : std::string_view();
  if (auto it = ctx.request.find("model");
      !models && it != ctx.request.end() && it->value().is_string())
    model = it->value().get_string();
  ForwardResult res;
  if (model.empty()) {
    res.error =
        http::gateway_error(http::GatewayError::kBadRequest, "you must provide a model parameter");
    co_return res;
  }
  const auto& cands = models ? wildcard_ : candidates(model);
  if (cands.empty()) {
    res.error = http::gateway_error(http::GatewayError::kUnknownModel,
                                    "The model `" + std::string(model) + "` does not exist");
    co_return res;
  }
  size_t target = cands[ws.rr++ % cands.size()];
  const http::UpstreamTarget& t = set_->targets()[target];
  std::string edited;
  std::string_view body = raw_body;
  if (ctx.request_modified) {
    edited = json::serialize(ctx.request);
    body = edited;
  }
  Exchange x{t,  target, ctx, conn, ws, {}, body, options_, Capture(options_.keep_content, chat),
             {}, nullptr};
  x.result.upstream = static_cast<int>(target);
  x.head.reserve(t.chat_head_prefix.size() + 24);
  if (models) {
    x.head = t.models_head;
    x.body = {};
  } else {
    x.head = chat ? t.chat_head_prefix : t.completions_head_prefix;
    x.head += std::to_string(body.size());
    x.head += "\r\n\r\n";
  }
  {
    // A client that goes away closes the upstream connection in use, which
    // ends whatever proxy() is waiting on.
    http::Connection::WatchGuard watch(
        conn,
        [](void* arg) {
          auto* ex = static_cast<Exchange*>(arg);
          if (ex->current) ex->current->close();
        },
        &x);
    co_await proxy(x);
  }
  x.result.client_gone = conn.client_gone();
  if (x.result.client_gone && ctx.status == 0) ctx.status = 499;
  if (!x.result.error && !models) x.capture.finish(ctx);
  co_return x.result;
}

std::optional<std::string_view> find_json_string(std::string_view json, std::string_view key) {
  size_t pos = 0;
  while (pos < json.size()) {
    size_t k = json.find(key, pos);
    if (k == std::string_view::npos) return std::nullopt;
    pos = k + key.size();
    if (k == 0 || json[k - 1] != '"' || pos >= json.size() || json[pos] != '"') continue;
    size_t i = pos + 1;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != ':') continue;
    ++i;
    while (i < json.size() && (json[i] == ' ' || json[i] == '\t')) ++i;
    if (i >= json.size() || json[i] != '"') return std::nullopt;  // null or not a string
    size_t start = ++i;
    while (i < json.size() && json[i] != '"') i += json[i] == '\\' ? 2 : 1;
    if (i >= json.size()) return std::nullopt;
    return json.substr(start, i - start);
  }
  return std::nullopt;
}

int64_t estimate_prompt_tokens(const boost::json::object& request) {
  int64_t chars = 0;
  if (auto m = request.find("messages"); m != request.end() && m->value().is_array()) {
    for (const auto& msg : m->value().get_array()) {
      if (!msg.is_object()) continue;
      chars += 16;  // role and framing
      auto c = msg.get_object().find("content");
      if (c == msg.get_object().end()) continue;
      if (c->value().is_string()) {
        chars += static_cast<int64_t>(c->value().get_string().size());
      } else if (c->value().is_array()) {
        for (const auto& part : c->value().get_array()) {
          if (!part.is_object()) continue;
          auto tx = part.get_object().find("text");
          if (tx != part.get_object().end() && tx->value().is_string())
            chars += static_cast<int64_t>(tx->value().get_string().size());
        }
      }
    }
  }
  if (auto p = request.find("prompt"); p != request.end()) {
    if (p->value().is_string())
      chars += static_cast<int64_t>(p->value().get_string().size());
    else if (p->value().is_array())
      for (const auto& s : p->value().get_array())
        if (s.is_string()) chars += static_cast<int64_t>(s.get_string().size());
  }
  return (chars + 3) / 4;
}

}  // namespace dg::forward
