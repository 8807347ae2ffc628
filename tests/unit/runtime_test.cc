// One test per rule of the seed guide's threading section (see runtime/runtime.h).
#include <gtest/gtest.h>
#include <dirent.h>
#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <fstream>
#include <mutex>
#include <set>
#include <thread>

#include "base/log.h"
#include "base/thread_identity.h"
#include "buf/mbuf.h"
#include "runtime/runtime.h"
#include "tests/support/wait.h"

using namespace std::chrono_literals;
using pktd::test::eventually;

namespace pktd::rt {

// Exported so the watchdog can name it (the test binary links with -rdynamic).
extern "C" void pktd_test_blocking_callout(void* arg);

namespace {

RuntimeConfig small_config(unsigned workers = 2) {
  RuntimeConfig c;
  c.workers = workers;
  c.threads_min = 2;
  c.threads_max = 4;
  c.pt_stack_bytes = 64 * 1024;
  c.quiesce_timeout = 200ms;
  return c;
}

// Runs fn in the stack context and waits for it (the test thread is not a worker).
template <typename Fn>
void in_stack(Runtime& rt, Fn fn) {
  std::atomic<bool> done{false};
  rt.post([&] {
    fn();
    done = true;
  });
  ASSERT_TRUE(eventually([&] { return done.load(); }));
}

std::vector<std::string> thread_names() {
  std::vector<std::string> names;
  DIR* dir = opendir("/proc/self/task");
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] == '.') continue;
    std::ifstream comm(std::string("/proc/self/task/") + e->d_name + "/comm");
    std::string name;
    std::getline(comm, name);
    names.push_back(name);
  }
  closedir(dir);
  return names;
}

// --- workers and the stack context ---

TEST(Runtime, EveryThreadIsNamed) {
  Runtime rt(small_config(3));
  rt.start();
  for (const char* expected : {"pktd-main", "pktd-worker0", "pktd-worker1", "pktd-worker2",
                               "pktd-watchdog"})
    EXPECT_TRUE(eventually([&] {  // each thread names itself as it starts
      auto names = thread_names();
      return std::find(names.begin(), names.end(), expected) != names.end();
    })) << expected;
  rt.stop();
}

TEST(Runtime, PostRunsInTheStackContextOnAWorker) {
  Runtime rt(small_config());
  rt.start();
  EXPECT_FALSE(rt.in_stack_context());
  bool was_in_stack = false;
  ThreadKind kind = ThreadKind::untracked;
  in_stack(rt, [&] {
    was_in_stack = rt.in_stack_context();
    kind = current_thread_kind();
  });
  EXPECT_TRUE(was_in_stack);
  EXPECT_EQ(kind, ThreadKind::worker);
  rt.stop();
}

// Two workers never run stack-context code at once. The counter is deliberately not atomic:
// ThreadSanitizer reports a race if the token ever let two workers in together.
TEST(Runtime, TwoWorkersNeverRunStackContextAtOnce) {
  Runtime rt(small_config(2));
  rt.start();
  std::atomic<int> inside{0};
  std::atomic<int> overlaps{0};
  long counter = 0;
  constexpr int kPerSource = 2000;
  std::atomic<int> posted{0};
  auto body = [&] {
    if (inside.fetch_add(1) != 0) overlaps++;
    ++counter;
    inside.fetch_sub(1);
  };
  // Work arrives from interrupts on both workers and from two outside threads at once.
  std::atomic<int> fired{0};
  InterruptSpec spec;
  spec.name = "stress";
  spec.owner = "test";
  spec.process = [&] {
    rt.post(body);
    posted++;
    return Process::done;
  };
  spec.enable = [] {};
  Interrupt* irq = rt.attach_interrupt(spec);
  ASSERT_NE(irq, nullptr);
  std::thread a([&] {
    for (int i = 0; i < kPerSource; ++i) {
      rt.post(body);
      posted++;
    }
  });
  std::thread b([&] {
    for (int i = 0; i < kPerSource; ++i) {
      if (InterruptEvent* ev = rt.interrupt_queue(irq)) {
        rt.send_event(ev);
        fired++;
      }
      rt.post(body);
      posted++;
    }
  });
  a.join();
  b.join();
  long expected = 0;
  ASSERT_TRUE(eventually([&] {
    in_stack(rt, [&] { expected = counter; });
    return expected == posted.load();
  }));
  EXPECT_EQ(overlaps.load(), 0);
  rt.detach_interrupt(irq);
  rt.stop();
}

// An interrupt source whose process callback holds its worker until released.
struct Blocker {
  Runtime& rt;
  Interrupt* irq = nullptr;
  std::mutex m;
  std::condition_variable cv;
  bool released = false;
  std::atomic<int> worker{-1};

  explicit Blocker(Runtime& r) : rt(r) {
    InterruptSpec spec;
    spec.name = "blocker";
    spec.process = [this] {
      worker = static_cast<int>(rt.worker_index());
      std::unique_lock lock(m);
      cv.wait(lock, [this] { return released; });
      return Process::done;
    };
    spec.enable = [] {};
    irq = rt.attach_interrupt(spec);
  }
  ~Blocker() { rt.detach_interrupt(irq); }
  int hold() {  // returns the worker now held
    rt.send_event(rt.interrupt_queue(irq));
    EXPECT_TRUE(eventually([this] { return worker.load() >= 0; }));
    return worker.load();
  }
  void release() {
    {
      std::lock_guard lock(m);
      released = true;
    }
    cv.notify_all();
  }
};

// The stack context migrates: work goes to whichever worker is free. Holding one worker, then
// the other, in interrupt callbacks leaves each in turn the only one able to take it.
TEST(Runtime, StackContextMigratesBetweenWorkers) {
  Runtime rt(small_config(2));
  rt.start();
  Blocker first(rt), second(rt);
  auto holder = [&] {
    int h = -1;
    in_stack(rt, [&] { h = static_cast<int>(rt.worker_index()); });
    return h;
  };
  int p = first.hold();
  int h1 = holder();
  EXPECT_NE(h1, p);
  int q = second.hold();  // the only free worker: the one that just ran the stack
  EXPECT_EQ(q, h1);
  first.release();
  int h2 = holder();
  EXPECT_EQ(h2, p);
  second.release();
  EXPECT_GE(rt.stats().stack_migrations, 1u);
  rt.stop();
}

// --- interrupts ---

TEST(Runtime, FdInterruptIsMaskedUntilEnableAndRunsOnOneWorkerAtATime) {
  Runtime rt(small_config(2));
  rt.start();
  int fds[2];
  ASSERT_EQ(pipe2(fds, O_NONBLOCK), 0);
  std::atomic<int> inside{0}, overlaps{0}, bytes{0}, enables{0};
  std::atomic<bool> in_stack_seen{false};
  InterruptSpec spec;
  spec.name = "pipe rx";
  spec.fd = fds[0];
  spec.process = [&] {
    if (inside.fetch_add(1) != 0) overlaps++;
    in_stack_seen = in_stack_seen || rt.in_stack_context();
    char buf[64];
    ssize_t n = read(fds[0], buf, 1);  // one byte per call: "call me again" while more remain
    if (n > 0) bytes += static_cast<int>(n);
    inside.fetch_sub(1);
    return n > 0 ? Process::again : Process::done;
  };
  spec.enable = [&] { enables++; };
  Interrupt* irq = rt.attach_interrupt(spec);
  constexpr int kBytes = 500;
  for (int i = 0; i < kBytes; ++i) ASSERT_EQ(write(fds[1], "x", 1), 1);
  ASSERT_TRUE(eventually([&] { return bytes.load() == kBytes; }));
  EXPECT_EQ(overlaps.load(), 0);
  EXPECT_FALSE(in_stack_seen.load());  // process runs on a worker, outside the stack context
  ASSERT_TRUE(eventually([&] { return enables.load() >= 1; }));
  // Re-armed after enable: a later byte fires it again.
  int before = enables.load();
  ASSERT_EQ(write(fds[1], "y", 1), 1);
  ASSERT_TRUE(eventually([&] { return bytes.load() == kBytes + 1 && enables.load() > before; }));
  rt.detach_interrupt(irq);
  close(fds[0]);
  close(fds[1]);
  rt.stop();
}

// The seed's pattern for a driver without an RX interrupt, step by step: the receive thread
// enqueues under its mutex and sends the event interrupt_queue gives it; process dequeues
// until empty and returns with the mutex held; enable unlocks it.
// The transmit hand-off's primitive: a software source given to the worker polling epoll.
InterruptSpec counting_source(std::atomic<int>& runs, std::atomic<unsigned>& on_worker,
                              std::atomic<bool>& hold) {
  InterruptSpec spec;
  spec.name = "handed";
  spec.process = [&] {
    on_worker = Runtime::current()->worker_index();
    while (hold.load()) std::this_thread::yield();
    runs++;
    return Process::done;
  };
  spec.enable = [] {};
  return spec;
}

TEST(Runtime, HandToPollerRunsTheSourceOnThePollingWorkerOnly) {
  std::atomic<int> runs{0};
  std::atomic<unsigned> on_worker{~0u};
  std::atomic<bool> hold{false};
  {
    Runtime rt(small_config(2));  // poll 0: nobody ever polls
    rt.start();
    Interrupt* irq = rt.attach_interrupt(counting_source(runs, on_worker, hold));
    in_stack(rt, [] {});
    EXPECT_FALSE(rt.hand_to_poller(irq));
    rt.detach_interrupt(irq);
    rt.stop();
  }
  RuntimeConfig c = small_config(2);
  c.poll = std::chrono::microseconds(std::chrono::seconds(30));  // a worker polls after any work
  Runtime rt(c);
  rt.start();
  Interrupt* irq = rt.attach_interrupt(counting_source(runs, on_worker, hold));
  in_stack(rt, [] {});
  hold = true;
  ASSERT_TRUE(eventually([&] { return rt.hand_to_poller(irq); }));
  ASSERT_TRUE(eventually([&] { return on_worker.load() != ~0u; }));
  EXPECT_LT(on_worker.load(), 2u);   // a worker ran it, not this thread
  EXPECT_FALSE(rt.hand_to_poller(irq));  // running: the caller does the work itself
  hold = false;
  ASSERT_TRUE(eventually([&] { return runs.load() == 1; }));
  ASSERT_TRUE(eventually([&] { return rt.hand_to_poller(irq); }));  // idle again
  ASSERT_TRUE(eventually([&] { return runs.load() == 2; }));
  // Only software sources: a device's fd fires through epoll alone.
  int pipe_fds[2];
  ASSERT_EQ(pipe(pipe_fds), 0);
  InterruptSpec fd_spec = counting_source(runs, on_worker, hold);
  fd_spec.fd = pipe_fds[0];
  Interrupt* fd_irq = rt.attach_interrupt(fd_spec);
  EXPECT_FALSE(rt.hand_to_poller(fd_irq));
  rt.detach_interrupt(fd_irq);
  rt.detach_interrupt(irq);
  rt.stop();
  close(pipe_fds[0]);
  close(pipe_fds[1]);
}

// A poller gives up 5 us after its last work; hands come 0 to 10 us after a post wakes one, so
// some land just as it stops polling, and each must still run (none stranded in the queue
// with every worker asleep).
TEST(Runtime, EverySourceHandedToAPollerRunsEvenAsItStopsPolling) {
  RuntimeConfig c = small_config(2);
  c.poll = std::chrono::microseconds(5);
  Runtime rt(c);
  rt.start();
  std::atomic<int> runs{0};
  std::atomic<unsigned> on_worker{~0u};
  std::atomic<bool> hold{false};
  Interrupt* irq = rt.attach_interrupt(counting_source(runs, on_worker, hold));
  int handed = 0;
  for (int i = 0; i < 200000 && handed < 300; ++i) {
    rt.post([] {});
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(i % 11);
    while (std::chrono::steady_clock::now() < until) {
    }
    if (rt.hand_to_poller(irq)) {
      ++handed;
      int want = handed;
      ASSERT_TRUE(eventually([&] { return runs.load() == want; })) << "hand " << handed;
    }
  }
  EXPECT_GT(handed, 0);
  rt.detach_interrupt(irq);
  rt.stop();
}

TEST(Runtime, InterruptQueueForDriversWithoutRxInterrupt) {
  Runtime rt(small_config(2));
  rt.start();
  std::mutex rx_mutex;
  std::deque<int> rx_queue;
  std::atomic<int> delivered{0};
  InterruptSpec spec;
  spec.name = "nointr rx";
  spec.process = [&] {
    while (true) {
      rx_mutex.lock();
      if (rx_queue.empty()) break;  // leave it locked: enable unlocks
      rx_queue.pop_front();
      rx_mutex.unlock();
      delivered++;
    }
    return Process::done;
  };
  spec.enable = [&] { rx_mutex.unlock(); };
  Interrupt* irq = rt.attach_interrupt(spec);

  // Queued once: a second call before the event is processed gets nothing.
  InterruptEvent* first = rt.interrupt_queue(irq);
  ASSERT_NE(first, nullptr);
  EXPECT_EQ(rt.interrupt_queue(irq), nullptr);
  rt.send_event(first);
  // Processed and re-enabled: the next call hands out an event again.
  InterruptEvent* next = nullptr;
  ASSERT_TRUE(eventually([&] { return (next = rt.interrupt_queue(irq)) != nullptr; }));
  rt.send_event(next);

  constexpr int kFrames = 3000;
  std::atomic<int> events_sent{0};
  std::thread rx([&] {
    for (int i = 0; i < kFrames; ++i) {
      std::lock_guard lock(rx_mutex);
      rx_queue.push_back(i);
      if (InterruptEvent* ev = rt.interrupt_queue(irq)) {
        rt.send_event(ev);
        events_sent++;
      }
    }
  });
  rx.join();
  // Every frame arrives, whether through new events or the one already in flight.
  ASSERT_TRUE(eventually([&] { return delivered.load() == kFrames; }));
  rt.detach_interrupt(irq);
  rt.stop();
}

// --- pseudo-threads ---

TEST(Runtime, TsleepAndWakeupOnAPseudoThread) {
  Runtime rt(small_config());
  rt.start();
  int chan = 0;
  std::atomic<int> result{-1};
  std::atomic<bool> asleep{false};
  rt.spawn([&] {
    asleep = true;
    result = rt.tsleep(&chan, 0);
  }, "sleeper");
  ASSERT_TRUE(eventually([&] { return asleep.load(); }));
  int woken = -1;
  ASSERT_TRUE(eventually([&] {
    in_stack(rt, [&] { woken = rt.wakeup(&chan); });
    return woken == 1;
  }));
  ASSERT_TRUE(eventually([&] { return result.load() == 0; }));
  rt.stop();
}

TEST(Runtime, TsleepTimesOutOnTheInjectedClock) {
  time::ManualClock clock;
  RuntimeConfig config = small_config();
  config.clock = &clock;
  Runtime rt(config);
  rt.start();
  int chan = 0;
  std::atomic<int> result{-1};
  std::atomic<bool> asleep{false};
  rt.spawn([&] {
    asleep = true;
    result = rt.tsleep(&chan, 100);
  });
  ASSERT_TRUE(eventually([&] { return asleep.load(); }));
  // In the stack context, so after tsleep has read the clock: from here the pseudo-thread may
  // not have called it yet, and its 100 ms would count from 99 (seen under load).
  in_stack(rt, [&] { clock.advance(99ms); });
  EXPECT_EQ(result.load(), -1);  // not yet
  clock.advance(2ms);
  ASSERT_TRUE(eventually([&] {
    rt.post([] {});
    return result.load() == EWOULDBLOCK;
  }));
  rt.stop();
}

TEST(Runtime, TsleepOutsideTheStackContextIsRefused) {
  Runtime rt(small_config());
  rt.start();
  log::Capture capture;
  int chan = 0;
  EXPECT_EQ(rt.tsleep(&chan, 10), EPERM);
  EXPECT_TRUE(capture.contains({"tsleep refused", "outside the stack context", "pktd-main"}));
  // In the stack context but on the worker's own stack (a post or callout): would block it.
  int in_post = 0;
  in_stack(rt, [&] { in_post = rt.tsleep(&chan, 10); });
  EXPECT_EQ(in_post, EDEADLK);
  EXPECT_TRUE(capture.contains({"not on a pseudo-thread"}));
  rt.stop();
}

TEST(Runtime, PseudoThreadPoolGrowsToMaxQueuesThenShrinksToMin) {
  Runtime rt(small_config());  // min 2, max 4
  rt.start();
  int chan = 0;
  std::atomic<int> asleep{0}, done{0};
  for (int i = 0; i < 6; ++i)
    rt.spawn([&] {
      asleep++;
      while (rt.tsleep(&chan, 0) != 0) {
      }
      done++;
    });
  // The six spawns reach the stack context as separate posts: wait for all of them.
  ASSERT_TRUE(eventually([&] {
    return asleep.load() == 4 && rt.stats().pseudo_jobs_waiting == 2;
  }));
  EXPECT_EQ(rt.stats().pseudo_threads, 4u);  // threads_max: the other two jobs wait
  // Recovery: wake them until all six jobs ran.
  ASSERT_TRUE(eventually([&] {
    in_stack(rt, [&] { rt.wakeup(&chan); });
    return done.load() == 6;
  }));
  ASSERT_TRUE(eventually([&] { return rt.stats().pseudo_threads == 2; }));
  EXPECT_EQ(rt.stats().pseudo_threads_peak, 4u);
  rt.stop();
}

TEST(RuntimeDeathTest, PseudoThreadStackOverflowHitsTheGuardPage) {
#if defined(PKTD_SANITIZER_BUILD)
  GTEST_SKIP() << "sanitizers intercept the fault before the guard page can be seen";
#endif
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  EXPECT_DEATH(
      {
        Runtime rt(small_config(1));
        rt.start();
        std::function<int(int)> recurse = [&](int depth) -> int {
          volatile char pad[1024];
          pad[0] = static_cast<char>(depth);
          return recurse(depth + 1) + pad[0];
        };
        rt.spawn([&] { recurse(0); });
        rt.run_main();
      },
      "");
}

// --- callouts ---

TEST(Runtime, CalloutsRunInTheStackContextStopAndRearm) {
  time::ManualClock clock;
  RuntimeConfig config = small_config();
  config.clock = &clock;
  Runtime rt(config);
  rt.start();
  struct State {
    Runtime* rt;
    time::Callout stopped, witness, rearming;
    std::atomic<int> stopped_runs{0}, witness_runs{0}, rearm_runs{0};
    std::atomic<bool> in_stack{true};
  } st;
  st.rt = &rt;
  in_stack(rt, [&] {
    rt.callout_init(st.stopped);
    rt.callout_init(st.witness);
    rt.callout_init(st.rearming);
    rt.callout_msec(st.stopped, 10, [](void* a) { static_cast<State*>(a)->stopped_runs++; }, &st);
    rt.callout_msec(st.witness, 10, [](void* a) {
      auto* s = static_cast<State*>(a);
      s->witness_runs++;
      s->in_stack = s->in_stack && s->rt->in_stack_context();
    }, &st);
    rt.callout_msec(st.rearming, 5, [](void* a) {
      auto* s = static_cast<State*>(a);
      if (++s->rearm_runs < 3) s->rt->callout_msec(s->rearming, 5, s->rearming.function(), a);
    }, &st);
    EXPECT_TRUE(Runtime::callout_pending(st.stopped));
    EXPECT_TRUE(rt.callout_stop(st.stopped));
    EXPECT_FALSE(Runtime::callout_pending(st.stopped));
  });
  for (int i = 0; i < 4; ++i) {
    clock.advance(5ms);
    in_stack(rt, [] {});
  }
  EXPECT_EQ(st.witness_runs.load(), 1);  // the deadline passed and the wheel ran
  EXPECT_EQ(st.stopped_runs.load(), 0);  // a stopped callout never fires
  EXPECT_EQ(st.rearm_runs.load(), 3);    // re-armed from its own callback, twice
  EXPECT_TRUE(st.in_stack.load());
  rt.stop();
}

TEST(Runtime, CalloutFiresOnRealTimeWithoutOtherWork) {
  Runtime rt(small_config());
  rt.start();
  time::Callout c;
  std::atomic<bool> fired{false};
  in_stack(rt, [&] {
    rt.callout_init(c);
    rt.callout_msec(c, 20, [](void* a) { static_cast<std::atomic<bool>*>(a)->store(true); },
                    &fired);
  });
  // Nothing else happens: only the runtime's timer can make it fire.
  EXPECT_TRUE(eventually([&] { return fired.load(); }));
  rt.stop();
}

// --- blockop ---

TEST(Runtime, BlockopRunsOnTheMainThreadAndThePseudoThreadResumes) {
  Runtime rt(small_config());
  rt.start();
  std::vector<int> order;
  std::vector<std::string> ran_on;
  std::atomic<int> finished{0};
  std::vector<int> resumed_with(3, -1);
  for (int i = 0; i < 3; ++i)
    rt.spawn([&, i] {
      int local = 1000 + i;  // lives on the pseudo-thread's stack across the sleep
      int err = rt.blockop([&, i] {
        order.push_back(i);
        ran_on.push_back(current_thread_name() + "/" + to_string(current_thread_kind()));
      });
      EXPECT_EQ(err, 0);
      resumed_with[static_cast<size_t>(i)] = local;
      if (++finished == 3) rt.request_stop();
    });
  EXPECT_EQ(rt.run_main(), 0);
  ASSERT_EQ(order.size(), 3u);
  EXPECT_EQ(order, (std::vector<int>{0, 1, 2}));  // queued, served in order
  for (const auto& where : ran_on) EXPECT_EQ(where, "pktd-main/main");
  EXPECT_EQ(resumed_with, (std::vector<int>{1000, 1001, 1002}));
  rt.stop();
}

TEST(Runtime, BlockopOutsideAPseudoThreadIsRefused) {
  Runtime rt(small_config());
  rt.start();
  log::Capture capture;
  EXPECT_EQ(rt.blockop([] {}), EPERM);
  int in_post = 0;
  in_stack(rt, [&] { in_post = rt.blockop([] {}); });
  EXPECT_EQ(in_post, EDEADLK);
  EXPECT_TRUE(capture.contains({"blockop refused"}));
  rt.stop();
}

// --- tracked threads and quiesce ---

struct Obedient {
  Runtime* rt;
  std::atomic<int> request{-1};  // -1 none, else the die argument
  std::atomic<bool> blocked{false};
  std::atomic<long> loops{0};
  static void quiesce(void* arg, int die) { static_cast<Obedient*>(arg)->request = die; }
  void body() {
    while (true) {
      int die = request.exchange(-1);
      if (die >= 0) {
        blocked = (die == 0);
        rt->quiesce_block(die);
        blocked = false;
      }
      loops++;
      std::this_thread::yield();
    }
  }
};

// Starts a tracked thread running ob's body (from the stack context, as the rules require).
TrackedThread* start_obedient(Runtime& rt, Obedient& ob, const std::string& name) {
  TrackedThread* t = nullptr;
  int err = -1;
  in_stack(rt, [&] { err = rt.create_thread(&t, name, [&ob] { ob.body(); }, &Obedient::quiesce, &ob); });
  EXPECT_EQ(err, 0);
  return t;
}

int reap(Runtime& rt, TrackedThread* t) {
  int r = -1;
  in_stack(rt, [&] { r = rt.reap_thread(t); });
  return r;
}

TEST(Runtime, TrackedThreadIsNamedQuiescedAndReaped) {
  Runtime rt(small_config());
  rt.start();
  Obedient ob{&rt};
  TrackedThread* t = start_obedient(rt, ob, "sam workthread");
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(eventually([&] {
    auto names = thread_names();
    return std::find(names.begin(), names.end(), "sam workthread") != names.end();
  }));
  // The exclusive section lives inside one stack callback, as in the seed's sam_stop.
  int q = -1, u = -1;
  bool blocked_inside = false;
  long frozen = 0;
  in_stack(rt, [&] {
    q = rt.quiesce_all();
    blocked_inside = ob.blocked.load();  // quiesce_all returned only once it was blocked
    frozen = ob.loops.load();
    u = rt.unquiesce_all();
  });
  EXPECT_EQ(q, 0);
  EXPECT_TRUE(blocked_inside);
  EXPECT_EQ(u, 0);
  ASSERT_TRUE(eventually([&] { return ob.loops.load() > frozen; }));
  EXPECT_EQ(reap(rt, t), 0);
  auto names = thread_names();
  EXPECT_EQ(std::find(names.begin(), names.end(), "sam workthread"), names.end());
  rt.stop();
}

TEST(Runtime, QuiesceWatchdogNamesATrackedThreadThatIgnoresIt) {
  Runtime rt(small_config());
  rt.start();
  log::Capture capture;
  std::atomic<bool> stop{false};
  struct Deaf {
    static void quiesce(void*, int) {}  // forgets to make the thread call quiesce_block
  };
  TrackedThread* t = nullptr;
  in_stack(rt, [&] {
    ASSERT_EQ(rt.create_thread(&t, "deaf thread", [&] {
      while (!stop.load()) std::this_thread::yield();
    }, &Deaf::quiesce, nullptr), 0);
  });
  int q = -1;
  in_stack(rt, [&] { q = rt.quiesce_all(); });
  EXPECT_EQ(q, ETIMEDOUT);
  EXPECT_TRUE(capture.contains({"quiesce", "deaf thread", "did not call quiesce_block"}));
  // Nothing is left quiesced: the stack goes on.
  in_stack(rt, [] {});
  stop = true;
  EXPECT_EQ(reap(rt, t), 0);
  rt.stop();
}

TEST(Runtime, ACallbackThatReturnsQuiescedIsUnquiescedAndNamed) {
  Runtime rt(small_config());
  rt.start();
  log::Capture capture;
  Obedient ob{&rt};
  TrackedThread* t = start_obedient(rt, ob, "sam workthread");
  int q = -1;
  in_stack(rt, [&] { q = rt.quiesce_all(); });  // forgets unquiesce_all
  EXPECT_EQ(q, 0);
  // Logged as the callback ends, just after in_stack saw it done.
  EXPECT_TRUE(eventually([&] { return capture.contains({"returned with every thread quiesced"}); }));
  // The stack, the workers and the tracked thread all go on.
  long before = ob.loops.load();
  ASSERT_TRUE(eventually([&] { return ob.loops.load() > before; }));
  for (int i = 0; i < 20; ++i) in_stack(rt, [] {});
  EXPECT_EQ(reap(rt, t), 0);
  rt.stop();
}

TEST(Runtime, TrackedThreadRulesAreEnforced) {
  Runtime rt(small_config());
  rt.start();
  log::Capture capture;
  TrackedThread* t = nullptr;
  // Only from the stack context.
  EXPECT_EQ(rt.create_thread(&t, "x", [] {}, [](void*, int) {}, nullptr), EPERM);
  // A quiesce callback is mandatory.
  int err = 0;
  in_stack(rt, [&] { err = rt.create_thread(&t, "x", [] {}, nullptr, nullptr); });
  EXPECT_EQ(err, EINVAL);
  EXPECT_TRUE(capture.contains({"quiesce callback"}));
  // quiesce_block from a thread that is not tracked is refused.
  std::thread([&] { rt.quiesce_block(0); }).join();
  EXPECT_TRUE(capture.contains({"quiesce_block", "not a tracked thread"}));
  // A tracked thread cannot reap itself (nor anything else: it is not the stack context).
  Obedient ob{&rt};
  std::atomic<int> self_reap{-1};
  std::atomic<TrackedThread*> self{nullptr};
  in_stack(rt, [&] {
    ASSERT_EQ(rt.create_thread(&t, "self reaper", [&] {
      eventually([&] { return self.load() != nullptr; });
      self_reap = rt.reap_thread(self.load());
      ob.body();
    }, &Obedient::quiesce, &ob), 0);
    self = t;
  });
  ASSERT_TRUE(eventually([&] { return self_reap.load() != -1; }));
  EXPECT_EQ(self_reap.load(), EPERM);
  EXPECT_TRUE(capture.contains({"reap_thread refused", "self reaper"}));
  EXPECT_EQ(reap(rt, t), 0);
  rt.stop();
}

// --- buffers and threads ---

TEST(Runtime, WaitokFromATrackedThreadIsRefusedNowaitWorks) {
  Runtime rt(small_config());
  rt.start();
  log::Capture capture;
  std::atomic<bool> done{false};
  buf::Mbuf* waitok = reinterpret_cast<buf::Mbuf*>(1);
  buf::Mbuf* nowait = nullptr;
  Obedient ob{&rt};
  TrackedThread* t = nullptr;
  in_stack(rt, [&] {
    ASSERT_EQ(rt.create_thread(&t, "buf user", [&] {
      waitok = buf::Pool::instance().get(buf::Wait::waitok, true);
      nowait = buf::Pool::instance().get(buf::Wait::nowait, true);
      done = true;
      ob.body();
    }, &Obedient::quiesce, &ob), 0);
  });
  ASSERT_TRUE(eventually([&] { return done.load(); }));
  EXPECT_EQ(waitok, nullptr);
  ASSERT_NE(nowait, nullptr);
  buf::Pool::instance().free_chain(nowait);
  EXPECT_TRUE(capture.contains({"M_WAITOK", "buf user"}));
  in_stack(rt, [&] { EXPECT_EQ(rt.reap_thread(t), 0); });
  rt.stop();
  EXPECT_TRUE(buf::Pool::instance().check_no_leaks());
}

TEST(Runtime, UntrackedThreadCannotAllocateBuffers) {
  Runtime rt(small_config());
  rt.start();
  log::Capture capture;
  buf::Mbuf* m = reinterpret_cast<buf::Mbuf*>(1);
  std::thread rogue([&] {
    pthread_setname_np(pthread_self(), "rogue-thread");
    m = buf::Pool::instance().get(buf::Wait::nowait, true);
  });
  rogue.join();
  EXPECT_EQ(m, nullptr);
  EXPECT_TRUE(capture.contains({"rogue-thread"}));
  rt.stop();
}

// A pool limited to 64 mbufs, every one of them held by the test until it ends.
struct ExhaustedPool {
  buf::Pool& pool = buf::Pool::instance();
  std::vector<buf::Mbuf*> held;
  ExhaustedPool() {
    // Made before the runtime starts, so register this thread as the main one it will be: an
    // untracked thread may not allocate.
    register_current_thread(ThreadKind::main, "pktd-main");
    buf::PoolConfig small;
    small.max_mbufs = 64;
    EXPECT_TRUE(pool.configure(small));
    while (buf::Mbuf* m = pool.get(buf::Wait::nowait, true)) held.push_back(m);
    EXPECT_EQ(held.size(), 64u);
  }
  ~ExhaustedPool() {
    for (auto* m : held) pool.free_one(m);
    EXPECT_TRUE(pool.configure(buf::PoolConfig{}));
  }
};

TEST(Runtime, WaitokSleepsThePseudoThreadUntilABufferIsFreed) {
  ExhaustedPool exhausted;
  auto& pool = exhausted.pool;
  auto& held = exhausted.held;
  Runtime rt(small_config());
  rt.start();
  std::atomic<buf::Mbuf*> got{nullptr};
  std::atomic<bool> started{false};
  rt.spawn([&] {
    started = true;
    got = pool.get(buf::Wait::waitok, true);
  });
  ASSERT_TRUE(eventually([&] { return started.load() && pool.stats().waitok_sleeps >= 1; }));
  EXPECT_EQ(got.load(), nullptr);  // asleep, not failed
  pool.free_one(held.back());
  held.pop_back();
  ASSERT_TRUE(eventually([&] { return got.load() != nullptr; }));
  pool.free_chain(got.load());
  rt.stop();  // then ExhaustedPool frees what it held; the leak check after each test follows
}

TEST(Runtime, WaitokGivesUpWhenTheStackShutsDown) {
  ExhaustedPool exhausted;
  auto& pool = exhausted.pool;
  Runtime rt(small_config());
  rt.start();
  std::atomic<bool> returned{false};
  std::atomic<buf::Mbuf*> got{reinterpret_cast<buf::Mbuf*>(1)};
  auto interrupted = pool.stats().fail_waitok_interrupted;
  rt.spawn([&] {
    got = pool.get(buf::Wait::waitok, true);
    returned = true;
  });
  ASSERT_TRUE(eventually([&] { return pool.stats().waitok_sleeps >= 1; }));
  rt.stop();  // must not hang on the sleeper
  EXPECT_TRUE(returned.load());
  EXPECT_EQ(got.load(), nullptr);
  EXPECT_EQ(pool.stats().fail_waitok_interrupted, interrupted + 1);
}

// --- the stack-context watchdog ---

std::atomic<log::Capture*> g_watchdog_capture{nullptr};

}  // namespace

extern "C" void pktd_test_blocking_callout(void*) {
  // Blocks the stack context on purpose, until the watchdog has said so (or 10 s).
  eventually([] { return g_watchdog_capture.load()->contains({"watchdog"}); });
}

namespace {

TEST(Runtime, StackWatchdogNamesABlockingCallback) {
  log::Capture capture;  // outlives the runtime: the blocked callout reads it
  g_watchdog_capture = &capture;
  RuntimeConfig config = small_config();
  config.stack_watchdog = 100ms;
  Runtime rt(config);
  rt.start();
  time::Callout c;
  in_stack(rt, [&] {
    rt.callout_init(c);
    rt.callout_msec(c, 1, &pktd_test_blocking_callout, nullptr);
  });
  // The report is counted just before it is logged: wait for the line itself.
  EXPECT_TRUE(eventually([&] {
    return capture.contains({"watchdog", "callout", "pktd_test_blocking_callout"});
  })) << capture.text();
  EXPECT_GE(rt.stats().watchdog_reports, 1u);
  rt.stop();
  g_watchdog_capture = nullptr;
}

}  // namespace
}  // namespace pktd::rt
