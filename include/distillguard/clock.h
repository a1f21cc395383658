// Time is injected: everything that needs "now" takes a Clock&. The engine
// replays logs with a ManualClock set to record time, so verdicts do not depend
// on wall time and tests never sleep.
#pragma once

#include <atomic>
#include <cstdint>

namespace dg {

// Nanoseconds since the Unix epoch, UTC.
using TimeNs = int64_t;
constexpr TimeNs kNsPerMs = 1'000'000;
constexpr TimeNs kNsPerSec = 1'000'000'000;

class Clock {
 public:
  virtual ~Clock() = default;
  // Thread-safe.
  virtual TimeNs now() const = 0;
};

// Wall-clock time (std::chrono::system_clock).
class SystemClock final : public Clock {
 public:
  TimeNs now() const override;
  static SystemClock& instance();
};

// A clock that only moves when told. Thread-safe.
class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimeNs start = 0) : t_(start) {}
  TimeNs now() const override { return t_.load(std::memory_order_relaxed); }
  void set(TimeNs t) { t_.store(t, std::memory_order_relaxed); }
  void advance(TimeNs d) { t_.fetch_add(d, std::memory_order_relaxed); }

 private:
  std::atomic<TimeNs> t_;
};

}  // namespace dg
