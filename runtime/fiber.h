// A stackful coroutine with a guard page below its stack: the body of a pseudo-thread.
//
// The switch itself is Boost.Context's fcontext (jump_fcontext, written in assembly). We call it
// directly rather than through boost::context::fiber so that nothing instrumented runs between
// telling the sanitizers about a switch and making it: AddressSanitizer tracks the current stack
// and ThreadSanitizer the current logical thread, and both must be told at the exact point.
#pragma once

#include <boost/context/detail/fcontext.hpp>

#include <cstddef>
#include <functional>

namespace pktd::rt {

class Fiber {
 public:
  // body runs on the fiber's own stack of stack_bytes (rounded up to pages), allocated the first
  // time resume() is called; when body returns the fiber is finished and its stack freed.
  // body must not throw.
  Fiber(size_t stack_bytes, std::function<void()> body);
  ~Fiber();  // the fiber must be finished or never started
  Fiber(const Fiber&) = delete;
  Fiber& operator=(const Fiber&) = delete;

  // From outside the fiber: run it until it suspends or finishes.
  void resume();
  // From inside the fiber: go back to the thread that called resume(). May come back on another
  // thread (pseudo-threads migrate with the stack context).
  void suspend();
  bool finished() const { return finished_; }
  bool started() const { return started_; }

 private:
  using Context = boost::context::detail::fcontext_t;
  static void entry(boost::context::detail::transfer_t from);
  void start();
  void free_stack();

  std::function<void()> body_;
  size_t stack_bytes_;
  void* mapping_ = nullptr;  // guard page + stack
  Context self_ = nullptr;    // where the fiber continues, while suspended
  Context caller_ = nullptr;  // where the resumer continues, while the fiber runs
  bool started_ = false;
  bool finished_ = false;
  // Sanitizer bookkeeping (unused in normal builds).
  const void* stack_bottom_ = nullptr;
  const void* caller_bottom_ = nullptr;
  size_t caller_size_ = 0;
  void* tsan_fiber_ = nullptr;
  void* tsan_caller_ = nullptr;
};

}  // namespace pktd::rt
