// Pseudo-threads: the stack context's cooperative threads (io-pkt's "proc" threads).
//
// Everything here runs in the stack context, which is single-threaded, so nothing is locked.
// A pool keeps threads_min pseudo-threads ready and grows to threads_max; jobs beyond that wait
// in order for a pseudo-thread to finish.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/fiber.h"
#include "time/timer_wheel.h"

namespace pktd::rt {

class Runtime;

struct PseudoThread {
  enum class State { idle, ready, running, sleeping };
  unsigned id = 0;
  class Scheduler* owner = nullptr;
  std::string name;        // of the job it runs, for the watchdog and `pkt threads`
  const void* spawned_by = nullptr;
  std::unique_ptr<Fiber> fiber;
  std::function<void()> job;
  State state = State::idle;
  const void* chan = nullptr;
  time::Callout timeout;
  int wake_result = 0;
  bool exit = false;
  bool interruptible = true;  // close() may cut the sleep short
};

class Scheduler {
 public:
  Scheduler(Runtime& rt, time::TimerWheel& wheel, unsigned min, unsigned max, size_t stack_bytes);
  ~Scheduler();  // every pseudo-thread must be idle (see drain)
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void spawn(std::function<void()> job, std::string name, const void* spawned_by);
  // Runs every pseudo-thread that was ready when called. True if any ran.
  bool run_ready();
  PseudoThread* current() const { return current_; }

  // On the current pseudo-thread: see Runtime::tsleep.
  int sleep(const void* chan, uint32_t timeout_ms);
  // The same without timeout, and not cut short by close(): for waits that must complete.
  void sleep_uninterruptible(const void* chan);
  int wakeup(const void* chan);

  // Shutdown: from now on sleeps return EINTR at once and every sleeper is woken with EINTR.
  void close();
  bool all_idle() const { return busy_ == 0 && waiting_jobs_.empty(); }

  // Readable from any thread (stats): mirrors kept up to date by the stack context.
  unsigned size() const { return size_.load(std::memory_order_relaxed); }
  unsigned peak() const { return peak_.load(std::memory_order_relaxed); }
  unsigned jobs_waiting() const { return waiting_.load(std::memory_order_relaxed); }

 private:
  PseudoThread* create();
  static void run_job(PseudoThread& pt);
  void destroy(PseudoThread* pt);
  int park(const void* chan, uint32_t timeout_ms, bool interruptible);
  void make_ready(PseudoThread* pt, int result);
  void job_finished(PseudoThread* pt);
  void forget_sleeper(PseudoThread* pt);
  void update_counts();
  static void on_timeout(void* arg);

  Runtime& rt_;
  time::TimerWheel& wheel_;
  unsigned min_, max_;
  size_t stack_bytes_;
  unsigned next_id_ = 1;
  std::atomic<unsigned> size_{0}, peak_{0}, waiting_{0};
  unsigned busy_ = 0;  // not idle
  bool closed_ = false;
  PseudoThread* current_ = nullptr;
  std::vector<std::unique_ptr<PseudoThread>> threads_;
  std::vector<PseudoThread*> idle_;
  std::deque<PseudoThread*> ready_;
  std::deque<std::pair<std::function<void()>, std::pair<std::string, const void*>>> waiting_jobs_;
  std::unordered_map<const void*, std::vector<PseudoThread*>> sleepers_;
};

}  // namespace pktd::rt
