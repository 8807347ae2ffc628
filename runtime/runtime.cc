// Workers, the stack context token, posts and callouts. Interrupts, blockops, tracked threads
// and the watchdog have files of their own.
#include "runtime/runtime.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/thread_identity.h"
#include "runtime/interrupt.h"
#include "runtime/internal.h"
#include "runtime/scheduler.h"
#include "runtime/tracked_thread.h"
#include "runtime/watchdog.h"

namespace pktd::rt {
namespace {

std::atomic<Runtime*> g_current{nullptr};

// Per-thread facts. Read only through the noinline accessors below: a pseudo-thread that slept
// may resume on another worker, and a thread-local address cached across the switch would be
// the old worker's.
thread_local Worker* t_worker = nullptr;
thread_local bool t_in_stack = false;

}  // namespace

[[gnu::noinline]] Worker* current_worker() { return t_worker; }
[[gnu::noinline]] bool current_in_stack() { return t_in_stack; }

int make_eventfd() {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "eventfd");
  return fd;
}

void signal_eventfd(int fd) {
  uint64_t one = 1;
  // EAGAIN means the counter is saturated: it is readable, which is all we need.
  [[maybe_unused]] ssize_t n = ::write(fd, &one, sizeof one);
}

void drain_fd(int fd) {
  uint64_t value;
  [[maybe_unused]] ssize_t n = ::read(fd, &value, sizeof value);
}

void epoll_add(int epfd, int fd, void* tag, bool oneshot) {
  epoll_event ev{};
  ev.events = EPOLLIN | (oneshot ? EPOLLONESHOT : 0u);
  ev.data.ptr = tag;
  if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) != 0)
    throw std::system_error(errno, std::generic_category(), "epoll_ctl(ADD)");
}

void epoll_rearm(int epfd, int fd, void* tag) {
  epoll_event ev{};
  ev.events = EPOLLIN | EPOLLONESHOT;
  ev.data.ptr = tag;
  if (epoll_ctl(epfd, EPOLL_CTL_MOD, fd, &ev) != 0)
    PKTD_LOG_ERR("epoll_ctl(MOD) of fd %d failed: %s", fd, std::strerror(errno));
}

Runtime* Runtime::current() { return g_current.load(std::memory_order_acquire); }

Runtime::Runtime(RuntimeConfig config)
    : config_(config),
      clock_(config.clock != nullptr ? config.clock : &time::SteadyClock::instance()) {
  if (config_.workers == 0) config_.workers = 1;
  epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
  if (epoll_fd_ < 0) throw std::system_error(errno, std::generic_category(), "epoll_create1");
  stack_event_fd_ = make_eventfd();
  stop_fd_ = make_eventfd();
  main_event_fd_ = make_eventfd();
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) throw std::system_error(errno, std::generic_category(), "timerfd_create");
  epoll_add(epoll_fd_, stack_event_fd_, &stack_event_fd_, true);
  epoll_add(epoll_fd_, timer_fd_, &timer_fd_, true);
  epoll_add(epoll_fd_, stop_fd_, &stop_fd_, false);  // level: every worker must see it

  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&gate_, &attr);
  pthread_rwlockattr_destroy(&attr);

  wheel_ = std::make_unique<time::TimerWheel>(*clock_);
  wheel_->set_observer(this);
  scheduler_ = std::make_unique<Scheduler>(*this, *wheel_, config_.threads_min,
                                           config_.threads_max, config_.pt_stack_bytes);
}

Runtime::~Runtime() {
  stop();
  scheduler_.reset();
  wheel_.reset();
  free_graveyard(true);
  pthread_rwlock_destroy(&gate_);
  for (int fd : {epoll_fd_, stack_event_fd_, stop_fd_, main_event_fd_, timer_fd_})
    if (fd >= 0) ::close(fd);
}

void Runtime::start() {
  if (started_) return;
  Runtime* expected = nullptr;
  if (!g_current.compare_exchange_strong(expected, this))
    throw std::logic_error("another pktd runtime is already running in this process");
  started_ = true;
  running_.store(true);
  register_current_thread(ThreadKind::main, "pktd-main");
  main_tid_ = static_cast<int>(gettid());
  buf::Pool::instance().set_waiter(this);
  for (unsigned i = 0; i < config_.workers; ++i) {
    auto w = std::make_unique<Worker>();
    w->index = i;
    workers_.push_back(std::move(w));
  }
  for (unsigned i = 0; i < workers_.size(); ++i) {
    Worker* raw = workers_[i].get();
    raw->thread = std::thread([this, raw] { worker_loop(*raw); });
    // Named by the creator too, so that every thread carries its name once start() returns
    // (the thread's own naming may come later; `pkt threads` and tests look at once).
    pthread_setname_np(raw->thread.native_handle(), ("pktd-worker" + std::to_string(i)).c_str());
  }
  watchdog_ = std::make_unique<Watchdog>(*this);
}

void Runtime::request_stop() {
  stop_requested_.store(true);
  signal_eventfd(main_event_fd_);
}

unsigned Runtime::worker_index() const {
  Worker* w = current_worker();
  return w != nullptr ? w->index : ~0u;
}

bool Runtime::in_stack_context() const { return current_in_stack(); }

bool Runtime::on_pseudo_thread() const {
  return current_in_stack() && scheduler_->current() != nullptr;
}

const void* Runtime::current_pseudo_thread() const {
  return current_in_stack() ? static_cast<const void*>(scheduler_->current()) : nullptr;
}

// --- workers ---

void Runtime::worker_loop(Worker& w) {
  w.tid.store(static_cast<int>(gettid()));  // before the name: named threads are listed
  register_current_thread(ThreadKind::worker, "pktd-worker" + std::to_string(w.index));
  t_worker = &w;
  constexpr int kBatch = 64;
  epoll_event events[kBatch];
  auto poll_until = std::chrono::steady_clock::time_point{};
  while (running_.load(std::memory_order_acquire)) {
    w.loops.fetch_add(1, std::memory_order_release);
    if (Interrupt* irq = pop_again()) {
      release_poll(w);
      if (gate_enter()) {
        run_source(irq, false);
        gate_leave();
      }
      run_stack_if_pending(w);
      if (config_.poll.count() > 0) poll_until = std::chrono::steady_clock::now() + config_.poll;
      continue;
    }
    bool polling = may_poll(w, poll_until);
    if (!polling && again_hint_.load()) continue;  // handed to us as we stopped polling
    int n = epoll_wait(epoll_fd_, events, kBatch, polling ? 0 : -1);
    if (n != 0) release_poll(w);
    if (n < 0) {
      if (errno == EINTR) continue;
      PKTD_LOG_ERR("worker %u: epoll_wait: %s", w.index, std::strerror(errno));
      break;
    }
    if (n == 0) continue;
    if (config_.poll.count() > 0) poll_until = std::chrono::steady_clock::now() + config_.poll;
    if (!gate_enter()) continue;
    for (int i = 0; i < n; ++i) dispatch(events[i].data.ptr);
    gate_leave();
    run_stack_if_pending(w);
  }
  release_poll(w);
  t_worker = nullptr;
}

// One worker at a time polls. On a machine with few cores every worker spinning takes the CPUs
// the peer and the applications need (pktd -> Linux over TAP with both workers polling ran a
// fifth slower than with polling off); one poller still catches the next event without a kernel
// wake-up, and takes the transmit hand-off (hand_to_poller), while the others sleep in epoll.
bool Runtime::may_poll(const Worker& w, std::chrono::steady_clock::time_point poll_until) {
  if (config_.poll.count() == 0 || std::chrono::steady_clock::now() >= poll_until) {
    release_poll(w);
    return false;
  }
  int expected = -1;
  const int me = static_cast<int>(w.index);
  return poller_.compare_exchange_strong(expected, me) || expected == me;
}

// Sequentially consistent: hand_to_poller's check of poller_ pairs with the worker's read of
// again_hint_ after this.
void Runtime::release_poll(const Worker& w) {
  int me = static_cast<int>(w.index);
  poller_.compare_exchange_strong(me, -1);
}

void Runtime::dispatch(void* tag) {
  if (tag == &stop_fd_) return;  // the loop condition sees running_ == false
  if (tag == &stack_event_fd_) {
    drain_fd(stack_event_fd_);
    epoll_rearm(epoll_fd_, stack_event_fd_, &stack_event_fd_);
    return;
  }
  if (tag == &timer_fd_) {
    drain_fd(timer_fd_);
    timer_fired_.store(true);
    stack_pending_.store(true);
    epoll_rearm(epoll_fd_, timer_fd_, &timer_fd_);
    return;
  }
  run_source(static_cast<Interrupt*>(tag), true);
}

// --- the stack context ---

void Runtime::run_stack_if_pending(Worker& w) {
  while (stack_pending_.load()) {
    bool expected = false;
    // Someone else holds it: it re-checks stack_pending_ after releasing, so nothing strands.
    if (!stack_held_.compare_exchange_strong(expected, true)) return;
    t_in_stack = true;
    stack_holder_.store(static_cast<int>(w.index), std::memory_order_relaxed);
    stack_acquisitions_.fetch_add(1, std::memory_order_relaxed);
    if (last_holder_ != -1 && last_holder_ != static_cast<int>(w.index))
      stack_migrations_.fetch_add(1, std::memory_order_relaxed);
    last_holder_ = static_cast<int>(w.index);
    while (run_stack_round()) {
    }
    reprogram_timer();
    stack_holder_.store(-1, std::memory_order_relaxed);
    t_in_stack = false;
    stack_held_.store(false);
  }
}

bool Runtime::run_stack_round() {
  stack_pending_.store(false);
  bool did = false;
  std::deque<std::pair<std::function<void()>, Origin>> batch;
  {
    std::lock_guard lock(post_mutex_);
    batch.swap(posts_);
  }
  for (auto& [fn, origin] : batch) {
    note_callback_begin("post", origin.name, nullptr, origin.by);
    fn();
    note_callback_end();
    did = true;
  }
  if (wheel_->run_expired() > 0) did = true;
  if (scheduler_->run_ready()) did = true;
  return did || stack_pending_.load();
}

void Runtime::post(std::function<void()> fn, const char* name) {
  post_from(std::move(fn), Origin{name, __builtin_return_address(0)});
}

void Runtime::post_from(std::function<void()> fn, Origin origin) {
  {
    std::lock_guard lock(post_mutex_);
    posts_.emplace_back(std::move(fn), origin);
  }
  stack_pending_.store(true);
  // A worker runs the stack before it waits again, and a holder re-checks after releasing;
  // only a post from elsewhere into an idle stack needs to wake a worker.
  if (current_worker() != nullptr) return;
  if (!stack_held_.load()) signal_eventfd(stack_event_fd_);
}

void Runtime::spawn(std::function<void()> fn, std::string name) {
  const void* by = __builtin_return_address(0);
  if (in_stack_context()) {
    scheduler_->spawn(std::move(fn), std::move(name), by);
    stack_pending_.store(true);
    return;
  }
  post_from([this, fn = std::move(fn), name = std::move(name), by]() mutable {
    scheduler_->spawn(std::move(fn), std::move(name), by);
  }, Origin{"spawn", by});
}

bool Runtime::refuse_unless_stack(const char* what) const {
  if (in_stack_context()) return false;
  PKTD_LOG_ERR("%s refused: called outside the stack context by thread '%s' (%s)", what,
               current_thread_name().c_str(), to_string(current_thread_kind()));
  return true;
}

int Runtime::tsleep(const void* chan, uint32_t timeout_ms) {
  if (refuse_unless_stack("tsleep")) return EPERM;
  if (scheduler_->current() == nullptr) {
    PKTD_LOG_ERR("tsleep refused: in the stack context but not on a pseudo-thread (a callout or "
                 "post must not sleep: it would block the stack context)");
    return EDEADLK;
  }
  return scheduler_->sleep(chan, timeout_ms);
}

int Runtime::wakeup(const void* chan) {
  if (refuse_unless_stack("wakeup")) return -1;
  int n = scheduler_->wakeup(chan);
  if (n > 0) stack_pending_.store(true);
  return n;
}

void Runtime::wake(const void* chan) {
  if (in_stack_context()) {
    wakeup(chan);
    return;
  }
  post([this, chan] { wakeup(chan); }, "buffer wakeup");
}

// --- callouts ---

void Runtime::callout_init(time::Callout& c) {
  if (in_stack_context()) {
    wheel_->init(c);
    return;
  }
  post([this, &c] { wheel_->init(c); }, "callout_init");
}

void Runtime::callout_msec(time::Callout& c, uint32_t ms, time::CalloutFn fn, void* arg) {
  const void* by = __builtin_return_address(0);
  if (in_stack_context()) {
    wheel_->arm(c, ms, fn, arg);
    c.armed_by = by;
    return;
  }
  post_from([this, &c, ms, fn, arg, by] {
    wheel_->arm(c, ms, fn, arg);
    c.armed_by = by;
  }, Origin{"callout_msec", by});
}

bool Runtime::callout_stop(time::Callout& c) {
  if (in_stack_context()) return wheel_->stop(c);
  // From another thread the stop happens soon, in the stack context; the callback may still
  // run before it (only a stop in the stack context is synchronous).
  post([this, &c] { wheel_->stop(c); }, "callout_stop");
  return c.pending();
}

void Runtime::before_callout(time::CalloutFn fn, const void* armed_by) {
  note_callback_begin("callout", "callout", reinterpret_cast<const void*>(fn), armed_by);
}

void Runtime::after_callout() { note_callback_end(); }

void Runtime::reprogram_timer() {
  if (timer_fired_.exchange(false)) timer_armed_for_.reset();
  auto next = wheel_->next_deadline();
  if (next == timer_armed_for_) return;
  itimerspec spec{};
  if (next) {
    auto delta = std::max(*next - clock_->now(), time::Duration{1000});
    auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(delta).count();
    spec.it_value.tv_sec = static_cast<time_t>(ns / 1000000000);
    spec.it_value.tv_nsec = static_cast<long>(ns % 1000000000);
  }
  timerfd_settime(timer_fd_, 0, &spec, nullptr);
  timer_armed_for_ = next;
}

// --- watchdog bookkeeping ---

void Runtime::note_callback_begin(const char* kind, const char* name, const void* fn,
                                  const void* by) {
  current_cb_.kind.store(kind, std::memory_order_relaxed);
  current_cb_.name.store(name, std::memory_order_relaxed);
  current_cb_.fn.store(fn, std::memory_order_relaxed);
  current_cb_.by.store(by, std::memory_order_relaxed);
  current_cb_.seq.fetch_add(1, std::memory_order_release);  // odd: inside a callback
}

void Runtime::note_callback_end() {
  current_cb_.seq.fetch_add(1, std::memory_order_release);  // even: between callbacks
  if (quiesce_held_) end_forgotten_quiesce();
}

// The other workers wait at the gate while quiesced; if the stack context moved on (and so could
// move to one of them), nobody would be left to unquiesce. Quiesce must not outlive the callback.
void Runtime::end_forgotten_quiesce() {
  PKTD_LOG_ERR("a stack callback (%s '%s', registered by %s) returned with every thread "
               "quiesced; unquiescing (call unquiesce_all before returning)",
               current_cb_.kind.load(), current_cb_.name.load(),
               describe_code_address(current_cb_.by.load()).c_str());
  unquiesce_all();
}

Runtime::Stats Runtime::stats() const {
  Stats s;
  s.stack_acquisitions = stack_acquisitions_.load();
  s.stack_migrations = stack_migrations_.load();
  s.interrupts_processed = interrupts_processed_.load();
  s.pseudo_threads = scheduler_->size();
  s.pseudo_threads_peak = scheduler_->peak();
  s.pseudo_jobs_waiting = scheduler_->jobs_waiting();
  s.watchdog_reports = watchdog_ ? watchdog_->reports() : 0;
  return s;
}

std::vector<Runtime::ThreadSnapshot> Runtime::threads() const {
  std::vector<ThreadSnapshot> out;
  out.push_back({"pktd-main", main_tid_, "main", false});
  int holder = stack_holder();
  for (const auto& w : workers_)
    out.push_back({"pktd-worker" + std::to_string(w->index), w->tid.load(), "worker",
                   holder == static_cast<int>(w->index)});
  if (watchdog_ && watchdog_->tid() != 0) out.push_back({"pktd-watchdog", watchdog_->tid(), "watchdog", false});
  std::lock_guard lock(threads_mutex_);
  for (const auto& t : threads_)
    if (!t->exited_) out.push_back({t->name(), static_cast<int>(t->tid()), "tracked", false});
  return out;
}

// --- shutdown ---

void Runtime::stop() {
  if (!started_ || stopped_) return;
  stopped_ = true;
  wind_down_stack();
  running_.store(false);
  signal_eventfd(stop_fd_);
  for (auto& w : workers_)
    if (w->thread.joinable()) w->thread.join();
  watchdog_.reset();
  buf::Pool::instance().set_waiter(nullptr);
  free_graveyard(true);
  g_current.store(nullptr);
}

}  // namespace pktd::rt
