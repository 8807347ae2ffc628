#include "runtime/scheduler.h"

#include <algorithm>
#include <cerrno>

#include "base/log.h"
#include "runtime/runtime.h"

namespace pktd::rt {

Scheduler::Scheduler(Runtime& rt, time::TimerWheel& wheel, unsigned min, unsigned max,
                     size_t stack_bytes)
    : rt_(rt), wheel_(wheel), min_(min), max_(std::max(min, max)), stack_bytes_(stack_bytes) {
  for (unsigned i = 0; i < min_; ++i) idle_.push_back(create());
}

Scheduler::~Scheduler() {
  while (!threads_.empty()) destroy(threads_.back().get());
}

PseudoThread* Scheduler::create() {
  auto pt = std::make_unique<PseudoThread>();
  PseudoThread* raw = pt.get();
  raw->id = next_id_++;
  raw->owner = this;
  // The body serves one job after another; it returns only when the pool lets it go.
  raw->fiber = std::make_unique<Fiber>(stack_bytes_, [raw] {
    while (!raw->exit) {
      run_job(*raw);
      raw->job = nullptr;
      raw->state = PseudoThread::State::idle;
      raw->fiber->suspend();
    }
  });
  wheel_.init(raw->timeout);
  threads_.push_back(std::move(pt));
  update_counts();
  return raw;
}

// An exception must not leave the fiber (it has no frame to land in): it ends the job.
void Scheduler::run_job(PseudoThread& pt) {
  try {
    pt.job();
  } catch (const std::exception& e) {
    PKTD_LOG_ERR("pseudo-thread job '%s' ended by an exception: %s", pt.name.c_str(), e.what());
  } catch (...) {
    PKTD_LOG_ERR("pseudo-thread job '%s' ended by an unknown exception", pt.name.c_str());
  }
}

void Scheduler::destroy(PseudoThread* pt) {
  wheel_.stop(pt->timeout);
  if (pt->fiber->started() && !pt->fiber->finished()) {
    pt->exit = true;
    pt->fiber->resume();  // idle in suspend(): sees exit and returns
  }
  idle_.erase(std::remove(idle_.begin(), idle_.end(), pt), idle_.end());
  threads_.erase(std::find_if(threads_.begin(), threads_.end(),
                              [pt](const auto& p) { return p.get() == pt; }));
  update_counts();
}

void Scheduler::update_counts() {
  auto n = static_cast<unsigned>(threads_.size());
  size_.store(n, std::memory_order_relaxed);
  if (n > peak_.load(std::memory_order_relaxed)) peak_.store(n, std::memory_order_relaxed);
  waiting_.store(static_cast<unsigned>(waiting_jobs_.size()), std::memory_order_relaxed);
}

void Scheduler::spawn(std::function<void()> job, std::string name, const void* spawned_by) {
  PseudoThread* pt = nullptr;
  if (!idle_.empty()) {
    pt = idle_.back();
    idle_.pop_back();
  } else if (size() < max_) {
    pt = create();
  } else {
    waiting_jobs_.push_back({std::move(job), {std::move(name), spawned_by}});
    update_counts();
    return;
  }
  pt->job = std::move(job);
  pt->name = std::move(name);
  pt->spawned_by = spawned_by;
  ++busy_;
  make_ready(pt, 0);
}

void Scheduler::make_ready(PseudoThread* pt, int result) {
  pt->wake_result = result;
  pt->state = PseudoThread::State::ready;
  ready_.push_back(pt);
}

bool Scheduler::run_ready() {
  if (ready_.empty()) return false;
  // Only those ready now: one woken while this batch runs waits for the next round, so posts
  // and callouts get their turn between batches.
  std::deque<PseudoThread*> batch;
  batch.swap(ready_);
  for (PseudoThread* pt : batch) {
    current_ = pt;
    pt->state = PseudoThread::State::running;
    rt_.note_callback_begin("pseudo-thread", pt->name.c_str(), nullptr, pt->spawned_by);
    pt->fiber->resume();
    rt_.note_callback_end();
    current_ = nullptr;
    if (pt->state == PseudoThread::State::idle) job_finished(pt);
  }
  return true;
}

void Scheduler::job_finished(PseudoThread* pt) {
  if (!waiting_jobs_.empty()) {
    auto& [job, who] = waiting_jobs_.front();
    pt->job = std::move(job);
    pt->name = std::move(who.first);
    pt->spawned_by = who.second;
    waiting_jobs_.pop_front();
    update_counts();
    make_ready(pt, 0);
    return;
  }
  --busy_;
  pt->name.clear();
  // Shrink back towards threads_min: extra stacks are freed once the burst is over.
  if (idle_.size() >= min_) {
    destroy(pt);
  } else {
    idle_.push_back(pt);
  }
}

int Scheduler::sleep(const void* chan, uint32_t timeout_ms) {
  if (closed_) return EINTR;
  return park(chan, timeout_ms, true);
}

void Scheduler::sleep_uninterruptible(const void* chan) { park(chan, 0, false); }

int Scheduler::park(const void* chan, uint32_t timeout_ms, bool interruptible) {
  PseudoThread* pt = current_;
  pt->interruptible = interruptible;
  pt->chan = chan;
  pt->state = PseudoThread::State::sleeping;
  sleepers_[chan].push_back(pt);
  if (timeout_ms != 0) wheel_.arm(pt->timeout, timeout_ms, &Scheduler::on_timeout, pt);
  pt->fiber->suspend();
  // Back, possibly on another worker; current_ was set by run_ready.
  return pt->wake_result;
}

void Scheduler::forget_sleeper(PseudoThread* pt) {
  auto it = sleepers_.find(pt->chan);
  if (it == sleepers_.end()) return;
  auto& list = it->second;
  list.erase(std::remove(list.begin(), list.end(), pt), list.end());
  if (list.empty()) sleepers_.erase(it);
}

void Scheduler::on_timeout(void* arg) {
  auto* pt = static_cast<PseudoThread*>(arg);
  pt->owner->forget_sleeper(pt);
  pt->owner->make_ready(pt, EWOULDBLOCK);
}

int Scheduler::wakeup(const void* chan) {
  auto it = sleepers_.find(chan);
  if (it == sleepers_.end()) return 0;
  std::vector<PseudoThread*> woken;
  woken.swap(it->second);
  sleepers_.erase(it);
  for (PseudoThread* pt : woken) {
    wheel_.stop(pt->timeout);
    make_ready(pt, 0);
  }
  return static_cast<int>(woken.size());
}

void Scheduler::close() {
  closed_ = true;
  std::vector<PseudoThread*> all;
  for (auto& [chan, list] : sleepers_) all.insert(all.end(), list.begin(), list.end());
  for (PseudoThread* pt : all) {
    if (!pt->interruptible) continue;
    forget_sleeper(pt);
    wheel_.stop(pt->timeout);
    make_ready(pt, EINTR);
  }
}

}  // namespace pktd::rt
