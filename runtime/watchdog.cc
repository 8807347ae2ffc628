#include "runtime/watchdog.h"

#include <dlfcn.h>
#include <unistd.h>

#include <cinttypes>
#include <cstdio>
#include <cstring>

#include "base/log.h"
#include "base/thread_identity.h"
#include "runtime/runtime.h"

namespace pktd::rt {

std::string describe_code_address(const void* addr) {
  if (addr == nullptr) return "unknown";
  Dl_info info{};
  char buf[512];
  if (dladdr(addr, &info) == 0) {
    std::snprintf(buf, sizeof buf, "%p", addr);
    return buf;
  }
  const char* module = info.dli_fname != nullptr ? info.dli_fname : "?";
  if (const char* slash = std::strrchr(module, '/')) module = slash + 1;
  if (info.dli_sname != nullptr) {
    auto offset = reinterpret_cast<uintptr_t>(addr) - reinterpret_cast<uintptr_t>(info.dli_saddr);
    std::snprintf(buf, sizeof buf, "%s+0x%" PRIxPTR " (%s)", info.dli_sname, offset, module);
  } else {
    auto offset = reinterpret_cast<uintptr_t>(addr) - reinterpret_cast<uintptr_t>(info.dli_fbase);
    std::snprintf(buf, sizeof buf, "%s+0x%" PRIxPTR, module, offset);
  }
  return buf;
}

Watchdog::Watchdog(Runtime& rt) : rt_(rt), threshold_(rt.config().stack_watchdog) {
  if (threshold_.count() <= 0) return;
  thread_ = std::thread([this] {
    register_current_thread(ThreadKind::watchdog, "pktd-watchdog");
    {
      std::lock_guard lock(mutex_);
      tid_.store(static_cast<int>(gettid()));
    }
    cv_.notify_all();
    loop();
  });
  pthread_setname_np(thread_.native_handle(), "pktd-watchdog");
  // Listed (pkt threads) from the moment the runtime is up, not from whenever the thread first
  // runs: a daemon that answers its control socket has its watchdog in the list.
  std::unique_lock lock(mutex_);
  cv_.wait(lock, [this] { return tid_.load() != 0; });
}

Watchdog::~Watchdog() {
  {
    std::lock_guard lock(mutex_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void Watchdog::loop() {
  // Four looks per threshold: a report comes at most a quarter-threshold late.
  auto period = std::max(threshold_ / 4, std::chrono::milliseconds(5));
  std::unique_lock lock(mutex_);
  while (!cv_.wait_for(lock, period, [this] { return stop_; })) check(std::chrono::steady_clock::now());
}

void Watchdog::check(std::chrono::steady_clock::time_point now) {
  const auto& cb = rt_.current_callback();
  uint64_t seq = cb.seq.load(std::memory_order_acquire);
  if (seq % 2 == 0) return;  // between callbacks
  if (seq != seen_seq_) {
    seen_seq_ = seq;
    seen_since_ = now;
    return;
  }
  if (seq == reported_seq_ || now - seen_since_ < threshold_) return;
  const char* kind = cb.kind.load(std::memory_order_relaxed);
  const char* name = cb.name.load(std::memory_order_relaxed);
  const void* fn = cb.fn.load(std::memory_order_relaxed);
  const void* by = cb.by.load(std::memory_order_relaxed);
  // Still the same callback after reading its fields: they describe it (it is still running,
  // so the name it points to is alive).
  if (cb.seq.load(std::memory_order_acquire) != seq) return;
  reported_seq_ = seq;
  reports_.fetch_add(1);
  auto held = std::chrono::duration_cast<std::chrono::milliseconds>(now - seen_since_).count();
  PKTD_LOG_ERR("watchdog: the stack context has been held for over %lld ms by %s '%s' "
               "(function %s, registered by %s) on worker %d; a callback must not block",
               static_cast<long long>(held), kind != nullptr ? kind : "?",
               name != nullptr ? name : "?", describe_code_address(fn).c_str(),
               describe_code_address(by).c_str(), rt_.stack_holder());
}

}  // namespace pktd::rt
