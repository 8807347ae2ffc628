#include "sockets/fd_closer.h"

#include <unistd.h>

#include <chrono>

namespace pktd::sockets {

void FdCloser::close_later(int fd) {
  {
    std::lock_guard lock(queue_->mutex);
    queue_->fds.push_back(fd);
  }
  if (!thread_.joinable()) thread_ = std::thread(run, queue_);
  queue_->ready.notify_one();
}

void FdCloser::run(std::shared_ptr<Queue> q) {
  std::unique_lock lock(q->mutex);
  for (;;) {
    q->ready.wait(lock, [&] { return q->stopping || !q->fds.empty(); });
    if (q->fds.empty()) return;  // stopping, and nothing left
    int fd = q->fds.front();
    q->fds.pop_front();
    q->busy = true;
    lock.unlock();
    close(fd);
    lock.lock();
    q->busy = false;
    q->ready.notify_all();
  }
}

FdCloser::~FdCloser() {
  if (!thread_.joinable()) return;
  std::unique_lock lock(queue_->mutex);
  queue_->stopping = true;
  queue_->ready.notify_all();
  // Give the queue a moment to empty; a close that blocks longer is not pktd's to wait for.
  bool drained = queue_->ready.wait_for(lock, std::chrono::seconds(2), [&] {
    return queue_->fds.empty() && !queue_->busy;
  });
  lock.unlock();
  if (drained) thread_.join();
  else thread_.detach();
}

}  // namespace pktd::sockets
