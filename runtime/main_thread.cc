// The main thread: signals, blockops, and the orderly end of the stack's work.
#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "base/thread_identity.h"
#include "runtime/internal.h"
#include "runtime/runtime.h"
#include "runtime/scheduler.h"

namespace pktd::rt {

struct Runtime::BlockOp {
  std::function<void()> fn;
  bool done = false;  // written in the stack context only
};

int Runtime::blockop(std::function<void()> fn) {
  if (refuse_unless_stack("blockop")) return EPERM;
  if (!on_pseudo_thread()) {
    PKTD_LOG_ERR("blockop refused: in the stack context but not on a pseudo-thread (a callout "
                 "or post cannot wait for the main thread)");
    return EDEADLK;
  }
  BlockOp op{std::move(fn)};
  {
    std::lock_guard lock(main_mutex_);
    blockops_.push_back(&op);
  }
  signal_eventfd(main_event_fd_);
  // The op lives on this pseudo-thread's stack: wait for it even through a shutdown's EINTR.
  while (!op.done) scheduler_->sleep_uninterruptible(&op);
  return 0;
}

void Runtime::run_blockops() {
  while (true) {
    BlockOp* op = nullptr;
    {
      std::lock_guard lock(main_mutex_);
      if (blockops_.empty()) return;
      op = blockops_.front();
      blockops_.pop_front();
    }
    op->fn();
    post([this, op] {
      op->done = true;
      wakeup(op);
    }, "blockop done");
  }
}

int Runtime::run_main(const sigset_t* signals) {
  int sfd = -1;
  if (signals != nullptr) {
    sfd = signalfd(-1, signals, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0) PKTD_LOG_ERR("signalfd: %s", std::strerror(errno));
  }
  int signo = 0;
  // A request is consumed, so run_main can be entered again (tests serve blockops in turns).
  while (!stop_requested_.exchange(false)) {
    pollfd fds[2] = {{main_event_fd_, POLLIN, 0}, {sfd, POLLIN, 0}};
    int n = poll(fds, sfd >= 0 ? 2 : 1, -1);
    if (n < 0 && errno != EINTR) {
      PKTD_LOG_ERR("main thread: poll: %s", std::strerror(errno));
      break;
    }
    if (fds[0].revents & POLLIN) drain_fd(main_event_fd_);
    run_blockops();
    if (sfd >= 0 && (fds[1].revents & POLLIN)) {
      signalfd_siginfo info{};
      if (read(sfd, &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
        signo = static_cast<int>(info.ssi_signo);
        break;
      }
    }
  }
  if (sfd >= 0) close(sfd);
  return signo;
}

bool Runtime::serve_main_until(const std::function<bool()>& done,
                               std::chrono::steady_clock::time_point deadline) {
  while (!done()) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) return false;
    pollfd fd{main_event_fd_, POLLIN, 0};
    poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 100)));
    if (fd.revents & POLLIN) drain_fd(main_event_fd_);
    run_blockops();
  }
  return true;
}

// Ends the stack's work in order: sleeping pseudo-threads are woken with EINTR (blockops they
// wait for still run here), then tracked threads are reaped, all before the workers stop.
void Runtime::wind_down_stack() {
  using Clock = std::chrono::steady_clock;
  auto patience = config_.quiesce_timeout * 5;
  auto deadline = Clock::now() + patience;
  // Shared: if we give up, a post that runs later must not write to this stack frame.
  auto idle = std::make_shared<std::atomic<bool>>(false);
  while (!idle->load() && Clock::now() < deadline) {
    // Re-asked until idle: a pseudo-thread woken with EINTR may need a few rounds to finish.
    post([this, idle] {
      scheduler_->close();
      idle->store(scheduler_->all_idle());
      signal_eventfd(main_event_fd_);
    }, "shutdown");
    serve_main_until([idle] { return idle->load(); },
                     std::min(deadline, Clock::now() + std::chrono::milliseconds(20)));
  }
  if (!idle->load())
    PKTD_LOG_ERR("shutdown: pseudo-threads still busy after %lld ms; stopping anyway",
                 static_cast<long long>(patience.count()));
  auto reaped = std::make_shared<std::atomic<bool>>(false);
  post([this, reaped] {
    reap_all_threads();
    reaped->store(true);
    signal_eventfd(main_event_fd_);
  }, "shutdown reap");
  if (!serve_main_until([reaped] { return reaped->load(); }, Clock::now() + patience))
    PKTD_LOG_ERR("shutdown: tracked threads could not be reaped; stopping anyway");
}

}  // namespace pktd::rt
