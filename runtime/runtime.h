// The execution model of the io-pkt driver guide, on Linux.
//
//  - The main thread starts everything, handles signals and runs blockops. It is never the
//    stack context.
//  - Workers (one per CPU by default) wait in one epoll set on interrupt sources. A source fires
//    once and stays masked (EPOLLONESHOT) until its enable callback has run; one worker at a time
//    runs its process callback.
//  - The stack context is a token that at most one worker holds. A worker that finds stack work
//    pending takes it, runs until idle, releases it and checks again; so it migrates between
//    workers and work posted while it was being released is never stranded.
//  - Pseudo-threads are stackful coroutines inside the stack context, with tsleep/wakeup.
//  - Callouts live on a timing wheel owned by the stack context.
//  - Tracked threads are named, register a quiesce callback, and can be quiesced or reaped.
//
// Misuse (sleeping outside the stack context, a stack callback that blocks, a tracked thread that
// ignores quiesce) gives an error and a log line naming the culprit, never a silent hang.
#pragma once

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "buf/mbuf.h"
#include "time/clock.h"
#include "time/timer_wheel.h"

namespace pktd::rt {

using std::chrono::milliseconds;

struct RuntimeConfig {
  unsigned workers = 1;
  unsigned threads_min = 4;      // pseudo-threads kept ready (io-pkt threads_min)
  unsigned threads_max = 64;     // pseudo-threads at most (io-pkt threads_max)
  size_t pt_stack_bytes = 128 * 1024;
  milliseconds stack_watchdog{500};  // 0: off
  milliseconds quiesce_timeout{2000};
  // After handling events a worker polls epoll without sleeping for this long: a wake-up through
  // the kernel costs tens of microseconds on a VM, and traffic tends to come in runs. 0: off.
  std::chrono::microseconds poll{0};
  const time::Clock* clock = nullptr;  // nullptr: the steady clock
};

// What a process callback tells the worker.
enum class Process { done, again };

struct InterruptSpec {
  std::string name;   // e.g. "tap0 rx"
  std::string owner;  // who registered it, e.g. "devnp-tap.so"
  int fd = -1;        // readiness of this fd fires the source; -1: a software event
  std::function<Process()> process;  // on a worker, outside the stack context
  std::function<void()> enable;      // unmask: runs after process said done
};

class Interrupt;           // an attached interrupt source
struct Worker;
struct InterruptEvent;     // what interrupt_queue hands out, to send with send_event
class TrackedThread;
struct PseudoThread;
class Scheduler;
class Watchdog;

// Errors returned by the calls below (errno values, as io-pkt returns them).
//   EPERM   called from the wrong kind of thread (e.g. tsleep outside the stack context)
//   EDEADLK in the stack context but not on a pseudo-thread, where sleeping would block it
//   EWOULDBLOCK tsleep timed out; ETIMEDOUT quiesce or reap not answered in time

using QuiesceFn = void (*)(void* arg, int die);

class Runtime : public buf::Waiter, private time::TimerWheel::Observer {
 public:
  explicit Runtime(RuntimeConfig config);
  ~Runtime() override;  // stop() if still running
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // The runtime of this process, for SDK calls that carry no handle (set while it runs).
  static Runtime* current();
  const RuntimeConfig& config() const { return config_; }
  const time::Clock& clock() const { return *clock_; }

  // Starts the workers and the watchdog. The calling thread becomes the main thread.
  void start();
  // Main thread: runs blockops until request_stop() or one of the given signals arrives
  // (the signals must be blocked in every thread; start() keeps the caller's mask for workers).
  // Returns the signal number, or 0 after request_stop().
  int run_main(const sigset_t* signals = nullptr);
  void request_stop();
  // Stops workers, pseudo-threads and tracked threads, and joins every thread. Idempotent.
  void stop();

  // --- interrupts ---
  Interrupt* attach_interrupt(InterruptSpec spec);
  // Masks the source, waits until no worker runs it, closes its software event. Not from its
  // own process callback.
  void detach_interrupt(Interrupt* irq);
  // For drivers without an RX interrupt (seed: interrupt_queue): an event to send, or nullptr
  // when one is already queued or being processed. Callable from any thread.
  InterruptEvent* interrupt_queue(Interrupt* irq);
  // Sends the event interrupt_queue returned (seed: MsgSendPulse).
  void send_event(InterruptEvent* event);
  // Hands a software source to the worker that is polling epoll right now, without a system
  // call: it runs the source's process next, in parallel with the caller. False when no worker
  // polls, or the source is already queued or running: the caller does the work itself then.
  // Any thread. The transmit hand-off (net::Ifnet) is its user.
  bool hand_to_poller(Interrupt* irq);

  // --- the stack context ---
  // True when the calling thread is the worker holding the stack context.
  bool in_stack_context() const;
  // True when in the stack context and on a pseudo-thread (where tsleep may be called).
  bool on_pseudo_thread() const;
  // Which pseudo-thread runs now (an identity only, to key per-pseudo-thread state); null when
  // not on one.
  const void* current_pseudo_thread() const;
  // Runs fn in the stack context soon, on the worker's own stack (it must not sleep). Any thread.
  void post(std::function<void()> fn, const char* name = "post");
  // Runs fn on a pseudo-thread in the stack context (it may sleep). Any thread.
  void spawn(std::function<void()> fn, std::string name = "job");
  // Sleeps the calling pseudo-thread on chan until wakeup(chan) or timeout (0: none).
  // 0 when woken, EWOULDBLOCK on timeout, EPERM/EDEADLK when refused (and logged).
  int tsleep(const void* chan, uint32_t timeout_ms);
  // Wakes every pseudo-thread sleeping on chan. Stack context only; returns how many, or -1
  // when refused (and logged).
  int wakeup(const void* chan);

  // --- callouts (seed: callout_init, callout_msec, callout_stop, callout_pending) ---
  // In the stack context they act at once; from another thread they are forwarded to it.
  void callout_init(time::Callout& c);
  void callout_msec(time::Callout& c, uint32_t ms, time::CalloutFn fn, void* arg);
  bool callout_stop(time::Callout& c);
  static bool callout_pending(const time::Callout& c) { return c.pending(); }

  // --- blockop (seed: blockop_dispatch) ---
  // Runs fn on the main thread while the calling pseudo-thread sleeps; returns 0 once fn has
  // run, or EPERM/EDEADLK when refused (and logged).
  int blockop(std::function<void()> fn);

  // --- tracked threads (seed: nw_pthread_create, nw_pthread_reap, quiesce_*) ---
  // Stack context only. quiesce must not be null. 0 or an errno (logged).
  // code: the function the thread runs, if it lives in a shared object (a driver's), so that the
  // object is not unloaded under a thread that would not die (live_thread_code).
  int create_thread(TrackedThread** out, const std::string& name, std::function<void()> body,
                    QuiesceFn quiesce, void* quiesce_arg, const void* code = nullptr);
  // The code (as given to create_thread) and name of every tracked thread not yet exited.
  std::vector<std::pair<const void*, std::string>> live_thread_code() const;
  // Asks the thread to die (quiesce callback with die=1) and joins it. Stack context only; not
  // by the thread itself.
  int reap_thread(TrackedThread* thread);
  // Blocks every tracked thread (in quiesce_block) and every other worker. Stack context only.
  // ETIMEDOUT (naming the threads that did not answer) after quiesce_timeout; then nothing is
  // left quiesced. The exclusive section must end (unquiesce_all) before the calling callback
  // returns or sleeps; one that does not is logged and unquiesced for it.
  int quiesce_all();
  int unquiesce_all();
  // Called by a tracked thread from its quiesce handling: blocks until unquiesce_all, or ends
  // the thread when die is non-zero.
  void quiesce_block(int die);

  // --- buf::Waiter: M_WAITOK sleeps through the pseudo-threads ---
  bool can_sleep() override { return on_pseudo_thread(); }
  int sleep(const void* chan, uint32_t timeout_ms) override { return tsleep(chan, timeout_ms); }
  void wake(const void* chan) override;

  // --- observation (for tests, `pkt threads` later) ---
  struct Stats {
    uint64_t stack_acquisitions = 0;  // times a worker took the stack context
    uint64_t stack_migrations = 0;    // times it went to a different worker than last time
    uint64_t interrupts_processed = 0;
    unsigned pseudo_threads = 0, pseudo_threads_peak = 0, pseudo_jobs_waiting = 0;
    uint64_t watchdog_reports = 0;
  };
  Stats stats() const;
  // Every thread the runtime knows, for `pkt threads` (what pidin shows for io-pkt).
  struct ThreadSnapshot {
    std::string name;
    int tid = 0;
    std::string kind;  // main, worker, tracked, watchdog
    bool holds_stack = false;
  };
  std::vector<ThreadSnapshot> threads() const;
  // Index of the worker holding the stack context, or -1.
  int stack_holder() const { return stack_holder_.load(std::memory_order_relaxed); }
  unsigned worker_index() const;  // of the calling worker; ~0u elsewhere

  // Internal, used by the scheduler and the watchdog: what runs in the stack context now.
  void note_callback_begin(const char* kind, const char* name, const void* fn, const void* by);
  void note_callback_end();
  struct CurrentCallback {
    std::atomic<uint64_t> seq{0};  // odd while a callback runs
    std::atomic<const char*> kind{nullptr};
    std::atomic<const char*> name{nullptr};
    std::atomic<const void*> fn{nullptr};   // the callback's code, if known
    std::atomic<const void*> by{nullptr};   // code that registered or posted it
  };
  const CurrentCallback& current_callback() const { return current_cb_; }

 private:
  struct BlockOp;
  struct Origin {
    const char* name;
    const void* by;
  };
  friend class Watchdog;
  friend class TrackedThread;

  void post_from(std::function<void()> fn, Origin origin);
  void before_callout(time::CalloutFn fn, const void* armed_by) override;
  void after_callout() override;
  Interrupt* pop_again();
  void free_graveyard(bool all);
  void wind_down_stack();
  void reap_all_threads();
  // Main thread: runs blockops until done() is true or the deadline passes. False on timeout.
  bool serve_main_until(const std::function<bool()>& done, std::chrono::steady_clock::time_point deadline);

  void worker_loop(Worker& w);
  void dispatch(void* tag);
  void run_source(Interrupt* irq, bool fired);
  void rearm(Interrupt* irq);
  void run_stack_if_pending(Worker& w);
  bool run_stack_round();
  void reprogram_timer();
  void wake_a_worker();
  bool may_poll(const Worker& w, std::chrono::steady_clock::time_point poll_until);
  void release_poll(const Worker& w);
  bool refuse_unless_stack(const char* what) const;
  void run_blockops();
  void thread_exited(TrackedThread* t);
  void end_forgotten_quiesce();
  bool gate_enter();
  void gate_leave();

  RuntimeConfig config_;
  const time::Clock* clock_;
  int epoll_fd_ = -1;
  int stack_event_fd_ = -1;  // wakes a worker for stack work posted from outside
  int timer_fd_ = -1;        // next callout deadline
  int main_event_fd_ = -1;   // wakes the main thread (blockops, stop)
  int stop_fd_ = -1;         // level-triggered: every worker leaves its loop
  std::atomic<bool> running_{false};
  std::atomic<bool> stop_requested_{false};
  bool started_ = false;
  bool stopped_ = false;
  int main_tid_ = 0;
  std::vector<std::unique_ptr<Worker>> workers_;
  CurrentCallback current_cb_;
  std::atomic<bool> timer_fired_{false};
  std::atomic<int> poller_{-1};  // the worker polling epoll without sleeping, -1: none
  std::atomic<bool> again_hint_{false};  // again_ may hold a source: a poller must not sleep

  // Stack context token and its work.
  std::atomic<bool> stack_held_{false};
  std::atomic<bool> stack_pending_{false};
  std::atomic<int> stack_holder_{-1};
  int last_holder_ = -1;
  std::mutex post_mutex_;
  std::deque<std::pair<std::function<void()>, Origin>> posts_;
  std::unique_ptr<time::TimerWheel> wheel_;
  std::optional<time::TimePoint> timer_armed_for_;
  std::unique_ptr<Scheduler> scheduler_;

  // Interrupt sources that asked to be called again.
  std::mutex again_mutex_;
  std::deque<Interrupt*> again_;
  // Detached sources wait here until no worker can still hold a pointer from epoll_wait.
  struct Grave {
    Interrupt* irq;
    std::vector<uint64_t> loops;
  };
  std::mutex graveyard_mutex_;
  std::vector<Grave> graveyard_;

  // The worker gate: workers hold it shared while running process callbacks; quiesce_all
  // takes it exclusively (writer-preferring, so a busy source cannot starve it).
  pthread_rwlock_t gate_;

  // blockops waiting for the main thread.
  std::mutex main_mutex_;
  std::deque<BlockOp*> blockops_;

  // Tracked threads.
  mutable std::mutex threads_mutex_;
  std::condition_variable threads_cv_;
  std::vector<std::unique_ptr<TrackedThread>> threads_;
  uint64_t quiesce_generation_ = 0;
  bool quiescing_ = false;     // under threads_mutex_, for the tracked threads
  bool quiesce_held_ = false;  // stack context only: this stack holds the worker gate

  std::unique_ptr<Watchdog> watchdog_;
  std::atomic<uint64_t> stack_acquisitions_{0}, stack_migrations_{0}, interrupts_processed_{0};
};

}  // namespace pktd::rt
