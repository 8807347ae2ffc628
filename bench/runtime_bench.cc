// The execution model's costs: a pseudo-thread switch and an interrupt event's latency.
#include <benchmark/benchmark.h>

#include <atomic>

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

// From interrupt_queue + send_event on this thread to the process callback on a worker.
void BM_InterruptEventToProcess(benchmark::State& state) {
  RuntimeConfig config;
  config.workers = 1;
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
BENCHMARK(BM_InterruptEventToProcess)->UseRealTime();

}  // namespace
}  // namespace pktd::rt

BENCHMARK_MAIN();
