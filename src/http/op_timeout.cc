#include "http/op_timeout.h"

namespace dg::http {

OpTimeout::OpTimeout(const boost::asio::any_io_executor& ex, Clock::duration shortest,
                     void (*on_expire)(void*), void* arg)
    : s_(std::make_shared<State>(ex)) {
  s_->shortest = shortest;
  s_->on_expire = on_expire;
  s_->arg = arg;
}

OpTimeout::~OpTimeout() {
  s_->on_expire = nullptr;
  s_->timer.cancel();
}

void OpTimeout::begin(Clock::duration limit) {
  State& s = *s_;
  s.started = Clock::now();
  s.limit = limit;
  s.busy = true;
  s.expired = false;
  // Armed no later than `shortest` from an earlier begin(), so usually early
  // enough; only a shorter limit needs the timer moved.
  const Clock::time_point deadline = s.started + limit;
  if (!s.armed || deadline < s.armed_at) arm(s_, std::min(deadline, s.started + s.shortest));
}

void OpTimeout::arm(const std::shared_ptr<State>& s, Clock::time_point at) {
  s->armed = true;
  s->armed_at = at;
  const uint64_t wait = ++s->waits;
  s->timer.expires_at(at);  // cancels a pending wait (its handler sees a newer count)
  s->timer.async_wait([s, wait](const boost::system::error_code&) {
    if (!s->on_expire || !s->armed || s->waits != wait) return;  // owner gone, or re-armed
    s->armed = false;
    if (!s->busy) return;  // idle: the next begin() arms again
    const Clock::time_point now = Clock::now();
    const Clock::time_point deadline = s->started + s->limit;
    if (now < deadline) {
      arm(s, std::min(deadline, now + s->shortest));
      return;
    }
    s->busy = false;
    s->expired = true;
    s->on_expire(s->arg);
  });
}

}  // namespace dg::http
