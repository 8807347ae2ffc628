// The execution model's costs: a pseudo-thread switch and an interrupt event's latency.
#include <benchmark/benchmark.h>

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <ucontext.h>
#include <unistd.h>

#include <atomic>
#include <thread>
#include <vector>

#include "runtime/fiber.h"
#include "runtime/runtime.h"

namespace pktd::rt {
namespace {

// One iteration = two switches: into the fiber and back out (resume + suspend).
void BM_PseudoThreadSwitch(benchmark::State& state) {
  bool stop = false;
  Fiber* self = nullptr;
  Fiber fiber(64 * 1024, [&] {
    while (!stop) self->suspend();
  });
  self = &fiber;
  for (auto _ : state) fiber.resume();
  stop = true;
  fiber.resume();
  state.counters["ns_per_switch"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_PseudoThreadSwitch);

// From interrupt_queue + send_event on this thread to the process callback on a worker. The
// argument is the workers' busy-poll window in microseconds (pktd's poll_us; 0: always sleep).
void BM_InterruptEventToProcess(benchmark::State& state) {
  RuntimeConfig config;
  config.workers = 1;
  config.poll = std::chrono::microseconds(state.range(0));
  Runtime rt(config);
  rt.start();
  std::atomic<uint64_t> processed{0};
  InterruptSpec spec;
  spec.name = "bench";
  spec.process = [&] {
    processed.fetch_add(1, std::memory_order_release);
    return Process::done;
  };
  spec.enable = [] {};
  Interrupt* irq = rt.attach_interrupt(spec);
  uint64_t expected = 0;
  for (auto _ : state) {
    InterruptEvent* ev = nullptr;
    while ((ev = rt.interrupt_queue(irq)) == nullptr) {
    }
    rt.send_event(ev);
    ++expected;
    while (processed.load(std::memory_order_acquire) != expected) {
    }
  }
  rt.detach_interrupt(irq);
  rt.stop();
}
BENCHMARK(BM_InterruptEventToProcess)->Arg(0)->Arg(50)->UseRealTime();

// Linux baselines, measured in the same run.

// glibc's swapcontext: a user-space switch that also saves the signal mask (a system call).
ucontext_t g_main_ctx, g_fiber_ctx;
void ucontext_body() {
  while (true) swapcontext(&g_fiber_ctx, &g_main_ctx);
}
void BM_LinuxSwapcontext(benchmark::State& state) {
  std::vector<char> stack(64 * 1024);
  getcontext(&g_fiber_ctx);
  g_fiber_ctx.uc_stack.ss_sp = stack.data();
  g_fiber_ctx.uc_stack.ss_size = stack.size();
  g_fiber_ctx.uc_link = nullptr;
  makecontext(&g_fiber_ctx, ucontext_body, 0);
  for (auto _ : state) swapcontext(&g_main_ctx, &g_fiber_ctx);
  state.counters["ns_per_switch"] = benchmark::Counter(
      static_cast<double>(state.iterations()) * 2,
      benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_LinuxSwapcontext);

// The kernel's own floor for "event to callback": a thread blocked in epoll_wait on an eventfd,
// woken by a write from this thread, with nothing of pktd in between.
void BM_LinuxEventfdEpollWake(benchmark::State& state) {
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  int ep = epoll_create1(EPOLL_CLOEXEC);
  epoll_event ev{};
  ev.events = EPOLLIN;
  epoll_ctl(ep, EPOLL_CTL_ADD, efd, &ev);
  std::atomic<uint64_t> seen{0};
  std::atomic<bool> stop{false};
  std::thread waiter([&] {
    epoll_event out;
    while (!stop.load()) {
      if (epoll_wait(ep, &out, 1, 100) == 1) {
        uint64_t v;
        if (read(efd, &v, sizeof v) == sizeof v) seen.fetch_add(v, std::memory_order_release);
      }
    }
  });
  uint64_t expected = 0;
  for (auto _ : state) {
    uint64_t one = 1;
    if (write(efd, &one, sizeof one) != sizeof one) state.SkipWithError("write");
    ++expected;
    while (seen.load(std::memory_order_acquire) != expected) {
    }
  }
  stop = true;
  waiter.join();
  close(ep);
  close(efd);
}
BENCHMARK(BM_LinuxEventfdEpollWake)->UseRealTime();

}  // namespace
}  // namespace pktd::rt

BENCHMARK_MAIN();
