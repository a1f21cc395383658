#include "common/thread_priority.h"

#include <string>

#if defined(__linux__)
#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace dg {

bool lower_current_thread_priority(ThreadPriority priority) {
#if defined(__linux__)
  (void)priority;  // kBackground, the only one
  // setpriority(PRIO_PROCESS, tid) sets one thread's nice value on Linux.
  const auto tid = static_cast<id_t>(syscall(SYS_gettid));
  return setpriority(PRIO_PROCESS, tid, 5) == 0;
#else
  (void)priority;
  return false;
#endif
}

void set_current_thread_name(std::string_view name) {
#if defined(__linux__)
  std::string n(name.substr(0, 15));
  pthread_setname_np(pthread_self(), n.c_str());
#else
  (void)name;
#endif
}

}  // namespace dg
