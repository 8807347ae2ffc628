#include "base/thread_identity.h"

#include <pthread.h>

namespace pktd {
namespace {
thread_local ThreadKind t_kind = ThreadKind::untracked;
}

const char* to_string(ThreadKind kind) {
  switch (kind) {
    case ThreadKind::untracked: return "untracked";
    case ThreadKind::main: return "main";
    case ThreadKind::worker: return "worker";
    case ThreadKind::tracked: return "tracked";
    case ThreadKind::watchdog: return "watchdog";
  }
  return "?";
}

ThreadKind current_thread_kind() { return t_kind; }

void register_current_thread(ThreadKind kind, const std::string& name) {
  t_kind = kind;
  // The kernel keeps 15 bytes of a thread name.
  std::string short_name = name.substr(0, 15);
  pthread_setname_np(pthread_self(), short_name.c_str());
}

std::string current_thread_name() {
  char buf[32] = {};
  pthread_getname_np(pthread_self(), buf, sizeof buf);
  return buf;
}

}  // namespace pktd
