#include "replay/server.h"

#include <gtest/gtest.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>
#include <boost/json/parse.hpp>
#include <chrono>
#include <thread>

namespace dg::replay {
namespace {
namespace net = boost::asio;
namespace http = boost::beast::http;
namespace json = boost::json;
using tcp = net::ip::tcp;

Corpus corpus() {
  return std::move(Corpus::create({{"What is the capital of France?", "The capital of France is Paris.", "gpt-4",
                                    "t:1", ""}}))
      .value();
}

// A server on a free port, run on its own thread for the test's lifetime.
struct Running {
  explicit Running(const Responder& r, int threads = 1) {
    ServerConfig cfg;
    cfg.listen = "127.0.0.1:0";
    cfg.threads = threads;
    auto s = Server::create(cfg, r);
    EXPECT_TRUE(s.ok()) << s.status().to_string();
    server = std::move(s).value();
    thread = std::thread([this] { server->run(); });
  }
  ~Running() {
    server->stop();
    thread.join();
  }
  std::unique_ptr<Server> server;
  std::thread thread;
};

struct Client {
  explicit Client(uint16_t port) : socket(ioc) { socket.connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port)); }
  http::response<http::string_body> post(const std::string& target, const std::string& body) {
    http::request<http::string_body> req{http::verb::post, target, 11};
    req.set(http::field::host, "localhost");
    req.set(http::field::content_type, "application/json");
    req.body() = body;
    req.prepare_payload();
    http::write(socket, req);
    http::response<http::string_body> res;
    http::read(socket, buffer, res);
    return res;
  }
  net::io_context ioc;
  tcp::socket socket;
  boost::beast::flat_buffer buffer;
};

const std::string kChat = R"({"model":"teacher-1","messages":[{"role":"user","content":"What is the capital of France?"}])";

TEST(Server, AnswersAndKeepsTheConnectionAlive) {
  const Corpus c = corpus();
  Responder r(&c, {}, SystemClock::instance());
  Running srv(r);
  Client cl(srv.server->port());
  for (int i = 0; i < 3; ++i) {  // one connection, three exchanges
    auto res = cl.post("/v1/chat/completions", kChat + "}");
    ASSERT_EQ(res.result_int(), 200u);
    EXPECT_EQ(res[http::field::content_type], "application/json");
    EXPECT_EQ(res["x-replay-match"], "exact");
    EXPECT_EQ(json::parse(res.body()).at("choices").at(0).at("message").at("content").as_string(),
              "The capital of France is Paris.");
  }
}

TEST(Server, StreamsChunkedServerSentEvents) {
  const Corpus c = corpus();
  Responder r(&c, {}, SystemClock::instance());
  Running srv(r, 2);
  Client cl(srv.server->port());
  auto res = cl.post("/v1/chat/completions", kChat + R"(,"stream":true})");
  ASSERT_EQ(res.result_int(), 200u);
  EXPECT_TRUE(res.chunked());
  EXPECT_EQ(res[http::field::content_type], "text/event-stream");
  const Reply expected = r.respond("POST", "/v1/chat/completions", kChat + R"(,"stream":true})");
  size_t events = 0;
  for (size_t pos = 0; (pos = res.body().find("data: ", pos)) != std::string::npos; pos += 6) ++events;
  EXPECT_EQ(events, expected.events.size());
  EXPECT_EQ(res.body().substr(res.body().size() - 14), "data: [DONE]\n\n");
  // The connection is reusable after a stream.
  EXPECT_EQ(cl.post("/v1/chat/completions", kChat + "}").result_int(), 200u);
}

TEST(Server, WaitsTheTimeToFirstToken) {
  const Corpus c = corpus();
  ReplayOptions o;
  o.ttft_ms = 60;
  Responder r(&c, o, SystemClock::instance());
  Running srv(r);
  Client cl(srv.server->port());
  const auto t0 = std::chrono::steady_clock::now();
  auto res = cl.post("/v1/chat/completions", kChat + R"(,"stream":true})");
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(res.result_int(), 200u);
  EXPECT_GE(ms, 60);  // a timer, so this lower bound holds by construction
}

TEST(Server, BodyOverTheLimitGets413) {
  const Corpus c = corpus();
  Responder r(&c, {}, SystemClock::instance());
  ServerConfig cfg;
  cfg.listen = "127.0.0.1:0";
  cfg.body_limit = 1000;
  auto s = Server::create(cfg, r);
  ASSERT_TRUE(s.ok());
  std::thread t([&] { (*s)->run(); });
  {
    Client cl((*s)->port());
    auto res = cl.post("/v1/chat/completions", std::string(5000, 'x'));
    EXPECT_EQ(res.result_int(), 413u);
    EXPECT_FALSE(res.keep_alive());
  }
  (*s)->stop();
  t.join();
}

TEST(Server, ParseHostPort) {
  auto a = parse_host_port("127.0.0.1:8000");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->first, "127.0.0.1");
  EXPECT_EQ(a->second, 8000);
  auto b = parse_host_port("[::1]:0");
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first, "::1");
  EXPECT_FALSE(parse_host_port("localhost").ok());
  EXPECT_FALSE(parse_host_port("h:99999").ok());
  EXPECT_FALSE(parse_host_port("h:12ab").ok());
}

TEST(Server, BusyPortIsAnError) {
  const Corpus c = corpus();
  Responder r(&c, {}, SystemClock::instance());
  Running first(r);
  ServerConfig cfg;
  cfg.listen = "127.0.0.1:" + std::to_string(first.server->port());
  auto s = Server::create(cfg, r);
  EXPECT_FALSE(s.ok());
}

}  // namespace
}  // namespace dg::replay
