#include "runtime/fiber.h"

#include <sys/mman.h>
#include <unistd.h>

#include <cstdlib>
#include <new>
#include <utility>

#include "base/log.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PKTD_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define PKTD_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define PKTD_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define PKTD_TSAN 1
#endif

#ifdef PKTD_ASAN
#include <sanitizer/asan_interface.h>
#endif
#ifdef PKTD_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace pktd::rt {
namespace ctx = boost::context;

namespace {

size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

// A stack with one inaccessible page below it, so an overflow faults at once instead of
// silently corrupting a neighbour (io-pkt pseudo-threads have small fixed stacks too).
class GuardedStack {
 public:
  GuardedStack(size_t bytes, const void** bottom_out) : bytes_(round_up(bytes)), bottom_out_(bottom_out) {}

  ctx::stack_context allocate() {
    size_t page = page_size();
    void* base = mmap(nullptr, bytes_ + page, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED) throw std::bad_alloc();
    if (mprotect(base, page, PROT_NONE) != 0) {
      munmap(base, bytes_ + page);
      throw std::bad_alloc();
    }
    ctx::stack_context sc;
    sc.size = bytes_;
    sc.sp = static_cast<char*>(base) + page + bytes_;  // stacks grow down
    *bottom_out_ = static_cast<char*>(base) + page;
    return sc;
  }

  void deallocate(ctx::stack_context& sc) {
    size_t page = page_size();
    void* base = static_cast<char*>(sc.sp) - sc.size - page;
    munmap(base, sc.size + page);
  }

  size_t bytes() const { return bytes_; }

 private:
  static size_t round_up(size_t bytes) {
    size_t page = page_size();
    return (bytes + page - 1) / page * page;
  }
  size_t bytes_;
  const void** bottom_out_;
};

// The switch protocol for AddressSanitizer: announce the stack being switched to, then
// confirm on arrival (learning which stack we came from).
void asan_start(void** fake, const void* bottom, size_t size) {
#ifdef PKTD_ASAN
  __sanitizer_start_switch_fiber(fake, bottom, size);
#else
  (void)fake, (void)bottom, (void)size;
#endif
}

void asan_finish(void* fake, const void** from_bottom, size_t* from_size) {
#ifdef PKTD_ASAN
  __sanitizer_finish_switch_fiber(fake, from_bottom, from_size);
#else
  (void)fake, (void)from_bottom, (void)from_size;
#endif
}

void* tsan_current() {
#ifdef PKTD_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

void tsan_switch(void* fiber) {
#ifdef PKTD_TSAN
  __tsan_switch_to_fiber(fiber, 0);
#else
  (void)fiber;
#endif
}

}  // namespace

Fiber::Fiber(size_t stack_bytes, std::function<void()> body) : body_(std::move(body)) {
  GuardedStack stack(stack_bytes, &stack_bottom_);
  stack_size_ = stack.bytes();
  self_ = ctx::fiber(std::allocator_arg, stack,
                     [this](ctx::fiber&& caller) { return entry(std::move(caller)); });
#ifdef PKTD_TSAN
  tsan_fiber_ = __tsan_create_fiber(0);
#endif
}

Fiber::~Fiber() {
  if (started_ && !finished_) {
    // Destroying a suspended fiber would unwind it from a foreign thread: refuse loudly.
    PKTD_LOG_ERR("fiber destroyed while suspended; aborting");
    std::abort();
  }
#ifdef PKTD_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
#endif
}

ctx::fiber Fiber::entry(ctx::fiber&& caller) {
  caller_ = std::move(caller);
  asan_finish(nullptr, &caller_bottom_, &caller_size_);
  body_();
  finished_ = true;
  // A null fake stack tells ASan this stack is gone for good.
  asan_start(nullptr, caller_bottom_, caller_size_);
  tsan_switch(tsan_caller_);
  return std::move(caller_);
}

void Fiber::resume() {
  void* fake = nullptr;
  started_ = true;
  tsan_caller_ = tsan_current();
  asan_start(&fake, stack_bottom_, stack_size_);
  tsan_switch(tsan_fiber_);
  self_ = std::move(self_).resume();
  asan_finish(fake, nullptr, nullptr);
}

void Fiber::suspend() {
  void* fake = nullptr;
  asan_start(&fake, caller_bottom_, caller_size_);
  tsan_switch(tsan_caller_);
  caller_ = std::move(caller_).resume();
  asan_finish(fake, &caller_bottom_, &caller_size_);
}

}  // namespace pktd::rt
