// Pieces shared by the runtime's files; not part of its interface.
#pragma once

#include <atomic>
#include <cstdint>
#include <thread>

namespace pktd::rt {

struct Worker {
  unsigned index = 0;
  std::thread thread;
  std::atomic<int> tid{0};
  // Bumped once per loop, between event batches: an interrupt detached before a snapshot of
  // every worker's count can be freed once every count has moved on.
  std::atomic<uint64_t> loops{0};
};

Worker* current_worker();
bool current_in_stack();

int make_eventfd();
void signal_eventfd(int fd);
void drain_fd(int fd);
void epoll_add(int epfd, int fd, void* tag, bool oneshot);
void epoll_rearm(int epfd, int fd, void* tag);

}  // namespace pktd::rt
