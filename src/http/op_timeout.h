// Timeouts for a connection's operations with one long-lived timer, instead of
// a timer armed and cancelled around every read and write.
//
// Why: in Asio's epoll reactor, arming a timer that becomes the earliest one
// reprograms the timerfd (a system call), and cancelling one posts its
// aborted handler (an extra turn of the event loop that polls epoll). With
// Beast's per-operation deadlines that was three timerfd_settime calls and
// as many extra polls per proxied request.
//
// How: begin(limit) marks an operation as started (a clock read, no system
// call), end() as finished. The timer stays armed across operations and
// wakes at most once per `shortest` while operations run; when it finds the
// operation in progress past its limit it calls on_expire(arg) once (which
// should cancel or close the socket, so the operation fails) and expired()
// is true until the next begin(). A wake-up that finds the operation still
// within its limit re-arms for that operation's own deadline, so expiry is as
// precise as with a per-operation timer (never early). A limit shorter than
// `shortest` works too, at the cost of re-arming the timer.
//
// Thread-safety: none; use on the executor's thread. The owner may be
// destroyed at any time: on_expire is never called after the destructor.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>

namespace dg::http {

class OpTimeout {
 public:
  using Clock = std::chrono::steady_clock;
  // `shortest`: the shortest limit begin() is usually given (> 0).
  OpTimeout(const boost::asio::any_io_executor& ex, Clock::duration shortest,
            void (*on_expire)(void*), void* arg);
  ~OpTimeout();
  OpTimeout(const OpTimeout&) = delete;
  OpTimeout& operator=(const OpTimeout&) = delete;

  void begin(Clock::duration limit);
  void end() { s_->busy = false; }
  // The last operation begun ran past its limit (on_expire was called).
  bool expired() const { return s_->expired; }

 private:
  // Shared with the pending wait, which may complete after the owner is gone.
  struct State {
    explicit State(const boost::asio::any_io_executor& ex) : timer(ex) {}
    boost::asio::steady_timer timer;
    Clock::duration shortest{};
    void (*on_expire)(void*) = nullptr;
    void* arg = nullptr;
    Clock::time_point started;
    Clock::duration limit{};
    Clock::time_point armed_at;
    uint64_t waits = 0;  // the pending wait's number; older ones are stale
    bool armed = false;
    bool busy = false;
    bool expired = false;
  };
  static void arm(const std::shared_ptr<State>& s, Clock::time_point at);
  std::shared_ptr<State> s_;
};

}  // namespace dg::http
