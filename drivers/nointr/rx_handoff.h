// What the receive thread and the process callback share (seed guide, "Driver doesn't use an RX
// interrupt"): a bounded queue of received frames, and the lock protecting it together with the
// interrupt_queue() notification.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <vector>

#include "pktd/driver.h"

namespace pktd_nointr {

// The seed's rx_mutex, with one difference: the process callback returns holding it and the
// enable callback releases it. pktd runs the two back to back on the same worker today
// (runtime/interrupts.cc, Runtime::run_source), so a pthread mutex would work; but the SDK does
// not promise that (driver.h: "enable unmasks", nothing about which thread), and unlocking a
// pthread/std::mutex from a thread that does not own it is undefined behaviour. So the lock is a
// flag under a mutex: any thread may release it, and ThreadSanitizer still sees every hand-over.
// Held only for a queue operation, or from "queue empty" to enable: short by construction.
class HandoffLock {
 public:
  void lock() noexcept {
    std::unique_lock guard(mutex_);
    free_.wait(guard, [this] { return !held_; });
    held_ = true;
  }
  void unlock() noexcept {
    {
      std::lock_guard guard(mutex_);
      held_ = false;
    }
    free_.notify_one();
  }

 private:
  std::mutex mutex_;
  std::condition_variable free_;
  bool held_ = false;
};

// The seed's IF_ENQUEUE/IF_DEQUEUE/IF_QFULL on driv->rx_queue: a fixed ring of frames, allocated
// at attach so that the receive thread never allocates under the lock. Not thread-safe: every
// call but length() is made holding the HandoffLock. length() is for the status request, which
// runs in the stack context and must not wait for that lock.
class RxQueue {
 public:
  explicit RxQueue(size_t capacity) : ring_(capacity, nullptr) {}
  RxQueue(const RxQueue&) = delete;
  RxQueue& operator=(const RxQueue&) = delete;

  bool full() const { return count_ == ring_.size(); }
  size_t capacity() const { return ring_.size(); }
  size_t length() const { return length_.load(std::memory_order_relaxed); }

  // The caller has checked full().
  void push(pktd_mbuf* m) {
    ring_[(head_ + count_) % ring_.size()] = m;
    ++count_;
    length_.store(count_, std::memory_order_relaxed);
  }
  // nullptr when empty.
  pktd_mbuf* pop() {
    if (count_ == 0) return nullptr;
    pktd_mbuf* m = ring_[head_];
    ring_[head_] = nullptr;
    head_ = (head_ + 1) % ring_.size();
    --count_;
    length_.store(count_, std::memory_order_relaxed);
    return m;
  }

 private:
  std::vector<pktd_mbuf*> ring_;
  size_t head_ = 0;
  size_t count_ = 0;
  std::atomic<size_t> length_{0};
};

}  // namespace pktd_nointr
