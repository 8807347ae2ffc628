// The process-wide mbuf/cluster pool.
//
// Layout of the allocator (in the spirit of FreeBSD's UMA zones behind m_get/m_getcl):
//   - limits: one atomic in-use counter per kind (mbufs, clusters). Allocation first reserves a
//     unit with a compare-and-swap, so max_mbufs / max_clusters are never exceeded, not even
//     transiently; a free gives the unit back after the object is back on a free list.
//   - storage: per-thread caches (thread_local, no locks) in front of one mutex-protected global
//     free list per kind. A cache refills from / flushes to the global list half a cache at a time
//     and is flushed when its thread exits.
//   - configure() bumps a generation; caches and objects made under an older generation are
//     destroyed when next touched instead of reused (their clusters may have the wrong size).
//   - M_WAITOK: a caller that finds the limit reached sleeps through the runtime's Waiter; a free
//     wakes the pool channel only while someone waits (one load otherwise), and at most once until
//     a waiter has checked again.
#include <cerrno>
#include <cstdlib>
#include <mutex>
#include <new>
#include <string>

#include "base/log.h"
#include "base/thread_identity.h"
#include "buf/mbuf.h"
#include "buf/mbuf_internal.h"

namespace pktd::buf {

using detail::MbufSlot;
using detail::slot_of;

namespace {

constexpr uint64_t kSlotLive = 0x6c6976652d6d6266;  // "fbm-evil": in use
constexpr uint64_t kSlotFree = 0x667265652d6d6266;  // "fbm-eerf": on a free list
constexpr size_t kClusterHeaderBytes = 64;           // keeps cluster data cache-line aligned
constexpr std::align_val_t kClusterAlign{64};
constexpr size_t kMaxLimit = size_t{1} << 30;        // largest max_mbufs / max_clusters accepted
constexpr size_t kConfiguring = size_t{1} << 62;     // in_use while configure() runs: "full"
static_assert(sizeof(Cluster) <= kClusterHeaderBytes);

[[noreturn, gnu::cold]] void panic(const char* what, const void* object) {
  // Like BSD's panic("m_free"): a double free means the chain ownership is broken somewhere, and
  // continuing would hand the same buffer to two owners.
  PKTD_LOG_ERR("mbuf: %s (%p) on thread '%s'", what, object, current_thread_name().c_str());
  std::abort();
}

// --- objects ---

Mbuf* create_mbuf(uint32_t generation) {
  auto* slot = new (std::nothrow) MbufSlot;
  if (slot == nullptr) return nullptr;
  slot->state = kSlotFree;
  slot->mbuf.generation = generation;
  return &slot->mbuf;
}

void destroy(Mbuf* m) { delete slot_of(m); }

Cluster* create_cluster(size_t size, uint32_t generation) {
  void* mem = ::operator new(kClusterHeaderBytes + size, kClusterAlign, std::nothrow);
  if (mem == nullptr) return nullptr;
  auto* c = new (mem) Cluster;
  c->generation = generation;
  c->size = size;
  c->data = static_cast<std::byte*>(mem) + kClusterHeaderBytes;
  return c;
}

void destroy(Cluster* c) {
  c->~Cluster();
  ::operator delete(static_cast<void*>(c), kClusterAlign);
}

// --- free lists ---

// An intrusive LIFO of free objects, linked through Link (Mbuf::next or Cluster::next_free).
template <class T, T* T::*Link>
struct FreeList {
  T* head = nullptr;
  size_t count = 0;

  bool empty() const { return head == nullptr; }
  void push(T* obj) {
    obj->*Link = head;
    head = obj;
    ++count;
  }
  T* pop() {
    T* obj = head;
    head = obj->*Link;
    obj->*Link = nullptr;
    --count;
    return obj;
  }
  // Moves up to n objects from the front of this list to the front of to.
  void move_to(FreeList& to, size_t n) {
    if (n == 0 || head == nullptr) return;
    T* first = head;
    T* last = head;
    size_t moved = 1;
    for (; moved < n && last->*Link != nullptr; ++moved) last = last->*Link;
    head = last->*Link;
    count -= moved;
    last->*Link = to.head;
    to.head = first;
    to.count += moved;
  }
  void destroy_all() {
    while (!empty()) destroy(pop());
  }
};

using MbufList = FreeList<Mbuf, &Mbuf::next>;
using ClusterList = FreeList<Cluster, &Cluster::next_free>;

// Both kinds side by side, so the generic code below can pick one by type.
struct FreeLists {
  MbufList mbufs;
  ClusterList clusters;

  template <class T>
  auto& of() {
    if constexpr (std::is_same_v<T, Mbuf>) {
      return mbufs;
    } else {
      return clusters;
    }
  }
  void destroy_all() {
    mbufs.destroy_all();
    clusters.destroy_all();
  }
};

// A thread's private stock of free objects. generation 0: not set up yet.
struct ThreadCache {
  FreeLists lists;
  size_t capacity = 0;
  uint32_t generation = 0;
};

// Half a cache per trip to the global list: refills and flushes then alternate rarely even when a
// thread frees exactly what it allocates around the boundary.
size_t batch_of(size_t capacity) { return capacity > 1 ? capacity / 2 : 1; }

// --- limits ---

// In-use count of one kind with its limit. Alone on its cache line: every allocation and free
// writes it.
struct alignas(64) Limit {
  std::atomic<size_t> in_use{0};
  std::atomic<size_t> peak{0};
  std::atomic<size_t> max{0};

  // Takes one unit if in_use < max. A CAS rather than fetch_add: a fetch_add that overshoots and
  // backs out would make a concurrent allocator fail while the pool is in fact below its limit.
  // seq_cst pairs with the waiter count (see Impl::wait_for_room); on x86 a locked RMW costs the
  // same whatever the order.
  bool try_reserve() {
    size_t cur = in_use.load(std::memory_order_seq_cst);
    do {
      if (cur >= max.load(std::memory_order_relaxed)) return false;
    } while (!in_use.compare_exchange_weak(cur, cur + 1, std::memory_order_seq_cst));
    if (cur + 1 > peak.load(std::memory_order_relaxed)) [[unlikely]] raise_peak(cur + 1);
    return true;
  }
  void release(size_t n) { in_use.fetch_sub(n, std::memory_order_seq_cst); }
  void raise_peak(size_t value) {
    size_t p = peak.load(std::memory_order_relaxed);
    while (value > p && !peak.compare_exchange_weak(p, value, std::memory_order_relaxed)) {
    }
  }
  // configure(): claims the counter while it is 0 so that no allocation can start meanwhile.
  bool claim_idle() {
    size_t zero = 0;
    return in_use.compare_exchange_strong(zero, kConfiguring, std::memory_order_seq_cst);
  }
  void unclaim() { in_use.store(0, std::memory_order_seq_cst); }
  size_t current() const {
    size_t v = in_use.load(std::memory_order_relaxed);
    return v >= kConfiguring ? v - kConfiguring : v;
  }
};

bool valid_config(const PoolConfig& c, const char** why) {
  const bool pow2 = c.mclbytes != 0 && (c.mclbytes & (c.mclbytes - 1)) == 0;
  if (!pow2 || c.mclbytes < 2048 || c.mclbytes > 65536) {
    *why = "mclbytes must be a power of two from 2048 to 65536";
  } else if (c.max_mbufs == 0 || c.max_mbufs > kMaxLimit) {
    *why = "max_mbufs must be from 1 to 2^30";
  } else if (c.max_clusters == 0 || c.max_clusters > kMaxLimit) {
    *why = "max_clusters must be from 1 to 2^30";
  } else if (c.cache_size > kMaxLimit) {
    *why = "cache_size must be at most 2^30";
  } else {
    return true;
  }
  return false;
}

// --- thread-local state ---

// The fast path reads only t_cache (trivially constructed: no TLS guard on access). t_owner holds
// the cache and flushes it when the thread exits; it is touched once, when the cache is set up.
constinit thread_local ThreadCache* t_cache = nullptr;
constinit thread_local bool t_cache_gone = false;  // t_owner destroyed: use the global lists

struct CacheOwner {
  ThreadCache cache;
  ~CacheOwner();
};
thread_local CacheOwner t_owner;

}  // namespace

struct Pool::Impl {
  Limit mbufs;
  Limit clusters;

  // Read on every operation, written rarely.
  alignas(64) std::atomic<uint32_t> waiters{0};  // callers inside wait_for_room
  std::atomic<bool> wake_pending{false};          // a wake was sent since a waiter last checked
  std::atomic<uint32_t> generation{1};
  std::atomic<size_t> mclbytes{PoolConfig{}.mclbytes};
  std::atomic<size_t> cache_size{PoolConfig{}.cache_size};
  std::atomic<Waiter*> waiter{nullptr};

  // Written only on failure paths.
  alignas(64) std::atomic<uint64_t> fail_nowait_exhausted{0};
  std::atomic<uint64_t> waitok_sleeps{0};
  std::atomic<uint64_t> fail_waitok_refused{0};
  std::atomic<uint64_t> fail_waitok_interrupted{0};
  std::atomic<uint64_t> fail_untracked_thread{0};
  std::atomic<uint64_t> untracked_frees{0};

  alignas(64) std::mutex mutex;
  FreeLists global;  // guarded by mutex; only objects of the current generation
  const char channel = 0;  // its address is the channel M_WAITOK sleeps on

  Impl() {
    mbufs.max.store(PoolConfig{}.max_mbufs);
    clusters.max.store(PoolConfig{}.max_clusters);
  }

  const void* chan() const { return &channel; }
  uint32_t current_generation() const { return generation.load(std::memory_order_acquire); }

  // --- per-thread caches ---

  // The calling thread's cache, set up for the current configuration; nullptr once the thread's
  // cache is gone (thread exit), in which case the global lists serve directly.
  ThreadCache* cache() {
    ThreadCache* c = t_cache;
    if (c != nullptr && c->generation == current_generation()) [[likely]] return c;
    return cache_slow();
  }

  [[gnu::noinline]] ThreadCache* cache_slow() {
    if (t_cache_gone) return nullptr;
    if (t_cache == nullptr) t_cache = &t_owner.cache;
    ThreadCache* c = t_cache;
    // First use, or configure() ran since: whatever the cache holds is of an older generation.
    c->lists.destroy_all();
    c->generation = current_generation();
    c->capacity = cache_size.load(std::memory_order_relaxed);
    return c;
  }

  // Returns every cached object to the global list (thread exit).
  void flush_all(ThreadCache& c) {
    {
      std::lock_guard lock(mutex);
      if (c.generation == current_generation()) {
        c.lists.mbufs.move_to(global.mbufs, c.lists.mbufs.count);
        c.lists.clusters.move_to(global.clusters, c.lists.clusters.count);
      }
    }
    c.lists.destroy_all();  // left only if stale
  }

  // --- taking and giving objects ---

  template <class T>
  T* create(uint32_t gen) {
    if constexpr (std::is_same_v<T, Mbuf>) {
      return create_mbuf(gen);
    } else {
      return create_cluster(mclbytes.load(std::memory_order_relaxed), gen);
    }
  }

  // A free object of kind T; the caller has reserved it against the limit.
  template <class T>
  T* take(ThreadCache* c) {
    if (c != nullptr) {
      auto& list = c->lists.of<T>();
      if (!list.empty()) [[likely]] return list.pop();
    }
    return take_slow<T>(c);
  }

  template <class T>
  [[gnu::noinline]] T* take_slow(ThreadCache* c) {
    const uint32_t gen = current_generation();
    {
      std::lock_guard lock(mutex);
      auto& global_list = global.of<T>();
      if (c == nullptr) {
        if (!global_list.empty()) return global_list.pop();
      } else {
        global_list.move_to(c->lists.of<T>(), batch_of(c->capacity));
      }
    }
    if (c != nullptr && !c->lists.of<T>().empty()) return c->lists.of<T>().pop();
    return create<T>(gen);
  }

  template <class T>
  void give(ThreadCache* c, T* obj) {
    if (c != nullptr && obj->generation == c->generation) [[likely]] {
      auto& list = c->lists.of<T>();
      if (list.count < c->capacity) [[likely]] {
        list.push(obj);
        return;
      }
    }
    give_slow(c, obj);
  }

  // Cache full (flush half of it to the global list), no cache (thread exiting, untracked
  // thread, cache_size 0), or an object of an older generation (destroyed, never reused).
  template <class T>
  [[gnu::noinline]] void give_slow(ThreadCache* c, T* obj) {
    bool stale = false;
    {
      std::lock_guard lock(mutex);
      const uint32_t gen = current_generation();
      stale = obj->generation != gen;
      if (!stale) {
        if (c == nullptr || c->capacity == 0 || c->generation != gen) {
          global.of<T>().push(obj);
          return;
        }
        c->lists.of<T>().move_to(global.of<T>(), batch_of(c->capacity));
      }
    }
    if (stale) {
      destroy(obj);
    } else {
      c->lists.of<T>().push(obj);
    }
  }

  // --- allocation ---

  // Reserves an mbuf and, if asked, a cluster; all or nothing.
  bool reserve(bool with_cluster) {
    if (!mbufs.try_reserve()) return false;
    if (!with_cluster || clusters.try_reserve()) return true;
    mbufs.release(1);
    wake_waiters();
    return false;
  }

  static void init_mbuf(Mbuf* m, bool pkthdr) {
    MbufSlot* slot = slot_of(m);
    slot->state = kSlotLive;
    m->next = nullptr;
    m->nextpkt = nullptr;
    m->cluster = nullptr;
    m->data = slot->inline_buf.data();
    m->len = 0;
    m->has_pkthdr = pkthdr;
    m->pkthdr = PktHdr{};
  }

  // After a successful reserve(): takes the objects (nullptr only if the heap is exhausted).
  Mbuf* take_reserved(bool pkthdr, bool with_cluster) {
    ThreadCache* c = cache();
    Mbuf* m = take<Mbuf>(c);
    Cluster* cl = with_cluster && m != nullptr ? take<Cluster>(c) : nullptr;
    if (m == nullptr || (with_cluster && cl == nullptr)) [[unlikely]] {
      return out_of_memory(c, m, with_cluster);
    }
    init_mbuf(m, pkthdr);
    if (with_cluster) {
      cl->refs.store(1, std::memory_order_relaxed);
      m->cluster = cl;
      m->data = cl->data;
    }
    return m;
  }

  [[gnu::noinline]] Mbuf* out_of_memory(ThreadCache* c, Mbuf* m, bool with_cluster) {
    if (m != nullptr) give(c, m);
    mbufs.release(1);
    if (with_cluster) clusters.release(1);
    wake_waiters();
    fail_nowait_exhausted.fetch_add(1, std::memory_order_relaxed);
    PKTD_LOG_ERR("mbuf: out of memory allocating a buffer");
    return nullptr;
  }

  // Not inlined, so that the thread cache is looked up afresh after a sleep: the pseudo-thread
  // may have resumed on another worker (see base/thread_identity.h).
  [[gnu::noinline]] Mbuf* take_reserved_after_sleep(bool pkthdr, bool with_cluster) {
    return take_reserved(pkthdr, with_cluster);
  }

  // The limit was reached: M_NOWAIT fails; M_WAITOK sleeps (if the caller may) until it can
  // reserve, then allocates.
  [[gnu::noinline]] Mbuf* get_when_full(Wait how, bool pkthdr, bool with_cluster) {
    if (!wait_for_room(how, with_cluster)) return nullptr;
    return take_reserved_after_sleep(pkthdr, with_cluster);
  }

  // M_WAITOK with a Waiter installed: refused up front when the caller may not sleep, whether or
  // not it would have to (like WITNESS flagging M_WAITOK in the wrong context): a misuse shows on
  // every call, not only under memory pressure. Without a Waiter (unit tests, before the runtime
  // starts) it is refused only where it would have to sleep.
  bool waitok_allowed() {
    Waiter* w = waiter.load(std::memory_order_acquire);
    return w == nullptr || w->can_sleep() || refuse_waitok("");
  }

  [[gnu::noinline, gnu::cold]] bool refuse_waitok(const char* why) {
    fail_waitok_refused.fetch_add(1, std::memory_order_relaxed);
    PKTD_LOG_ERR("mbuf: M_WAITOK allocation refused on thread '%s' (%s)%s: M_WAITOK is only "
                 "allowed on a pseudo-thread in the stack context",
                 current_thread_name().c_str(), pktd::to_string(current_thread_kind()), why);
    return false;
  }

  bool wait_for_room(Wait how, bool with_cluster) {
    if (how == Wait::nowait) {
      fail_nowait_exhausted.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    Waiter* w = waiter.load(std::memory_order_acquire);
    if (w == nullptr || !w->can_sleep()) return refuse_waitok(", the pool being at its limit");
    // Announce first, then re-check: a free either sees waiters != 0 and wakes us, or happened
    // before our re-check, which then succeeds (both sides are seq_cst). Clearing wake_pending
    // before each re-check re-arms the wake for frees that our re-check may miss. The runtime's
    // Waiter must keep a wake that lands between the re-check and sleep() (see mbuf.h).
    waiters.fetch_add(1, std::memory_order_seq_cst);
    bool reserved = false;
    for (;;) {
      wake_pending.store(false, std::memory_order_seq_cst);
      if ((reserved = reserve(with_cluster))) break;
      waitok_sleeps.fetch_add(1, std::memory_order_relaxed);
      // EINTR: the stack is shutting down and will not wake us again; give up rather than spin.
      if (w->sleep(chan(), 0) == EINTR) break;
    }
    waiters.fetch_sub(1, std::memory_order_seq_cst);
    if (!reserved) fail_waitok_interrupted.fetch_add(1, std::memory_order_relaxed);
    return reserved;
  }

  [[gnu::noinline, gnu::cold]] Mbuf* refuse_untracked() {
    fail_untracked_thread.fetch_add(1, std::memory_order_relaxed);
    PKTD_LOG_ERR("mbuf: allocation refused on untracked thread '%s': only the main thread, "
                 "workers and threads created through the runtime may allocate buffers",
                 current_thread_name().c_str());
    return nullptr;
  }

  // --- free ---

  // Drops one reference to c; returns true if it was the last and c went back to a free list.
  bool drop_cluster(ThreadCache* c, Cluster* cl) {
    // The only reference needs no atomic RMW: nobody else can reach c to share it. acquire pairs
    // with the release of other sharers' decrements, so their reads of the data are done.
    uint32_t refs = cl->refs.load(std::memory_order_acquire);
    if (refs != 1) refs = cl->refs.fetch_sub(1, std::memory_order_acq_rel);
    if (refs == 0) [[unlikely]] panic("cluster freed twice", cl);
    if (refs != 1) return false;
    cl->refs.store(0, std::memory_order_relaxed);
    give(c, cl);
    return true;
  }

  // Returns m (not m->next) to a free list; counts a freed cluster in *clusters_freed.
  void release_mbuf(ThreadCache* c, Mbuf* m, size_t* clusters_freed) {
    MbufSlot* slot = slot_of(m);
    if (slot->state != kSlotLive) [[unlikely]] panic("mbuf freed twice", m);
    slot->state = kSlotFree;
    if (m->cluster != nullptr) {
      if (drop_cluster(c, m->cluster)) ++*clusters_freed;
      m->cluster = nullptr;
    }
    give(c, m);
  }

  // Frees m, and its successors if whole_chain. The in-use counts drop only after the objects are
  // on a free list, so configure() cannot run while a free is half done.
  void free_mbufs(Mbuf* m, bool whole_chain, ThreadCache* c) {
    size_t nmbufs = 0;
    size_t nclusters = 0;
    while (m != nullptr) {
      Mbuf* next = m->next;  // give() reuses the link
      release_mbuf(c, m, &nclusters);
      ++nmbufs;
      m = whole_chain ? next : nullptr;
    }
    mbufs.release(nmbufs);
    if (nclusters != 0) clusters.release(nclusters);
    wake_waiters();
  }

  // An untracked thread has no business holding buffers, but refusing the free would leak them:
  // log, count, and free through the global lists (no thread cache for such a thread).
  [[gnu::noinline]] void free_untracked(Mbuf* m, bool whole_chain) {
    untracked_frees.fetch_add(1, std::memory_order_relaxed);
    PKTD_LOG_ERR("mbuf: buffer freed on untracked thread '%s'; freed anyway, but only the main "
                 "thread, workers and threads created through the runtime may use buffers",
                 current_thread_name().c_str());
    free_mbufs(m, whole_chain, nullptr);
  }

  void wake_waiters() {
    if (waiters.load(std::memory_order_seq_cst) != 0) [[unlikely]] wake_slow();
  }

  // One wake per round of sleeping: the frees that follow it until a waiter re-checks need none
  // (that re-check sees them), and the runtime posts each wake to the stack context, so a burst of
  // frees under memory pressure must not become a burst of wakes.
  [[gnu::noinline]] void wake_slow() {
    if (wake_pending.exchange(true, std::memory_order_seq_cst)) return;
    Waiter* w = waiter.load(std::memory_order_acquire);
    if (w != nullptr) w->wake(chan());
  }

  // --- configuration ---

  bool configure(const PoolConfig& config) {
    const char* why = nullptr;
    if (!valid_config(config, &why)) {
      PKTD_LOG_ERR("mbuf: configuration refused: %s", why);
      return false;
    }
    FreeLists discarded;
    {
      std::lock_guard lock(mutex);
      if (!claim_both()) return false;
      apply(config);
      discarded = global;  // of the old generation
      global = FreeLists{};
      mbufs.unclaim();
      clusters.unclaim();
    }
    discarded.destroy_all();
    wake_waiters();  // an M_WAITOK caller may have found the pool "full" while it was claimed
    return true;
  }

  bool claim_both() {
    if (mbufs.claim_idle()) {
      if (clusters.claim_idle()) return true;
      mbufs.unclaim();
    }
    PKTD_LOG_ERR("mbuf: configuration refused: %zu mbufs and %zu clusters in use",
                 mbufs.current(), clusters.current());
    return false;
  }

  void apply(const PoolConfig& config) {
    mbufs.max.store(config.max_mbufs, std::memory_order_relaxed);
    clusters.max.store(config.max_clusters, std::memory_order_relaxed);
    mbufs.peak.store(0, std::memory_order_relaxed);
    clusters.peak.store(0, std::memory_order_relaxed);
    mclbytes.store(config.mclbytes, std::memory_order_relaxed);
    cache_size.store(config.cache_size, std::memory_order_relaxed);
    uint32_t next = generation.load(std::memory_order_relaxed) + 1;
    if (next == 0) next = 1;  // 0 marks a thread cache that was never set up
    generation.store(next, std::memory_order_release);
  }
};

namespace {

Pool::Impl* g_impl = nullptr;  // set once by the Pool constructor; the pool is never destroyed

CacheOwner::~CacheOwner() {
  t_cache = nullptr;
  t_cache_gone = true;  // later frees on this thread (other thread_local destructors) go global
  g_impl->flush_all(cache);
}

}  // namespace

// --- Pool ---

Pool& Pool::instance() {
  // Never destroyed: buffers may be freed by thread_local destructors and atexit handlers.
  static Pool* const pool = new Pool;
  return *pool;
}

Pool::Pool() : impl_(new Impl) { g_impl = impl_; }

bool Pool::configure(const PoolConfig& config) { return impl_->configure(config); }

PoolConfig Pool::config() const {
  PoolConfig c;
  c.mclbytes = impl_->mclbytes.load(std::memory_order_relaxed);
  c.max_mbufs = impl_->mbufs.max.load(std::memory_order_relaxed);
  c.max_clusters = impl_->clusters.max.load(std::memory_order_relaxed);
  c.cache_size = impl_->cache_size.load(std::memory_order_relaxed);
  return c;
}

void Pool::set_waiter(Waiter* waiter) { impl_->waiter.store(waiter, std::memory_order_release); }

PoolStats Pool::stats() const {
  const Impl& p = *impl_;
  PoolStats s;
  s.mbufs_in_use = p.mbufs.current();
  s.mbufs_peak = p.mbufs.peak.load(std::memory_order_relaxed);
  s.mbufs_limit = p.mbufs.max.load(std::memory_order_relaxed);
  s.clusters_in_use = p.clusters.current();
  s.clusters_peak = p.clusters.peak.load(std::memory_order_relaxed);
  s.clusters_limit = p.clusters.max.load(std::memory_order_relaxed);
  s.mclbytes = p.mclbytes.load(std::memory_order_relaxed);
  s.fail_nowait_exhausted = p.fail_nowait_exhausted.load(std::memory_order_relaxed);
  s.waitok_sleeps = p.waitok_sleeps.load(std::memory_order_relaxed);
  s.fail_waitok_refused = p.fail_waitok_refused.load(std::memory_order_relaxed);
  s.fail_waitok_interrupted = p.fail_waitok_interrupted.load(std::memory_order_relaxed);
  s.fail_untracked_thread = p.fail_untracked_thread.load(std::memory_order_relaxed);
  s.untracked_frees = p.untracked_frees.load(std::memory_order_relaxed);
  return s;
}

bool Pool::check_no_leaks(std::string* report) const {
  const PoolStats s = stats();
  const bool clean = s.mbufs_in_use == 0 && s.clusters_in_use == 0;
  if (report != nullptr) {
    *report = "mbufs in use: " + std::to_string(s.mbufs_in_use) +
              " (peak " + std::to_string(s.mbufs_peak) + ", limit " +
              std::to_string(s.mbufs_limit) + "); clusters in use: " +
              std::to_string(s.clusters_in_use) + " (peak " + std::to_string(s.clusters_peak) +
              ", limit " + std::to_string(s.clusters_limit) + ", " +
              std::to_string(s.mclbytes) + " bytes each)";
  }
  return clean;
}

// The entry points read the thread cache inline (t_cache) and never sleep between that read and
// its use. noinline keeps it so even under LTO: inlined into a caller that sleeps, the compiler
// could reuse a thread-local address computed on another worker (see base/thread_identity.h).
[[gnu::noinline]] Mbuf* Pool::get(Wait how, bool pkthdr) {
  Impl& p = *impl_;
  if (!may_use_buffers(current_thread_kind())) [[unlikely]] return p.refuse_untracked();
  if (how == Wait::waitok && !p.waitok_allowed()) return nullptr;
  if (!p.mbufs.try_reserve()) [[unlikely]] return p.get_when_full(how, pkthdr, false);
  return p.take_reserved(pkthdr, false);
}

[[gnu::noinline]] Mbuf* Pool::get_cluster(Wait how, bool pkthdr) {
  Impl& p = *impl_;
  if (!may_use_buffers(current_thread_kind())) [[unlikely]] return p.refuse_untracked();
  if (how == Wait::waitok && !p.waitok_allowed()) return nullptr;
  if (!p.reserve(true)) [[unlikely]] return p.get_when_full(how, pkthdr, true);
  return p.take_reserved(pkthdr, true);
}

[[gnu::noinline]] void Pool::free_one(Mbuf* m) {
  if (m == nullptr) return;
  if (!may_use_buffers(current_thread_kind())) [[unlikely]] {
    impl_->free_untracked(m, false);
    return;
  }
  impl_->free_mbufs(m, false, impl_->cache());
}

[[gnu::noinline]] void Pool::free_chain(Mbuf* m) {
  if (m == nullptr) return;
  if (!may_use_buffers(current_thread_kind())) [[unlikely]] {
    impl_->free_untracked(m, true);
    return;
  }
  impl_->free_mbufs(m, true, impl_->cache());
}

namespace detail {

// Through instance(): a chain operation may be the first use of the pool.
size_t current_mclbytes() { return Pool::instance().config().mclbytes; }

void attach_shared_cluster(Mbuf& dst, const Mbuf& src) {
  // Relaxed like shared_ptr's increment: the caller already holds a reference through src, so the
  // count cannot reach zero meanwhile.
  src.cluster->refs.fetch_add(1, std::memory_order_relaxed);
  dst.cluster = src.cluster;
}

}  // namespace detail
}  // namespace pktd::buf
