#include "http/op_timeout.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace dg::http {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

struct Fixture {
  boost::asio::io_context ioc;
  int expiries = 0;
  Clock::time_point expired_at;
  static void on_expire(void* self) {
    auto* f = static_cast<Fixture*>(self);
    ++f->expiries;
    f->expired_at = Clock::now();
  }
  void run_for(Clock::duration d) {
    ioc.run_for(d);
    ioc.restart();
  }
};

TEST(OpTimeout, AnOperationPastItsLimitExpiresOnceNotEarly) {
  Fixture f;
  OpTimeout t(f.ioc.get_executor(), 40ms, &Fixture::on_expire, &f);
  const auto start = Clock::now();
  t.begin(40ms);
  f.run_for(150ms);
  EXPECT_EQ(f.expiries, 1);
  EXPECT_TRUE(t.expired());
  EXPECT_GE(f.expired_at - start, 40ms);
  EXPECT_LT(f.expired_at - start, 120ms);
  t.begin(1s);  // a new operation clears it
  EXPECT_FALSE(t.expired());
}

TEST(OpTimeout, FinishedOperationsNeverExpire) {
  Fixture f;
  OpTimeout t(f.ioc.get_executor(), 30ms, &Fixture::on_expire, &f);
  // Many short operations over several limits: each ends well within 30 ms.
  const auto until = Clock::now() + 150ms;
  while (Clock::now() < until) {
    t.begin(30ms);
    f.run_for(5ms);
    t.end();
    f.run_for(2ms);
  }
  EXPECT_EQ(f.expiries, 0);
  EXPECT_FALSE(t.expired());
}

TEST(OpTimeout, TheLimitCountsFromTheOperationsOwnStart) {
  Fixture f;
  OpTimeout t(f.ioc.get_executor(), 50ms, &Fixture::on_expire, &f);
  t.begin(50ms);
  f.run_for(30ms);
  t.end();
  const auto second = Clock::now();
  t.begin(50ms);  // the timer armed for the first one must not end this one early
  f.run_for(150ms);
  EXPECT_EQ(f.expiries, 1);
  EXPECT_GE(f.expired_at - second, 50ms);
}

TEST(OpTimeout, AShorterLimitIsHonoured) {
  Fixture f;
  OpTimeout t(f.ioc.get_executor(), 10s, &Fixture::on_expire, &f);
  t.begin(10s);
  t.end();
  const auto start = Clock::now();
  t.begin(30ms);
  f.run_for(200ms);
  EXPECT_EQ(f.expiries, 1);
  EXPECT_LT(f.expired_at - start, 150ms);
}

TEST(OpTimeout, NoCallbackAfterTheOwnerIsGone) {
  Fixture f;
  {
    OpTimeout t(f.ioc.get_executor(), 20ms, &Fixture::on_expire, &f);
    t.begin(20ms);
  }
  f.run_for(80ms);
  EXPECT_EQ(f.expiries, 0);
}

}  // namespace
}  // namespace dg::http
