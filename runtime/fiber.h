// A stackful coroutine with a guard page below its stack: the body of a pseudo-thread.
//
// Boost.Context does the switch. The sanitizers need to be told about every switch
// (AddressSanitizer tracks the current stack, ThreadSanitizer the current logical thread), so
// all switches go through resume() and suspend() here and nowhere else.
#pragma once

#include <boost/context/fiber.hpp>

#include <cstddef>
#include <functional>

namespace pktd::rt {

class Fiber {
 public:
  // body runs on the fiber's own stack of stack_bytes (rounded up to pages) the first time
  // resume() is called; when it returns the fiber is finished.
  Fiber(size_t stack_bytes, std::function<void()> body);
  ~Fiber();  // the fiber must be finished (or never started)
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
  boost::context::fiber entry(boost::context::fiber&& caller);

  std::function<void()> body_;
  boost::context::fiber self_;    // the fiber while it is suspended
  boost::context::fiber caller_;  // whoever resumed it, while it runs
  bool started_ = false;
  bool finished_ = false;
  // Sanitizer bookkeeping (unused in normal builds).
  const void* stack_bottom_ = nullptr;
  size_t stack_size_ = 0;
  const void* caller_bottom_ = nullptr;
  size_t caller_size_ = 0;
  void* tsan_fiber_ = nullptr;
  void* tsan_caller_ = nullptr;
};

}  // namespace pktd::rt
