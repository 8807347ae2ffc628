// Interrupt sources: attach, the worker's process/enable cycle, interrupt_queue, detach.
#include <sys/epoll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <thread>

#include "base/log.h"
#include "runtime/internal.h"
#include "runtime/interrupt.h"

namespace pktd::rt {
namespace {
// The source whose callbacks this worker runs now, to refuse a detach from inside them.
thread_local Interrupt* t_running_irq = nullptr;
[[gnu::noinline]] Interrupt* running_irq() { return t_running_irq; }
}  // namespace

Interrupt* Runtime::attach_interrupt(InterruptSpec spec) {
  if (!spec.process || !spec.enable) {
    PKTD_LOG_ERR("interrupt '%s' of %s refused: process and enable callbacks are required",
                 spec.name.c_str(), spec.owner.c_str());
    return nullptr;
  }
  bool software = spec.fd < 0;
  int fd = software ? make_eventfd() : spec.fd;
  auto* irq = new Interrupt(std::move(spec), fd);
  irq->software = software;
  try {
    epoll_add(epoll_fd_, fd, irq, true);
  } catch (const std::system_error& e) {
    PKTD_LOG_ERR("interrupt '%s' of %s refused: %s", irq->spec.name.c_str(),
                 irq->spec.owner.c_str(), e.what());
    if (software) ::close(fd);
    delete irq;
    return nullptr;
  }
  return irq;
}

InterruptEvent* Runtime::interrupt_queue(Interrupt* irq) {
  if (!irq->software) {
    PKTD_LOG_ERR("interrupt_queue on '%s': not a software interrupt source",
                 irq->spec.name.c_str());
    return nullptr;
  }
  int expected = Interrupt::idle;
  if (!irq->state.compare_exchange_strong(expected, Interrupt::queued)) return nullptr;
  return &irq->event;
}

void Runtime::send_event(InterruptEvent* event) {
  if (event != nullptr) signal_eventfd(event->irq->fd);
}

bool Runtime::hand_to_poller(Interrupt* irq) {
  if (!irq->software || poller_.load() < 0) return false;
  int expected = Interrupt::idle;
  if (!irq->state.compare_exchange_strong(expected, Interrupt::queued)) return false;
  irq->handed.store(true);
  {
    std::lock_guard lock(again_mutex_);
    again_.push_back(irq);
  }
  // Against a poller giving up at this moment: it clears poller_ and then reads the hint, we
  // set the hint and then read poller_ (both sequentially consistent), so one of us sees the
  // other and the source is never left in again_ with every worker asleep.
  again_hint_.store(true);
  if (poller_.load() < 0) signal_eventfd(stack_event_fd_);
  return true;
}

void Runtime::run_source(Interrupt* irq, bool fired) {
  irq->busy.fetch_add(1);
  if (irq->dead.load()) {
    irq->busy.fetch_sub(1);
    return;
  }
  (void)irq->handoff.load(std::memory_order_acquire);
  if (fired && irq->software) {
    drain_fd(irq->fd);
    irq->state.store(Interrupt::active);
  }
  t_running_irq = irq;
  interrupts_processed_.fetch_add(1, std::memory_order_relaxed);
  Process result = irq->spec.process();
  if (result == Process::again) {
    // Still masked; this or another worker calls it again after what is already waiting.
    std::lock_guard lock(again_mutex_);
    again_.push_back(irq);
  } else {
    // Idle before enable: a driver thread unblocked by enable must get a fresh event.
    if (irq->software) irq->state.store(Interrupt::idle);
    irq->spec.enable();
    irq->handoff.fetch_add(1, std::memory_order_release);
    if (!irq->handed.exchange(false)) rearm(irq);
  }
  t_running_irq = nullptr;
  // Read-modify-writes all: each continues the release sequence of the one before, so detach's
  // load of busy orders every run before it, overlapping ones included.
  irq->busy.fetch_sub(1);
}

void Runtime::rearm(Interrupt* irq) { epoll_rearm(epoll_fd_, irq->fd, irq); }

Interrupt* Runtime::pop_again() {
  std::lock_guard lock(again_mutex_);
  if (again_.empty()) {
    again_hint_.store(false);  // a hint set after its source was taken
    return nullptr;
  }
  Interrupt* irq = again_.front();
  again_.pop_front();
  if (again_.empty()) again_hint_.store(false);
  return irq;
}

void Runtime::detach_interrupt(Interrupt* irq) {
  if (irq == nullptr) return;
  if (running_irq() == irq) {
    PKTD_LOG_ERR("detach of interrupt '%s' refused: called from its own callback",
                 irq->spec.name.c_str());
    return;
  }
  irq->dead.store(true);
  {
    std::lock_guard lock(again_mutex_);
    std::erase(again_, irq);
  }
  // A worker may be inside process or enable right now; they are short by contract. The fd
  // leaves epoll only after, so that callback's re-arm finds it still there.
  while (irq->busy.load() != 0) std::this_thread::yield();
  epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, irq->fd, nullptr);
  if (irq->software) ::close(irq->fd);
  Grave grave{irq, {}};
  for (auto& w : workers_) grave.loops.push_back(w->loops.load(std::memory_order_acquire));
  {
    std::lock_guard lock(graveyard_mutex_);
    graveyard_.push_back(std::move(grave));
  }
  free_graveyard(false);
}

void Runtime::free_graveyard(bool all) {
  std::lock_guard lock(graveyard_mutex_);
  std::erase_if(graveyard_, [&](const Grave& g) {
    bool safe = all;
    if (!safe) {
      safe = true;
      for (size_t i = 0; i < workers_.size() && i < g.loops.size(); ++i)
        safe = safe && workers_[i]->loops.load(std::memory_order_acquire) != g.loops[i];
    }
    if (safe) delete g.irq;
    return safe;
  });
}

}  // namespace pktd::rt
