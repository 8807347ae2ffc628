// inet::Env over the runtime: its clock, its callouts (the seed's callout_msec) and its post.
#pragma once

#include <time.h>

#include "inet/env.h"
#include "runtime/runtime.h"

namespace pktd::daemon {

class RuntimeEnv final : public inet::Env {
 public:
  explicit RuntimeEnv(rt::Runtime& rt) : rt_(rt) {}
  const time::Clock& clock() const override { return rt_.clock(); }
  void timer_init(time::Callout& c) override { rt_.callout_init(c); }
  void timer_arm(time::Callout& c, uint32_t ms, time::CalloutFn fn, void* arg) override {
    rt_.callout_msec(c, ms, fn, arg);
  }
  bool timer_stop(time::Callout& c) override { return rt_.callout_stop(c); }
  void post(std::function<void()> fn) override { rt_.post(std::move(fn), "ip-input"); }
  int64_t wall_clock_ns() const override {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
  }

 private:
  rt::Runtime& rt_;
};

}  // namespace pktd::daemon
