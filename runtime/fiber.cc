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
namespace fc = boost::context::detail;

namespace {

size_t page_size() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

size_t round_up_to_pages(size_t bytes) {
  size_t page = page_size();
  return (bytes + page - 1) / page * page;
}

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

Fiber::Fiber(size_t stack_bytes, std::function<void()> body)
    : body_(std::move(body)), stack_bytes_(round_up_to_pages(stack_bytes)) {}

Fiber::~Fiber() {
  if (started_ && !finished_) {
    // Its stack holds live frames that would never be unwound: refuse loudly.
    PKTD_LOG_ERR("pseudo-thread fiber destroyed while suspended; aborting");
    std::abort();
  }
  free_stack();
}

// One inaccessible page below the stack, so an overflow faults at once instead of silently
// corrupting a neighbour.
void Fiber::start() {
  size_t page = page_size();
  void* base = mmap(nullptr, stack_bytes_ + page, PROT_READ | PROT_WRITE,
                    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (base == MAP_FAILED) throw std::bad_alloc();
  if (mprotect(base, page, PROT_NONE) != 0) {
    munmap(base, stack_bytes_ + page);
    throw std::bad_alloc();
  }
  mapping_ = base;
  stack_bottom_ = static_cast<char*>(base) + page;
  void* top = static_cast<char*>(base) + page + stack_bytes_;  // stacks grow down
  self_ = fc::make_fcontext(top, stack_bytes_, &Fiber::entry);
#ifdef PKTD_TSAN
  tsan_fiber_ = __tsan_create_fiber(0);
#endif
  started_ = true;
}

void Fiber::free_stack() {
  if (mapping_ != nullptr) munmap(mapping_, stack_bytes_ + page_size());
  mapping_ = nullptr;
#ifdef PKTD_TSAN
  if (tsan_fiber_ != nullptr) __tsan_destroy_fiber(tsan_fiber_);
#endif
  tsan_fiber_ = nullptr;
}

void Fiber::entry(fc::transfer_t from) {
  auto* self = static_cast<Fiber*>(from.data);
  self->caller_ = from.fctx;
  asan_finish(nullptr, &self->caller_bottom_, &self->caller_size_);
  self->body_();
  self->finished_ = true;
  // A null fake stack tells ASan this stack is gone for good. The jump never returns.
  asan_start(nullptr, self->caller_bottom_, self->caller_size_);
  tsan_switch(self->tsan_caller_);
  fc::jump_fcontext(self->caller_, nullptr);
  __builtin_unreachable();
}

void Fiber::resume() {
  if (!started_) start();
  void* fake = nullptr;
  tsan_caller_ = tsan_current();
  asan_start(&fake, stack_bottom_, stack_bytes_);
  tsan_switch(tsan_fiber_);
  fc::transfer_t back = fc::jump_fcontext(self_, this);
  self_ = back.fctx;
  asan_finish(fake, nullptr, nullptr);
  if (finished_) free_stack();
}

void Fiber::suspend() {
  void* fake = nullptr;
  asan_start(&fake, caller_bottom_, caller_size_);
  tsan_switch(tsan_caller_);
  fc::transfer_t back = fc::jump_fcontext(caller_, nullptr);
  caller_ = back.fctx;  // the resumer: possibly another worker than last time
  asan_finish(fake, &caller_bottom_, &caller_size_);
}

}  // namespace pktd::rt
