// A thread created through the runtime (io-pkt's nw_pthread_create): named, with a mandatory
// quiesce callback, allowed to use buffers (M_NOWAIT), never the stack context.
#pragma once

#include <pthread.h>
#include <sys/types.h>

#include <atomic>
#include <functional>
#include <string>

#include "runtime/runtime.h"

namespace pktd::rt {

class TrackedThread {
 public:
  const std::string& name() const { return name_; }
  pid_t tid() const { return tid_.load(); }

 private:
  friend class Runtime;
  static void* trampoline(void* self);

  Runtime* rt_ = nullptr;
  std::string name_;
  std::function<void()> body_;
  QuiesceFn quiesce_ = nullptr;
  const void* code_ = nullptr;  // what the body runs, when it is a driver's
  void* quiesce_arg_ = nullptr;
  pthread_t pthread_{};
  std::atomic<pid_t> tid_{0};
  // Under Runtime::threads_mutex_:
  bool exited_ = false;
  bool quiesced_ = false;  // blocked in quiesce_block
};

}  // namespace pktd::rt
