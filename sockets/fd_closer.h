// Closes descriptors on a thread of its own. A client may send pktd any kind of fd with a
// request, and closing some can block: a FUSE file's flush waits for its daemon, a TCP socket
// with SO_LINGER for its peer. The stack context must never wait on a client, so every fd that is
// not one of pktd's own socket ends is closed here.
#pragma once

#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>

namespace pktd::sockets {

class FdCloser {
 public:
  FdCloser() = default;
  // Closes what is queued. A close still blocked then is left to finish on its own (the thread
  // is detached) rather than holding pktd's exit hostage.
  ~FdCloser();
  FdCloser(const FdCloser&) = delete;
  FdCloser& operator=(const FdCloser&) = delete;

  void close_later(int fd);

 private:
  struct Queue {
    std::mutex mutex;
    std::condition_variable ready;
    std::deque<int> fds;
    bool stopping = false;
    bool busy = false;  // the thread is inside close()
  };
  static void run(std::shared_ptr<Queue> q);
  std::shared_ptr<Queue> queue_ = std::make_shared<Queue>();
  std::thread thread_;  // started at the first close_later
};

}  // namespace pktd::sockets
