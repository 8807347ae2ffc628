// Tracked threads and quiesce (seed guide: "Thread Creation", "Quiesce handling").
#include "runtime/tracked_thread.h"

#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/thread_identity.h"

namespace pktd::rt {
namespace {
thread_local TrackedThread* t_self = nullptr;
[[gnu::noinline]] TrackedThread* current_tracked() { return t_self; }

timespec realtime_after(std::chrono::milliseconds d) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  long long ns = ts.tv_nsec + static_cast<long long>(d.count() % 1000) * 1000000;
  ts.tv_sec += static_cast<time_t>(d.count() / 1000 + ns / 1000000000);
  ts.tv_nsec = static_cast<long>(ns % 1000000000);
  return ts;
}
}  // namespace

void* TrackedThread::trampoline(void* arg) {
  auto* self = static_cast<TrackedThread*>(arg);
  self->tid_.store(gettid());  // before the name: named threads are listed
  register_current_thread(ThreadKind::tracked, self->name_);
  t_self = self;
  // Runs on a normal return and on quiesce_block(1)'s pthread_exit, which unwinds the stack.
  struct ExitNotice {
    TrackedThread* t;
    ~ExitNotice() { t->rt_->thread_exited(t); }
  } notice{self};
  // No catch (...): pthread_exit's forced unwind must pass through untouched.
  try {
    self->body_();
  } catch (const std::exception& e) {
    PKTD_LOG_ERR("tracked thread '%s' ended by an exception: %s", self->name_.c_str(), e.what());
  }
  return nullptr;
}

int Runtime::create_thread(TrackedThread** out, const std::string& name,
                           std::function<void()> body, QuiesceFn quiesce, void* quiesce_arg,
                           const void* code) {
  if (refuse_unless_stack("create_thread")) return EPERM;
  if (quiesce == nullptr || name.empty() || !body) {
    PKTD_LOG_ERR("create_thread '%s' refused: a name, a body and a quiesce callback are required "
                 "(without quiesce handling the thread could deadlock quiesce_all)",
                 name.c_str());
    return EINVAL;
  }
  auto t = std::make_unique<TrackedThread>();
  t->rt_ = this;
  t->name_ = name;
  t->body_ = std::move(body);
  t->quiesce_ = quiesce;
  t->quiesce_arg_ = quiesce_arg;
  t->code_ = code;
  TrackedThread* raw = t.get();
  {
    std::lock_guard lock(threads_mutex_);
    threads_.push_back(std::move(t));
  }
  int err = pthread_create(&raw->pthread_, nullptr, &TrackedThread::trampoline, raw);
  if (err != 0) {
    PKTD_LOG_ERR("create_thread '%s': pthread_create: %s", name.c_str(), std::strerror(err));
    std::lock_guard lock(threads_mutex_);
    std::erase_if(threads_, [raw](const auto& p) { return p.get() == raw; });
    return err;
  }
  if (out != nullptr) *out = raw;
  return 0;
}

void Runtime::thread_exited(TrackedThread* t) {
  std::lock_guard lock(threads_mutex_);
  t->exited_ = true;
  t->quiesced_ = false;
  threads_cv_.notify_all();
}

std::vector<std::pair<const void*, std::string>> Runtime::live_thread_code() const {
  std::vector<std::pair<const void*, std::string>> out;
  std::lock_guard lock(threads_mutex_);
  for (const auto& t : threads_)
    if (!t->exited_) out.emplace_back(t->code_, t->name_);
  return out;
}

int Runtime::reap_thread(TrackedThread* t) {
  if (refuse_unless_stack("reap_thread")) return EPERM;
  if (t == nullptr || current_tracked() == t) return EINVAL;
  bool exited = false;
  {
    std::lock_guard lock(threads_mutex_);
    exited = t->exited_;
  }
  // A thread that has ended (after an earlier reap gave up on it) is only joined: its quiesce
  // callback may belong to a driver that is gone by now.
  if (!exited) t->quiesce_(t->quiesce_arg_, 1);
  std::unique_lock lock(threads_mutex_);
  // Named every quiesce_timeout until it goes, for at most five periods.
  for (int period = 0; !t->exited_ && period < 5; ++period) {
    if (threads_cv_.wait_for(lock, config_.quiesce_timeout, [t] { return t->exited_; })) break;
    PKTD_LOG_ERR("reap: tracked thread '%s' (tid %d) has not exited %lld ms after being asked to "
                 "die (its quiesce callback must make it call quiesce_block(1))",
                 t->name_.c_str(), t->tid(),
                 static_cast<long long>(config_.quiesce_timeout.count() * (period + 1)));
  }
  if (!t->exited_) return ETIMEDOUT;
  lock.unlock();
  pthread_join(t->pthread_, nullptr);
  lock.lock();
  std::erase_if(threads_, [t](const auto& p) { return p.get() == t; });
  return 0;
}

void Runtime::reap_all_threads() {
  std::vector<TrackedThread*> all;
  {
    std::lock_guard lock(threads_mutex_);
    for (auto& t : threads_) all.push_back(t.get());
  }
  for (TrackedThread* t : all) {
    if (reap_thread(t) != 0) {
      PKTD_LOG_ERR("shutdown: tracked thread '%s' left running", t->name_.c_str());
      pthread_detach(t->pthread_);
    }
  }
}

bool Runtime::gate_enter() {
  return pthread_rwlock_rdlock(&gate_) == 0;
}

void Runtime::gate_leave() { pthread_rwlock_unlock(&gate_); }

int Runtime::quiesce_all() {
  if (refuse_unless_stack("quiesce_all")) return EPERM;
  if (quiescing_) return EALREADY;
  // Other workers first: each finishes the interrupt callbacks it is running, then waits.
  timespec until = realtime_after(config_.quiesce_timeout);
  if (pthread_rwlock_timedwrlock(&gate_, &until) != 0) {
    PKTD_LOG_ERR("quiesce: a worker did not leave its interrupt callbacks within %lld ms",
                 static_cast<long long>(config_.quiesce_timeout.count()));
    return ETIMEDOUT;
  }
  quiesce_held_ = true;
  std::vector<TrackedThread*> asked;
  {
    std::lock_guard lock(threads_mutex_);
    quiescing_ = true;
    ++quiesce_generation_;
    for (auto& t : threads_)
      if (!t->exited_) asked.push_back(t.get());
  }
  for (TrackedThread* t : asked) t->quiesce_(t->quiesce_arg_, 0);
  std::unique_lock lock(threads_mutex_);
  auto all_answered = [&] {
    for (TrackedThread* t : asked)
      if (!t->exited_ && !t->quiesced_) return false;
    return true;
  };
  if (threads_cv_.wait_for(lock, config_.quiesce_timeout, all_answered)) return 0;
  for (TrackedThread* t : asked)
    if (!t->exited_ && !t->quiesced_)
      PKTD_LOG_ERR("quiesce: tracked thread '%s' (tid %d) did not call quiesce_block within "
                   "%lld ms",
                   t->name_.c_str(), t->tid(),
                   static_cast<long long>(config_.quiesce_timeout.count()));
  lock.unlock();
  unquiesce_all();
  return ETIMEDOUT;
}

int Runtime::unquiesce_all() {
  if (refuse_unless_stack("unquiesce_all")) return EPERM;
  {
    std::lock_guard lock(threads_mutex_);
    if (!quiescing_) return EALREADY;
    quiescing_ = false;
    threads_cv_.notify_all();
  }
  quiesce_held_ = false;
  pthread_rwlock_unlock(&gate_);
  return 0;
}

void Runtime::quiesce_block(int die) {
  TrackedThread* self = current_tracked();
  if (self == nullptr) {
    PKTD_LOG_ERR("quiesce_block called by thread '%s', which is not a tracked thread",
                 current_thread_name().c_str());
    return;
  }
  if (die != 0) pthread_exit(nullptr);  // unwinds; the trampoline reports the exit
  std::unique_lock lock(threads_mutex_);
  if (!quiescing_) return;
  uint64_t generation = quiesce_generation_;
  self->quiesced_ = true;
  threads_cv_.notify_all();
  threads_cv_.wait(lock, [&] { return !quiescing_ || quiesce_generation_ != generation; });
  self->quiesced_ = false;
}

}  // namespace pktd::rt
