// Packet buffer fast paths: allocation and free that hit the calling thread's cache.
//
// Each benchmark registers its thread as a worker (an untracked thread may not allocate) and
// warms the cache with one allocation before timing.
#include <benchmark/benchmark.h>

#include <cstddef>
#include <cstdlib>
#include <vector>

#include "base/thread_identity.h"
#include "buf/mbuf.h"

namespace {

using pktd::buf::Mbuf;
using pktd::buf::Pool;
using pktd::buf::Wait;

void register_worker() { pktd::register_current_thread(pktd::ThreadKind::worker, "bench-buf"); }

// m_gethdr + m_free of one mbuf (inline buffer).
void BM_MbufAllocFreeCacheHit(benchmark::State& state) {
  register_worker();
  Pool& pool = Pool::instance();
  pool.free_one(pool.get(Wait::nowait, true));
  for ([[maybe_unused]] auto _ : state) {
    Mbuf* m = pool.get(Wait::nowait, true);
    benchmark::DoNotOptimize(m);
    pool.free_one(m);
  }
}
BENCHMARK(BM_MbufAllocFreeCacheHit);
// Two threads at once: what the shared in-use counter (exact limits) costs under contention.
BENCHMARK(BM_MbufAllocFreeCacheHit)->Threads(2);

// m_getcl + m_free: an mbuf and a cluster, both from the cache.
void BM_ClusterAllocFreeCacheHit(benchmark::State& state) {
  register_worker();
  Pool& pool = Pool::instance();
  pool.free_one(pool.get_cluster(Wait::nowait, true));
  for ([[maybe_unused]] auto _ : state) {
    Mbuf* m = pool.get_cluster(Wait::nowait, true);
    benchmark::DoNotOptimize(m);
    pool.free_one(m);
  }
}
BENCHMARK(BM_ClusterAllocFreeCacheHit);

// m_devget of a full Ethernet payload and m_freem: cluster allocation plus a 1500-byte copy.
void BM_PacketFromAndFree(benchmark::State& state) {
  register_worker();
  const std::vector<std::byte> frame(static_cast<size_t>(state.range(0)), std::byte{0x5a});
  pktd::buf::packet_from(frame).reset();
  for ([[maybe_unused]] auto _ : state) {
    pktd::buf::MbufPtr m = pktd::buf::packet_from(frame);
    benchmark::DoNotOptimize(m.get());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}
BENCHMARK(BM_PacketFromAndFree)->Arg(1500);

}  // namespace

// Baseline, measured in the same run: glibc malloc+free of a cluster-sized block.
void BM_MallocFree2048(benchmark::State& state) {
  for (auto _ : state) {
    void* p = std::malloc(2048);
    benchmark::DoNotOptimize(p);
    std::free(p);
  }
}
BENCHMARK(BM_MallocFree2048);

BENCHMARK_MAIN();
