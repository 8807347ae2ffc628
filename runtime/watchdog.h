// The stack-context watchdog: names a callback that holds the stack context too long.
//
// The seed's symptom is "ifconfig hangs": a driver callback blocked the stack context. Here a
// thread samples what the stack context runs (Runtime::current_callback) and, when the same
// callback is still running after the threshold, logs its kind, name, function and who
// registered it (resolved with dladdr), once per occurrence.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace pktd::rt {

class Runtime;

// "symbol+0x12 (module.so)" for a code address, as well as dladdr can tell.
std::string describe_code_address(const void* addr);

class Watchdog {
 public:
  explicit Watchdog(Runtime& rt);
  ~Watchdog();
  Watchdog(const Watchdog&) = delete;
  Watchdog& operator=(const Watchdog&) = delete;
  uint64_t reports() const { return reports_.load(); }
  int tid() const { return tid_.load(); }

 private:
  void loop();
  void check(std::chrono::steady_clock::time_point now);

  Runtime& rt_;
  std::chrono::milliseconds threshold_;
  std::mutex mutex_;
  std::condition_variable cv_;
  bool stop_ = false;
  uint64_t seen_seq_ = 0;
  std::chrono::steady_clock::time_point seen_since_;
  uint64_t reported_seq_ = 0;
  std::atomic<uint64_t> reports_{0};
  std::atomic<int> tid_{0};
  std::thread thread_;
};

}  // namespace pktd::rt
