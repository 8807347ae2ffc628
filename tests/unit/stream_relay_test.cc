// The stream relay (sockets/stream_relay.h) between real socketpairs and two connections joined
// in memory: bytes arrive intact and in order both ways, flow control reaches the writing
// application, half-close and close behave as TCP's FIN will.
#include "sockets/stream_relay.h"

#include <gtest/gtest.h>
#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

namespace pktd::sockets {
namespace {

// One end of a connection joined in memory to another; each has a bounded receive queue, and
// what one may send is what the other's queue has left (its window).
class MemoryConnection : public StreamConnection {
 public:
  explicit MemoryConnection(size_t capacity) : capacity_(capacity) {}
  void join(MemoryConnection& peer) { peer_ = &peer; }

  size_t send_room() const override { return peer_->capacity_ - peer_->queue_.size(); }
  void send(std::span<const std::byte> bytes) override {
    EXPECT_LE(bytes.size(), send_room());
    peer_->queue_.insert(peer_->queue_.end(), bytes.begin(), bytes.end());
    peer_->most_queued_ = std::max(peer_->most_queued_, peer_->queue_.size());
  }
  void finish_sending() override { peer_->fin_ = true; }
  std::span<const std::byte> received() const override { return queue_; }
  void consume(size_t n) override { queue_.erase(queue_.begin(), queue_.begin() + static_cast<long>(n)); }
  bool peer_finished() const override { return fin_; }

  size_t most_queued() const { return most_queued_; }

 private:
  MemoryConnection* peer_ = nullptr;
  size_t capacity_;
  std::vector<std::byte> queue_;
  size_t most_queued_ = 0;
  bool fin_ = false;
};

// An application socket: the pair, pktd's end non-blocking.
struct Pair {
  Pair() {
    EXPECT_EQ(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
    EXPECT_EQ(fcntl(pktd(), F_SETFL, O_NONBLOCK), 0);
  }
  ~Pair() {
    for (int fd : fds)
      if (fd >= 0) close(fd);
  }
  int app() const { return fds[0]; }
  int pktd() const { return fds[1]; }
  void close_app() {
    close(fds[0]);
    fds[0] = -1;
  }
  int fds[2] = {-1, -1};
};

std::vector<std::byte> random_bytes(size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<std::byte> v(n);
  for (auto& b : v) b = static_cast<std::byte>(rng());
  return v;
}

// Writes everything (blocking), then shuts down its write side.
void write_all_then_finish(int fd, const std::vector<std::byte>& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = write(fd, data.data() + done, std::min<size_t>(data.size() - done, 100000));
    ASSERT_GT(n, 0) << std::strerror(errno);
    done += static_cast<size_t>(n);
  }
  shutdown(fd, SHUT_WR);
}

std::vector<std::byte> read_to_end(int fd) {
  std::vector<std::byte> got;
  std::byte buf[65536];
  for (;;) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n <= 0) break;
    got.insert(got.end(), buf, buf + n);
  }
  return got;
}

// Both relays of a joined pair of connections, pumped the way the service will: after a wait
// for pktd's ends to be ready (a short timeout covers room made on the other side).
struct Link {
  static constexpr size_t kWindow = 64 * 1024;
  Pair left, right;
  MemoryConnection a{kWindow}, b{kWindow};
  StreamRelay left_relay{left.pktd()}, right_relay{right.pktd()};
  std::vector<std::byte> scratch = std::vector<std::byte>(16384);

  Link() {
    a.join(b);
    b.join(a);
  }
  void pump_once() {
    left_relay.pump_out(a, scratch);
    right_relay.pump_in(b);
    right_relay.pump_out(b, scratch);
    left_relay.pump_in(a);
  }
  void wait() {
    pollfd p[2] = {{left.pktd(), POLLIN | POLLOUT, 0}, {right.pktd(), POLLIN | POLLOUT, 0}};
    poll(p, 2, 5);
  }
  bool both_ends_delivered() const {
    return left_relay.end_of_file_delivered() && right_relay.end_of_file_delivered();
  }
};

TEST(StreamRelayTest, BytesCrossIntactBothWaysAndEndOfFileFollowsTheLastByte) {
  Link link;
  const auto to_right = random_bytes(4 << 20, 1), to_left = random_bytes(3 << 20, 2);
  std::vector<std::byte> got_right, got_left;
  std::thread left_app([&] {
    std::thread reader([&] { got_left = read_to_end(link.left.app()); });
    write_all_then_finish(link.left.app(), to_right);
    reader.join();
  });
  std::thread right_app([&] {
    std::thread reader([&] { got_right = read_to_end(link.right.app()); });
    write_all_then_finish(link.right.app(), to_left);
    reader.join();
  });
  while (!link.both_ends_delivered()) {
    link.pump_once();
    link.wait();
  }
  left_app.join();
  right_app.join();
  EXPECT_TRUE(got_right == to_right);
  EXPECT_TRUE(got_left == to_left);
  EXPECT_LE(link.a.most_queued(), Link::kWindow);
  EXPECT_LE(link.b.most_queued(), Link::kWindow);
}

TEST(StreamRelayTest, AReceiverThatDoesNotReadStopsTheSenderNotTheBytes) {
  Link link;
  ASSERT_EQ(fcntl(link.left.app(), F_SETFL, O_NONBLOCK), 0);
  const auto data = random_bytes(16 << 20, 3);
  size_t accepted = 0;
  // The right application reads nothing: once its pair, the window and the left pair are full,
  // the left application's writes must fail with EAGAIN (flow control reached it).
  bool pushed_back = false;
  for (int round = 0; round < 10000 && !pushed_back; ++round) {
    ssize_t n = write(link.left.app(), data.data() + accepted, std::min<size_t>(data.size() - accepted, 65536));
    if (n > 0) accepted += static_cast<size_t>(n);
    else if (errno == EAGAIN) pushed_back = link.a.send_room() == 0;  // the window is full too
    link.pump_once();
  }
  ASSERT_TRUE(pushed_back) << "accepted " << accepted;
  EXPECT_LT(accepted, data.size());
  // Now the right application reads: every accepted byte arrives, in order.
  shutdown(link.left.app(), SHUT_WR);
  std::vector<std::byte> got;
  std::thread reader([&] { got = read_to_end(link.right.app()); });
  while (!link.right_relay.end_of_file_delivered()) {
    link.pump_once();
    link.wait();
  }
  reader.join();
  ASSERT_EQ(got.size(), accepted);
  EXPECT_TRUE(std::equal(got.begin(), got.end(), data.begin()));
}

TEST(StreamRelayTest, HalfCloseKeepsTheOtherDirectionOpen) {
  Link link;
  shutdown(link.left.app(), SHUT_WR);  // the left application sends no more, but still reads
  EXPECT_EQ(link.left_relay.pump_out(link.a, link.scratch), PumpResult::finished);
  EXPECT_TRUE(link.b.peer_finished());
  pollfd p{link.left.pktd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_EQ(p.revents & POLLHUP, 0);  // a half-close, not a hang-up
  const char reply[] = "still listening";
  ASSERT_EQ(write(link.right.app(), reply, sizeof reply), static_cast<ssize_t>(sizeof reply));
  link.right_relay.pump_out(link.b, link.scratch);
  link.left_relay.pump_in(link.a);
  char got[sizeof reply] = {};
  ASSERT_EQ(read(link.left.app(), got, sizeof got), static_cast<ssize_t>(sizeof reply));
  EXPECT_STREQ(got, reply);
}

TEST(StreamRelayTest, AnApplicationThatClosesIsSeenAsFinishedAndHungUp) {
  Link link;
  ASSERT_EQ(write(link.left.app(), "last words", 10), 10);
  link.left.close_app();
  EXPECT_EQ(link.left_relay.pump_out(link.a, link.scratch), PumpResult::finished);
  EXPECT_EQ(link.b.received().size(), 10u);  // what it wrote before closing still goes
  pollfd p{link.left.pktd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 0), 1);
  EXPECT_NE(p.revents & POLLHUP, 0);  // the service tells a close from a half-close by this
  // Bytes for it have nowhere to go: the relay says the pair broke.
  link.b.send(std::as_bytes(std::span("late", 4)));
  EXPECT_EQ(link.left_relay.pump_in(link.a), PumpResult::failed);
  EXPECT_EQ(errno, EPIPE);
}

bool writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return poll(&p, 1, 0) == 1 && (p.revents & POLLOUT) != 0;
}

// The application writing: another process, as it is for pktd (the relay tells its own filler
// from the application's bytes by the writer's pid).
void write_from_another_process(int fd, const std::string& text) {
  pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) _exit(write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) ? 0 : 1);
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

std::string received_text(const MemoryConnection& c) {
  std::span<const std::byte> got = c.received();
  return {reinterpret_cast<const char*>(got.data()), got.size()};
}

TEST(StreamRelayTest, FillerKeepsTheApplicationsEndUnwritableUntilPumpOutDropsIt) {
  Link link;
  ASSERT_TRUE(writable(link.left.app()));
  ASSERT_TRUE(link.left_relay.write_filler(link.left.app())) << std::strerror(errno);
  const size_t first = link.left_relay.filler();
  EXPECT_GT(first, 0u);
  EXPECT_FALSE(writable(link.left.app()));  // a connecting socket's end (tcp_poll: no POLLOUT)
  write_from_another_process(link.left.app(), "written ");  // a blocking send still goes in
  // A larger send buffer makes the end writable again; more filler after the application's
  // bytes, which keep their place.
  int larger = 1 << 20;
  ASSERT_EQ(setsockopt(link.left.app(), SOL_SOCKET, SO_SNDBUF, &larger, sizeof larger), 0);
  ASSERT_TRUE(writable(link.left.app()));  // 2 * wmem_max: four times the filler's 1/4 of the default
  EXPECT_TRUE(link.left_relay.write_filler(link.left.app()));
  EXPECT_FALSE(writable(link.left.app()));
  write_from_another_process(link.left.app(), "during the handshake");
  EXPECT_GT(link.left_relay.filler(), first);
  // Established: the filler goes, the application's bytes go on, its end is writable again.
  EXPECT_EQ(link.left_relay.pump_out(link.a, link.scratch), PumpResult::blocked);
  EXPECT_EQ(received_text(link.b), "written during the handshake");
  EXPECT_EQ(link.left_relay.filler(), 0u);
  EXPECT_TRUE(writable(link.left.app()));
  int passes = -1;
  socklen_t len = sizeof passes;
  ASSERT_EQ(getsockopt(link.left.pktd(), SOL_SOCKET, SO_PASSCRED, &passes, &len), 0);
  EXPECT_EQ(passes, 0);  // reads join the application's writes again
}

TEST(StreamRelayTest, DiscardQueuedDropsTheFillerAndCountsTheApplicationsOctets) {
  Link link;
  ASSERT_EQ(write(link.left.app(), "before connect", 14), 14);
  EXPECT_EQ(link.left_relay.discard_queued(link.scratch), 14u);
  ASSERT_TRUE(link.left_relay.write_filler(link.left.app()));
  write_from_another_process(link.left.app(), "held");
  EXPECT_EQ(link.left_relay.discard_queued(link.scratch), 4u);  // the handshake failed
  EXPECT_EQ(link.left_relay.filler(), 0u);
  EXPECT_TRUE(writable(link.left.app()));
  EXPECT_EQ(link.left_relay.pump_out(link.a, link.scratch), PumpResult::blocked);
  EXPECT_EQ(link.b.received().size(), 0u);
}

}  // namespace
}  // namespace pktd::sockets
