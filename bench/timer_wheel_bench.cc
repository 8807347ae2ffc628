// Costs of the timing wheel on the paths the stack takes per packet (arm, stop, re-arm) and
// per timer interrupt (run_expired). Results: docs/bench-time.md.
#include <benchmark/benchmark.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <memory>

#include "time/clock.h"
#include "time/timer_wheel.h"

namespace pktd::time {
namespace {

using std::chrono::milliseconds;

void noop(void*) {}

// Cycles the delay over 1..1000 ms so the benchmark does not hit one hot slot only.
uint32_t next_delay(uint32_t ms) { return ms % 1000 + 1; }

// Arms `count` callouts with delays spread over 1..1000 ms: a wheel that is not empty.
std::unique_ptr<Callout[]> fill(TimerWheel& wheel, size_t count) {
  auto callouts = std::make_unique<Callout[]>(count);
  uint32_t ms = 1;
  for (size_t i = 0; i < count; ++i) {
    wheel.arm(callouts[i], ms, &noop, nullptr);
    ms = next_delay(ms);
  }
  return callouts;
}

// The wheel alone: a ManualClock costs one atomic load, no clock read.
// Arg: callouts already pending on the wheel.
void BM_CalloutArmStop(benchmark::State& state) {
  ManualClock clock;
  TimerWheel wheel(clock);
  auto background = fill(wheel, static_cast<size_t>(state.range(0)));
  Callout c;
  uint32_t ms = 1;
  for (auto _ : state) {
    wheel.arm(c, ms, &noop, nullptr);
    benchmark::DoNotOptimize(wheel.stop(c));
    ms = next_delay(ms);
  }
}
BENCHMARK(BM_CalloutArmStop)->Arg(0)->Arg(10000);

// What pktd pays: arm() reads CLOCK_MONOTONIC (vDSO) each time.
void BM_CalloutArmStop_SteadyClock(benchmark::State& state) {
  TimerWheel wheel(SteadyClock::instance());
  Callout c;
  uint32_t ms = 1;
  for (auto _ : state) {
    wheel.arm(c, ms, &noop, nullptr);
    benchmark::DoNotOptimize(wheel.stop(c));
    ms = next_delay(ms);
  }
}
BENCHMARK(BM_CalloutArmStop_SteadyClock);

// Re-arming a pending callout (TCP's retransmit timer on every ACK): a move between slots.
void BM_CalloutRearm(benchmark::State& state) {
  ManualClock clock;
  TimerWheel wheel(clock);
  Callout c;
  uint32_t ms = 1;
  wheel.arm(c, ms, &noop, nullptr);
  for (auto _ : state) {
    ms = next_delay(ms);
    wheel.arm(c, ms, &noop, nullptr);
  }
  benchmark::DoNotOptimize(c.pending());
}
BENCHMARK(BM_CalloutRearm);

// run_expired() with N callouts due in the same tick. Only the pass is timed, by hand:
// PauseTiming/ResumeTiming around the arming would cost more than a small pass itself.
void BM_RunExpired(benchmark::State& state) {
  const auto n = static_cast<size_t>(state.range(0));
  ManualClock clock;
  TimerWheel wheel(clock);
  auto callouts = std::make_unique<Callout[]>(n);
  for (auto _ : state) {
    for (size_t i = 0; i < n; ++i) wheel.arm(callouts[i], 1, &noop, nullptr);
    clock.advance(milliseconds(1));
    const auto start = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(wheel.run_expired());
    const auto stop = std::chrono::steady_clock::now();
    state.SetIterationTime(std::chrono::duration<double>(stop - start).count());
  }
  const auto callouts_run = static_cast<double>(state.iterations()) * static_cast<double>(n);
  state.counters["per_callout"] = benchmark::Counter(
      callouts_run, benchmark::Counter::kIsRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_RunExpired)->Arg(16)->Arg(256)->Arg(4096)->UseManualTime();

// run_expired() when a tick has passed but nothing is due: the runtime's idle wake-up. The
// pass scans one slot, whose entries (if any) are due revolutions later.
// Arg: callouts pending on the wheel, all weeks away and spread over every slot.
void BM_RunExpiredNothingDue(benchmark::State& state) {
  ManualClock clock;
  TimerWheel wheel(clock);
  const auto n = static_cast<size_t>(state.range(0));
  auto callouts = std::make_unique<Callout[]>(n);
  constexpr uint32_t kWeeksAway = 3'000'000'000;  // ms; no benchmark runs that many ticks
  for (size_t i = 0; i < n; ++i) {
    wheel.arm(callouts[i], kWeeksAway + static_cast<uint32_t>(i), &noop, nullptr);
  }
  for (auto _ : state) {
    clock.advance(milliseconds(1));
    benchmark::DoNotOptimize(wheel.run_expired());
  }
}
BENCHMARK(BM_RunExpiredNothingDue)->Arg(0)->Arg(10000);

}  // namespace
}  // namespace pktd::time

// Linux baseline, measured in the same run: arming and disarming a kernel timer (timerfd), what a
// user-space stack without its own wheel would pay per timer operation.
void BM_LinuxTimerfdArmDisarm(benchmark::State& state) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  itimerspec arm{};
  arm.it_value.tv_nsec = 5 * 1000 * 1000;
  itimerspec disarm{};
  for (auto _ : state) {
    timerfd_settime(fd, 0, &arm, nullptr);
    timerfd_settime(fd, 0, &disarm, nullptr);
  }
  close(fd);
}
BENCHMARK(BM_LinuxTimerfdArmDisarm);

BENCHMARK_MAIN();
