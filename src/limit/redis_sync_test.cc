// Limits shared through a real redis-server, started here on a unix socket
// (skipped if redis-server is not installed).
#include "limit/redis_sync.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <thread>

namespace dg {
namespace {

constexpr TimeNs kSec = kNsPerSec;

class RedisServer {
 public:
  RedisServer() {
    dir_ = std::filesystem::temp_directory_path() / ("dg_redis_" + std::to_string(::getpid()));
    std::filesystem::create_directories(dir_);
    sock_ = (dir_ / "redis.sock").string();
    std::filesystem::remove(sock_);
    pid_ = ::fork();
    if (pid_ == 0) {
      if (!std::freopen("/dev/null", "w", stdout)) ::_exit(127);
      ::execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", sock_.c_str(),
               "--save", "", "--appendonly", "no", "--dir", dir_.c_str(), "--loglevel", "warning",
               static_cast<char*>(nullptr));
      ::_exit(127);
    }
    // Bounded readiness poll: the socket accepts connections.
    for (int i = 0; i < 500 && !ready(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  ~RedisServer() {
    stop();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  void stop() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
  }
  bool ready() const {
    int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    std::snprintf(a.sun_path, sizeof a.sun_path, "%s", sock_.c_str());
    bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    ::close(fd);
    return ok;
  }
  std::string url() const { return "unix:" + sock_; }

 private:
  std::filesystem::path dir_;
  std::string sock_;
  pid_t pid_ = -1;
};

bool have_redis() { return std::system("command -v redis-server >/dev/null 2>&1") == 0; }

TEST(RedisUrl, Parses) {
  std::string host, path;
  int port = 6379, db = 0;
  ASSERT_TRUE(parse_redis_url("redis://10.0.0.2:6380/3", &host, &port, &db, &path).ok());
  EXPECT_EQ(host, "10.0.0.2");
  EXPECT_EQ(port, 6380);
  EXPECT_EQ(db, 3);
  ASSERT_TRUE(parse_redis_url("unix:/tmp/r.sock", &host, &port, &db, &path).ok());
  EXPECT_EQ(path, "/tmp/r.sock");
  EXPECT_FALSE(parse_redis_url("http://x", &host, &port, &db, &path).ok());
}

TEST(RedisSync, TwoGatewaysShareOneLimit) {
  if (!have_redis()) GTEST_SKIP() << "redis-server not installed";
  RedisServer redis;
  ASSERT_TRUE(redis.ready());
  ManualClock clock(1'700'000'000LL * kSec);
  GcraStore a, b;
  RedisSyncOptions o;
  o.url = redis.url();
  o.interval = 0;  // rounds driven by the test
  auto sa = RedisLimitSync::start(a, clock, o);
  auto sb = RedisLimitSync::start(b, clock, o);
  ASSERT_TRUE(sa.ok() && sb.ok());
  GcraRate rate{60, 10};  // 10 at once, then 1/s
  LimitKey k = LimitKey::of("acct", "shared", "rpm");

  for (int i = 0; i < 6; ++i) ASSERT_TRUE(a.acquire(k, rate, 1, clock.now()).allowed);
  ASSERT_TRUE((*sa)->sync_now().ok());
  // Gateway b has seen nothing yet: its first request passes locally...
  ASSERT_TRUE(b.acquire(k, rate, 1, clock.now()).allowed);
  ASSERT_TRUE((*sb)->sync_now().ok());
  // ...and after one round it knows about a's 6: 7 used, 3 left.
  EXPECT_EQ(b.peek(k, rate, 0, clock.now()).remaining, 3);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(b.acquire(k, rate, 1, clock.now()).allowed);
  EXPECT_FALSE(b.acquire(k, rate, 1, clock.now()).allowed);
  ASSERT_TRUE((*sb)->sync_now().ok());
  // a learns of b's 4 on its next round with a change of its own (a refund of 0.5 s here).
  a.adjust(k, rate, -0.5, clock.now());
  ASSERT_TRUE((*sa)->sync_now().ok());
  EXPECT_FALSE(a.peek(k, rate, 1, clock.now()).allowed);
  EXPECT_EQ((*sa)->counters().errors, 0);
  EXPECT_GE((*sa)->counters().keys_sent, 2);
}

TEST(RedisSync, FailsOpenAndCatchesUp) {
  if (!have_redis()) GTEST_SKIP() << "redis-server not installed";
  ManualClock clock(1'700'000'000LL * kSec);
  GcraStore a;
  RedisSyncOptions o;
  {
    RedisServer probe;  // only to get a socket path that is not listening
    o.url = probe.url();
  }
  o.interval = 0;
  auto s = RedisLimitSync::start(a, clock, o);
  ASSERT_TRUE(s.ok());
  GcraRate rate{60, 10};
  LimitKey k = LimitKey::of("acct", "x", "rpm");
  // Redis down: local limits still work, the round fails and is counted.
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(a.acquire(k, rate, 1, clock.now()).allowed);
  EXPECT_FALSE(a.acquire(k, rate, 1, clock.now()).allowed);
  EXPECT_EQ((*s)->sync_now().code(), StatusCode::kUnavailable);
  EXPECT_EQ((*s)->counters().errors, 1);
  EXPECT_FALSE((*s)->counters().connected);
  // Redis comes back (same socket): the held deltas are delivered.
  RedisServer redis;
  ASSERT_TRUE(redis.ready());
  ASSERT_TRUE((*s)->sync_now().ok());
  EXPECT_EQ((*s)->counters().keys_sent, 1);
  EXPECT_TRUE((*s)->counters().connected);
  GcraStore b;
  auto sb = RedisLimitSync::start(b, clock, o);
  ASSERT_TRUE(sb.ok());
  ASSERT_TRUE(b.acquire(k, rate, 1, clock.now()).allowed);
  ASSERT_TRUE((*sb)->sync_now().ok());
  EXPECT_FALSE(b.peek(k, rate, 1, clock.now()).allowed);  // a's 10 reached b
}

}  // namespace
}  // namespace dg
