// Scheduling hints for background threads (Linux; no-ops elsewhere).
//
// On a small machine the I/O threads share cores with background work (the
// audit writer, sync and analysis threads). The kernel's fair
// scheduler lets a woken I/O thread wait behind a running nice-0 thread until
// that thread's time slice ends (up to a scheduler tick, 4 ms with HZ=250):
// that wait shows up directly in request p99. Background threads call one of
// these once, at their start, so the I/O threads win the CPU.
//
// Thread-safety: each call affects only the calling thread. Never fails
// loudly: an OS refusal leaves the thread as it was (the return value says).
#pragma once

#include <string_view>

namespace dg {

enum class ThreadPriority {
  // nice +5 (weight 335 vs 1024): a woken nice-0 thread preempts it more
  // often than an equal, and it still gets about a third of a nice-0 thread's
  // share on a saturated machine. For work that must keep up with the request
  // rate (the audit writer). Measured on 2 cores: nice 10 and 19 let the audit
  // backlog grow without bound at 32 connections; nice 5 kept up.
  kBackground,
};

// Lowers the calling thread's priority. True if the OS accepted it. A thread
// cannot raise its priority back without CAP_SYS_NICE.
bool lower_current_thread_priority(ThreadPriority priority);

// Names the calling thread for top -H, perf and /proc (truncated to 15 bytes).
void set_current_thread_name(std::string_view name);

}  // namespace dg
