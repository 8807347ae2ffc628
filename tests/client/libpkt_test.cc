// libpkt's C API (pktd/libpkt.h) against a real pktd: what a UDP program sees, errno values
// included, must be what Linux gives it. Each test process starts one pktd in the foreground with
// its own run directory and an instance name unique to this run (so ctest -j and repeated runs do
// not meet), points libpkt at it with PKTD_SVC, and stops it by PID at the end. Traffic stays on
// pktd's lo0 (127.0.0.1).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <span>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "pktd/libpkt.h"
#include "pktd/libpkt.hpp"
#include "tests/support/wait.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;
using pktd::test::eventually;

constexpr char kLoopback[] = "127.0.0.1";
// No test binds it, and every test process has a pktd of its own: datagrams to it find nobody.
constexpr uint16_t kClosedPort = 40000;
constexpr size_t kMaxDatagram = 65507;  // 65535 - IP header - UDP header
constexpr int kWaitMs = 10000;          // bounds a failing wait only

// --- pktd, started and stopped by the tests ---

// A name no other run shares: instance names are also files in the run directory and parts of
// abstract socket names.
std::string unique_instance() {
  std::random_device device;
  std::ostringstream name;
  name << "lp" << getpid() << "-" << std::hex << (device() & 0xffffff);
  return name.str();
}

// The environment of pktd: ours with PKTD_RUNDIR replaced.
std::vector<std::string> daemon_environment(const std::string& rundir) {
  std::vector<std::string> env{"PKTD_RUNDIR=" + rundir};
  for (char** e = environ; *e != nullptr; ++e)
    if (std::strncmp(*e, "PKTD_RUNDIR=", 12) != 0) env.emplace_back(*e);
  return env;
}

std::vector<char*> c_strings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

bool accepts_connection(const std::string& path) {
  int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

std::string describe_status(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("signal ") + strsignal(WTERMSIG(status));
  return "status " + std::to_string(status);
}

// One pktd in the foreground (-f), a child of the test process.
class Daemon {
 public:
  Daemon() : rundir_(make_run_directory()), instance_(unique_instance()) {}
  ~Daemon() {
    if (running()) stop(SIGKILL);
    std::error_code ignored;
    std::filesystem::remove_all(rundir_, ignored);
  }
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // The same run directory and instance every time, so that the service's path, which libpkt
  // reads once per process, stays right across a restart.
  std::string service_path() const { return rundir_ + "/" + instance_ + ".svc"; }
  bool running() const { return pid_ > 0; }

  // Runs `pkt ARGS...` against this pktd; its exit status (-1 if it could not run).
  int pkt(std::vector<std::string> args) const {
    args.insert(args.begin(), PKTD_PKT_PATH);
    std::vector<std::string> env = daemon_environment(rundir_);
    env.push_back("PKTD_INSTANCE=" + instance_);
    std::vector<char*> argv = c_strings(args), envp = c_strings(env);
    pid_t child = fork();
    if (child < 0) return -1;
    if (child == 0) {
      int null = open("/dev/null", O_WRONLY);
      if (null >= 0) dup2(null, STDOUT_FILENO);
      execve(argv[0], argv.data(), envp.data());
      _exit(127);
    }
    int status = 0;
    if (waitpid(child, &status, 0) != child) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }

  // Starts pktd and waits until it serves; false (with the reason in *why) if it did not.
  bool start(std::string* why) {
    if (rundir_.empty()) {
      *why = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
    std::vector<std::string> args{PKTD_DAEMON_PATH, "-f", "-i", instance_};
    std::vector<std::string> env = daemon_environment(rundir_);
    std::vector<char*> argv = c_strings(args), envp = c_strings(env);
    std::string log = log_path();
    log_start_ = output().size();
    pid_t parent = getpid();
    pid_ = fork();
    if (pid_ < 0) {
      *why = std::string("fork: ") + std::strerror(errno);
      return false;
    }
    if (pid_ == 0) become_daemon(parent, log.c_str(), argv.data(), envp.data());
    if (!eventually([&] { return has_exited() || serves(); }, 30s)) {
      *why = "pktd did not become ready:\n" + output();
      return false;
    }
    if (!running()) {
      *why = "pktd exited (" + describe_status(exit_status_) + "):\n" + output();
      return false;
    }
    return true;
  }

  // Sends pktd signal and waits for it to exit (SIGKILL if it will not): its wait status.
  int stop(int signal) {
    if (!running()) return exit_status_;
    kill(pid_, signal);
    if (!eventually([&] { return has_exited(); }, 30s)) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &exit_status_, 0);
      pid_ = -1;
    }
    return exit_status_;
  }

  // What pktd printed (the log of every start in this process).
  std::string output() const {
    std::ifstream in(log_path());
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  }

 private:
  static std::string make_run_directory() {
    char tmpl[] = "/tmp/pktd-libpkt-XXXXXX";
    const char* dir = mkdtemp(tmpl);
    return dir != nullptr ? dir : "";
  }

  std::string log_path() const { return rundir_ + "/pktd.log"; }

  // In the child: pktd's output to the log, and pktd dies with the test process (a test that
  // crashes must not leave a daemon behind).
  [[noreturn]] static void become_daemon(pid_t parent, const char* log, char** argv, char** envp) {
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
      dup2(fd, STDOUT_FILENO);
      dup2(fd, STDERR_FILENO);
    }
    execve(argv[0], argv, envp);
    _exit(127);
  }

  bool has_exited() {
    if (waitpid(pid_, &exit_status_, WNOHANG) != pid_) return false;
    pid_ = -1;
    return true;
  }

  // The service accepts connections before the stack is up (requests are refused with ENETDOWN
  // until then) and before lo0 exists; this start's "ready" line comes after both. (The log
  // first: it is cheap, and every connection is a client pktd must take.)
  bool serves() const {
    return output().find(" ready: pid", log_start_) != std::string::npos &&
           accepts_connection(service_path());
  }

  std::string rundir_, instance_;
  pid_t pid_ = -1;
  int exit_status_ = 0;
  size_t log_start_ = 0;  // where the current start's output begins in the log
};

Daemon* g_pktd = nullptr;

// One pktd per test process: libpkt reads PKTD_SVC on first use, so every test of the process
// talks to the same path.
class PktdEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    g_pktd = new Daemon;
    setenv("PKTD_SVC", g_pktd->service_path().c_str(), 1);
    std::string why;
    ASSERT_TRUE(g_pktd->start(&why)) << why;
  }
  void TearDown() override {
    if (g_pktd->running()) {
      int status = g_pktd->stop(SIGTERM);
      EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
          << "pktd did not stop cleanly (" << describe_status(status) << "):\n"
          << g_pktd->output();
    }
    delete g_pktd;
    g_pktd = nullptr;
  }
};

[[maybe_unused]] const auto* const g_environment =
    ::testing::AddGlobalTestEnvironment(new PktdEnvironment);

// --- small helpers ---

sockaddr* as_sockaddr(sockaddr_in* a) { return reinterpret_cast<sockaddr*>(a); }

sockaddr_in loopback(uint16_t port) { return pkt::ipv4(kLoopback, port); }

// errno of a call that failed, 0 if it did not: EXPECT_EQ(error_of(pkt_bind(...)), EINVAL).
int error_of(long result) { return result < 0 ? errno : 0; }

uint16_t port_of(int fd) {
  sockaddr_in a{};
  socklen_t len = sizeof a;
  if (pkt_getsockname(fd, as_sockaddr(&a), &len) != 0) return 0;
  return ntohs(a.sin_port);
}

bool readable(int fd) {
  pollfd p{fd, POLLIN, 0};
  return poll(&p, 1, kWaitMs) == 1 && (p.revents & POLLIN) != 0;
}

int int_option(int fd, int level, int name) {
  int value = -1;
  socklen_t len = sizeof value;
  if (pkt_getsockopt(fd, level, name, &value, &len) != 0) return -errno;
  return value;
}

ssize_t send_to(int fd, const std::string& data, uint16_t port) {
  sockaddr_in to = loopback(port);
  return pkt_sendto(fd, data.data(), data.size(), 0, as_sockaddr(&to), sizeof to);
}

// size bytes that tell one datagram's content from another's.
std::string bytes_of(size_t size, char seed) {
  std::string s(size, '\0');
  for (size_t i = 0; i < size; ++i) s[i] = static_cast<char>(static_cast<size_t>(seed) + i % 61);
  return s;
}

class Libpkt : public ::testing::Test {
 protected:
  // A test that stopped pktd leaves the next one a new pktd at the same path.
  void SetUp() override {
    ASSERT_NE(g_pktd, nullptr);
    std::string why;
    if (!g_pktd->running()) {
      ASSERT_TRUE(g_pktd->start(&why)) << why;
    }
  }

  // A UDP socket (type_flags: SOCK_NONBLOCK, SOCK_CLOEXEC). Blocking receives give up after
  // kWaitMs, so that a lost datagram fails its test instead of hanging it.
  static pkt::Socket udp(int type_flags = 0) {
    std::error_code ec;
    pkt::Socket s = pkt::Socket::open(AF_INET, SOCK_DGRAM | type_flags, 0, ec);
    EXPECT_FALSE(ec) << ec.message();
    timeval limit{kWaitMs / 1000, 0};
    EXPECT_FALSE(s.set_option(SOL_SOCKET, SO_RCVTIMEO, limit));
    return s;
  }

  // A UDP socket bound to 127.0.0.1 and an ephemeral port.
  static pkt::Socket bound_udp(int type_flags = 0) {
    pkt::Socket s = udp(type_flags);
    std::error_code ec = s.bind(loopback(0));
    EXPECT_FALSE(ec) << ec.message();
    return s;
  }

  // Receives one datagram into a buffer of capacity bytes; its payload as received.
  static std::string receive(int fd, size_t capacity = kMaxDatagram, int flags = 0,
                             sockaddr_in* from = nullptr) {
    std::string buffer(capacity, '\0');
    sockaddr_in source{};
    socklen_t len = sizeof source;
    ssize_t n = pkt_recvfrom(fd, buffer.data(), buffer.size(), flags, as_sockaddr(&source), &len);
    EXPECT_GE(n, 0) << std::strerror(errno);
    EXPECT_EQ(len, sizeof source);
    if (from != nullptr) *from = source;
    buffer.resize(n < 0 ? 0 : std::min(static_cast<size_t>(n), capacity));
    return buffer;
  }
};

// --- naming and moving datagrams ---

TEST_F(Libpkt, BindToPortZeroPicksAnEphemeralPort) {
  pkt::Socket s = bound_udp();
  sockaddr_in a{};
  socklen_t len = sizeof a;
  ASSERT_EQ(pkt_getsockname(s.fd(), as_sockaddr(&a), &len), 0) << std::strerror(errno);
  EXPECT_EQ(len, sizeof a);
  EXPECT_EQ(a.sin_family, AF_INET);
  EXPECT_EQ(a.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_GE(ntohs(a.sin_port), 49152);  // RFC 6335's dynamic range, up to 65535
}

TEST_F(Libpkt, DatagramsKeepTheirBoundariesAndTheSendersAddress) {
  pkt::Socket receiver = bound_udp(), sender = bound_udp();
  const size_t sizes[] = {0, 1, 1472, kMaxDatagram};  // 1472 fills an Ethernet frame
  for (size_t size : sizes)
    EXPECT_EQ(send_to(sender.fd(), bytes_of(size, 'a'), port_of(receiver.fd())),
              static_cast<ssize_t>(size));
  for (size_t size : sizes) {
    sockaddr_in from{};
    EXPECT_EQ(receive(receiver.fd(), kMaxDatagram, 0, &from), bytes_of(size, 'a'));
    EXPECT_EQ(from.sin_family, AF_INET);
    EXPECT_EQ(from.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
    EXPECT_EQ(ntohs(from.sin_port), port_of(sender.fd()));
  }
}

TEST_F(Libpkt, MsgTruncReturnsTheRealLengthOfATruncatedDatagram) {
  pkt::Socket receiver = bound_udp(), sender = bound_udp();
  ASSERT_EQ(send_to(sender.fd(), "0123456789", port_of(receiver.fd())), 10);
  char buffer[4];
  EXPECT_EQ(pkt_recv(receiver.fd(), buffer, sizeof buffer, MSG_TRUNC), 10);
  EXPECT_EQ(std::string(buffer, 4), "0123");
}

TEST_F(Libpkt, RecvmsgFlagsATruncatedDatagram) {
  pkt::Socket receiver = bound_udp(), sender = bound_udp();
  ASSERT_EQ(send_to(sender.fd(), "0123456789", port_of(receiver.fd())), 10);
  char buffer[4];
  iovec iov{buffer, sizeof buffer};
  sockaddr_in from{};
  msghdr msg{};
  msg.msg_name = &from;
  msg.msg_namelen = sizeof from;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  EXPECT_EQ(pkt_recvmsg(receiver.fd(), &msg, 0), 4);
  EXPECT_NE(msg.msg_flags & MSG_TRUNC, 0);
  EXPECT_EQ(msg.msg_namelen, sizeof from);
  EXPECT_EQ(ntohs(from.sin_port), port_of(sender.fd()));
  // The rest of a truncated datagram is gone, as on Linux.
  EXPECT_EQ(pkt_recv(receiver.fd(), buffer, sizeof buffer, MSG_DONTWAIT), -1);
  EXPECT_EQ(errno, EAGAIN);
}

TEST_F(Libpkt, PeekThenReceiveGiveTheSameDatagram) {
  pkt::Socket receiver = bound_udp(), sender = bound_udp();
  ASSERT_EQ(send_to(sender.fd(), "first", port_of(receiver.fd())), 5);
  ASSERT_EQ(send_to(sender.fd(), "second", port_of(receiver.fd())), 6);
  EXPECT_EQ(receive(receiver.fd(), 64, MSG_PEEK), "first");
  EXPECT_EQ(receive(receiver.fd()), "first");
  EXPECT_EQ(receive(receiver.fd()), "second");
}

TEST_F(Libpkt, FionreadIsTheSizeOfTheNextDatagram) {
  pkt::Socket receiver = bound_udp(), sender = bound_udp();
  int available = -1;
  ASSERT_EQ(pkt_ioctl(receiver.fd(), FIONREAD, &available), 0);
  EXPECT_EQ(available, 0);
  ASSERT_EQ(send_to(sender.fd(), bytes_of(100, 'x'), port_of(receiver.fd())), 100);
  ASSERT_EQ(send_to(sender.fd(), "seven!!", port_of(receiver.fd())), 7);
  ASSERT_TRUE(readable(receiver.fd()));
  ASSERT_EQ(pkt_ioctl(receiver.fd(), FIONREAD, &available), 0);
  EXPECT_EQ(available, 100);  // not the 107 queued
  receive(receiver.fd());
  ASSERT_TRUE(readable(receiver.fd()));
  ASSERT_EQ(pkt_ioctl(receiver.fd(), FIONREAD, &available), 0);
  EXPECT_EQ(available, 7);
}

TEST_F(Libpkt, WritevAndReadvMoveOneDatagram) {
  pkt::Socket receiver = bound_udp(), sender = bound_udp();
  ASSERT_FALSE(sender.connect(loopback(port_of(receiver.fd()))));
  char ab[] = "ab", cde[] = "cde";
  iovec out[2] = {{ab, 2}, {cde, 3}};
  ASSERT_EQ(pkt_writev(sender.fd(), out, 2), 5);
  char first[2], second[10];
  iovec in[2] = {{first, sizeof first}, {second, sizeof second}};
  ASSERT_EQ(pkt_readv(receiver.fd(), in, 2), 5);
  EXPECT_EQ(std::string(first, 2), "ab");
  EXPECT_EQ(std::string(second, 3), "cde");
}

// --- what Linux refuses, refused the same way ---

TEST_F(Libpkt, SocketRefusesIpv6ForNow) {
  EXPECT_EQ(error_of(pkt_socket(AF_INET6, SOCK_DGRAM, 0)), EAFNOSUPPORT);
  EXPECT_EQ(error_of(pkt_socket(AF_INET6, SOCK_STREAM, 0)), EAFNOSUPPORT);
  EXPECT_EQ(error_of(pkt_socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)), EPROTONOSUPPORT);
}

TEST_F(Libpkt, BindChecksTheAddressArgument) {
  pkt::Socket s = udp();
  sockaddr_in a = loopback(0);
  EXPECT_EQ(error_of(pkt_bind(s.fd(), as_sockaddr(&a), sizeof a - 1)), EINVAL);
  EXPECT_EQ(error_of(pkt_bind(s.fd(), nullptr, sizeof a)), EFAULT);
}

TEST_F(Libpkt, SendOnAnUnconnectedSocketWantsADestination) {
  pkt::Socket s = udp();
  EXPECT_EQ(error_of(pkt_send(s.fd(), "x", 1, 0)), EDESTADDRREQ);
}

TEST_F(Libpkt, DatagramAboveTheUdpMaximumIsTooBig) {
  pkt::Socket s = udp();
  EXPECT_EQ(error_of(send_to(s.fd(), std::string(kMaxDatagram + 1, 'x'), kClosedPort)), EMSGSIZE);
}

TEST_F(Libpkt, BindToATakenPortIsAddressInUse) {
  pkt::Socket first = bound_udp(), second = udp();
  EXPECT_EQ(second.bind(loopback(port_of(first.fd()))), std::errc::address_in_use);
}

TEST_F(Libpkt, BindToAnAddressNotOursIsNotAvailable) {
  pkt::Socket s = udp();
  EXPECT_EQ(s.bind(pkt::ipv4("198.18.77.1", 0)), std::errc::address_not_available);
}

TEST_F(Libpkt, GetpeernameOnAnUnconnectedSocketIsNotConnected) {
  pkt::Socket s = bound_udp();
  sockaddr_in a{};
  socklen_t len = sizeof a;
  EXPECT_EQ(error_of(pkt_getpeername(s.fd(), as_sockaddr(&a), &len)), ENOTCONN);
}

TEST_F(Libpkt, ConnectedSocketHearsPortUnreachableOnRecv) {
  pkt::Socket s = udp();
  ASSERT_FALSE(s.connect(loopback(kClosedPort)));
  ASSERT_EQ(pkt_send(s.fd(), "x", 1, 0), 1);
  ASSERT_TRUE(readable(s.fd()));  // the error is queued like a datagram
  char buffer[8];
  EXPECT_EQ(error_of(pkt_recv(s.fd(), buffer, sizeof buffer, 0)), ECONNREFUSED);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), 0);  // reported once
  EXPECT_EQ(error_of(pkt_recv(s.fd(), buffer, sizeof buffer, MSG_DONTWAIT)), EAGAIN);
}

TEST_F(Libpkt, ConnectedSocketHearsPortUnreachableThroughSoError) {
  pkt::Socket s = udp();
  ASSERT_FALSE(s.connect(loopback(kClosedPort)));
  ASSERT_EQ(pkt_send(s.fd(), "x", 1, 0), 1);
  ASSERT_TRUE(readable(s.fd()));
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), ECONNREFUSED);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), 0);  // reading it clears it
  char buffer[8];
  EXPECT_EQ(error_of(pkt_recv(s.fd(), buffer, sizeof buffer, MSG_DONTWAIT)), EAGAIN);
}

TEST_F(Libpkt, TcpOptionOnAUdpSocketIsUnknown) {
  pkt::Socket s = udp();
  EXPECT_EQ(s.set_option(IPPROTO_TCP, TCP_NODELAY, 1), std::errc::no_protocol_option);
}

// --- options ---

TEST_F(Libpkt, ReceiveBufferIsDoubledAsLinuxReportsIt) {
  pkt::Socket s = udp();
  ASSERT_FALSE(s.set_option(SOL_SOCKET, SO_RCVBUF, 65536));
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_RCVBUF), 131072);
}

TEST_F(Libpkt, TypeDomainAndProtocolDescribeAUdpSocket) {
  pkt::Socket s = udp();
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_DOMAIN), AF_INET);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_TYPE), SOCK_DGRAM);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_PROTOCOL), IPPROTO_UDP);
}

TEST_F(Libpkt, ReceiveTimeoutEndsABlockingRecv) {
  pkt::Socket s = bound_udp();
  timeval limit{0, 100'000};
  ASSERT_FALSE(s.set_option(SOL_SOCKET, SO_RCVTIMEO, limit));
  char buffer[8];
  EXPECT_EQ(error_of(pkt_recv(s.fd(), buffer, sizeof buffer, 0)), EAGAIN);
}

TEST_F(Libpkt, NonblockingSocketHasNothingToReceive) {
  pkt::Socket s = bound_udp(SOCK_NONBLOCK);
  EXPECT_NE(fcntl(s.fd(), F_GETFL) & O_NONBLOCK, 0);
  char buffer[8];
  EXPECT_EQ(error_of(pkt_recv(s.fd(), buffer, sizeof buffer, 0)), EAGAIN);
}

TEST_F(Libpkt, CloexecFlagMakesTheDescriptorCloseOnExec) {
  pkt::Socket with = udp(SOCK_CLOEXEC), without = udp();
  EXPECT_NE(fcntl(with.fd(), F_GETFD) & FD_CLOEXEC, 0);
  EXPECT_EQ(fcntl(without.fd(), F_GETFD) & FD_CLOEXEC, 0);
}

// --- descriptors ---

TEST_F(Libpkt, DuplicateWorksAfterTheOriginalIsClosed) {
  pkt::Socket receiver = bound_udp(), original = bound_udp();
  uint16_t port = port_of(original.fd());
  pkt::Socket copy(pkt_dup(original.fd()));
  ASSERT_TRUE(copy.valid()) << std::strerror(errno);
  ASSERT_FALSE(original.close());
  EXPECT_EQ(pkt_is_socket(copy.fd()), 1);
  EXPECT_EQ(port_of(copy.fd()), port);
  ASSERT_EQ(send_to(copy.fd(), "via copy", port_of(receiver.fd())), 8);
  EXPECT_EQ(receive(receiver.fd()), "via copy");
  ASSERT_EQ(send_to(receiver.fd(), "to copy", port), 7);
  EXPECT_EQ(receive(copy.fd()), "to copy");
}

TEST_F(Libpkt, PortIsFreeAtOnceAfterTheLastClose) {
  pkt::Socket holder = bound_udp();
  uint16_t port = port_of(holder.fd());
  int second_copy = open("/dev/null", O_RDONLY | O_CLOEXEC);  // a descriptor dup2 replaces
  ASSERT_GE(second_copy, 0);
  ASSERT_EQ(pkt_dup2(holder.fd(), second_copy), second_copy) << std::strerror(errno);
  EXPECT_EQ(pkt_is_socket(second_copy), 1);
  ASSERT_FALSE(holder.close());
  pkt::Socket next = udp();
  EXPECT_EQ(next.bind(loopback(port)), std::errc::address_in_use);  // the copy still holds it
  ASSERT_EQ(pkt_close(second_copy), 0);
  EXPECT_FALSE(next.bind(loopback(port)));
}

// The child has a service connection of its own (libpkt drops the parent's at fork); it asks
// pktd to connect the parent's socket and sends on it. Only _exit's status leaves the child.
TEST_F(Libpkt, ForkedChildSendsOnTheParentsSocket) {
  pkt::Socket receiver = bound_udp(), shared = bound_udp();
  uint16_t receiver_port = port_of(receiver.fd());
  pid_t child = fork();
  ASSERT_GE(child, 0) << std::strerror(errno);
  if (child == 0) {
    sockaddr_in to = loopback(receiver_port);
    bool ok = pkt_connect(shared.fd(), as_sockaddr(&to), sizeof to) == 0 &&
              pkt_send(shared.fd(), "from child", 10, 0) == 10;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_EQ(describe_status(status), describe_status(0));
  sockaddr_in from{};
  EXPECT_EQ(receive(receiver.fd(), 64, 0, &from), "from child");
  EXPECT_EQ(ntohs(from.sin_port), port_of(shared.fd()));  // the parent's connection still serves
  // The child's connect is the socket's, so the parent's too.
  ASSERT_EQ(pkt_send(shared.fd(), "from parent", 11, 0), 11) << std::strerror(errno);
  EXPECT_EQ(receive(receiver.fd(), 64), "from parent");
}

// Copies of a descriptor are one socket: what one connects, the other sends to.
TEST_F(Libpkt, ConnectThroughOneCopyServesSendsThroughAnother) {
  pkt::Socket receiver = bound_udp(), s = bound_udp();
  pkt::Socket copy(pkt_dup(s.fd()));
  ASSERT_TRUE(copy.valid()) << std::strerror(errno);
  ASSERT_FALSE(s.connect(loopback(port_of(receiver.fd()))));
  ASSERT_EQ(pkt_send(copy.fd(), "via copy", 8, 0), 8) << std::strerror(errno);
  EXPECT_EQ(receive(receiver.fd()), "via copy");
}

TEST_F(Libpkt, ConnectToAfUnspecDissolvesTheAssociation) {
  pkt::Socket peer = bound_udp(), s = bound_udp();
  ASSERT_FALSE(s.connect(loopback(port_of(peer.fd()))));
  sockaddr_in a{};
  EXPECT_FALSE(s.peer_address(&a));
  sockaddr unspec{};
  unspec.sa_family = AF_UNSPEC;
  ASSERT_EQ(pkt_connect(s.fd(), &unspec, sizeof unspec), 0) << std::strerror(errno);
  EXPECT_EQ(s.peer_address(&a), std::errc::not_connected);
  EXPECT_EQ(error_of(pkt_send(s.fd(), "x", 1, 0)), EDESTADDRREQ);
}

// A program that closes a socket with the C library's close (libpkt does not see it) and gets the
// number back for something else: libpkt's calls find out and become the native ones.
TEST_F(Libpkt, DescriptorReusedBehindLibpktsBackIsNativeAgain) {
  pkt::Socket s = udp();
  int number = s.release();
  ASSERT_EQ(close(number), 0);
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0, pair), 0);
  ASSERT_EQ(dup2(pair[0], number), number);  // the kernel's lowest free number is likely it anyway
  if (pair[0] != number) close(pair[0]);
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  EXPECT_EQ(pkt_getsockname(number, reinterpret_cast<sockaddr*>(&a), &len), 0)
      << std::strerror(errno);
  EXPECT_EQ(a.ss_family, AF_UNIX);
  EXPECT_EQ(pkt_is_socket(number), 0);
  close(number);
  close(pair[1]);
}

// --- threads ---

// One thread's cycles: a socket that sends itself a datagram and reads it back. The first
// failure, or "".
std::string socket_cycles(int cycles) {
  for (int i = 0; i < cycles; ++i) {
    std::error_code ec;
    pkt::Socket s = pkt::Socket::open(AF_INET, SOCK_DGRAM, 0, ec);
    if (ec) return "open: " + ec.message();
    timeval limit{kWaitMs / 1000, 0};
    if ((ec = s.set_option(SOL_SOCKET, SO_RCVTIMEO, limit))) return "SO_RCVTIMEO: " + ec.message();
    if ((ec = s.bind(loopback(0)))) return "bind: " + ec.message();
    sockaddr_in me{};
    if ((ec = s.local_address(&me))) return "getsockname: " + ec.message();
    const char ping[] = "ping";
    s.send_to(std::as_bytes(std::span(ping, 4)), me, ec);
    if (ec) return "sendto: " + ec.message();
    std::byte buffer[16];
    sockaddr_in from{};
    size_t n = s.receive_from(buffer, &from, ec);
    if (ec) return "recvfrom: " + ec.message();
    if (n != 4 || from.sin_port != me.sin_port) return "recvfrom: not the datagram sent";
    if ((ec = s.close())) return "close: " + ec.message();
  }
  return "";
}

TEST_F(Libpkt, ThreadsMakeUseAndCloseSocketsTogether) {
  constexpr size_t kThreads = 4;
  constexpr int kCycles = 50;
  std::vector<std::string> failures(kThreads);
  std::vector<std::thread> threads;
  for (size_t t = 0; t < kThreads; ++t)
    threads.emplace_back([&failures, t] { failures[t] = socket_cycles(kCycles); });
  for (std::thread& t : threads) t.join();
  for (size_t t = 0; t < kThreads; ++t) EXPECT_EQ(failures[t], "") << "thread " << t;
}

// --- streams (TCP over pktd's lo0) ---

// Routed into lo0 and answered by nobody: a handshake that never ends (Streams::black_hole).
constexpr char kBlackHoleNet[] = "198.18.255.0/24";
constexpr char kBlackHole[] = "198.18.255.1";

std::atomic<int> g_signals{0};
void count_signal(int) { ++g_signals; }

// A handler for signo without SA_RESTART (or with it), the old one restored at the end.
class SignalHandler {
 public:
  SignalHandler(int signo, bool restart) : signo_(signo) {
    struct sigaction sa {};
    sa.sa_handler = count_signal;
    sa.sa_flags = restart ? SA_RESTART : 0;
    sigemptyset(&sa.sa_mask);
    sigaction(signo_, &sa, &old_);
  }
  ~SignalHandler() { sigaction(signo_, &old_, nullptr); }
  SignalHandler(const SignalHandler&) = delete;
  SignalHandler& operator=(const SignalHandler&) = delete;

 private:
  int signo_;
  struct sigaction old_ {};
};

class Streams : public Libpkt {
 protected:
  // A TCP socket whose blocking reads give up after kWaitMs (its connect is not bounded: Linux's
  // connect waits SO_SNDTIMEO, which stays unset).
  static pkt::Socket tcp(int type_flags = 0) {
    std::error_code ec;
    pkt::Socket s = pkt::Socket::open(AF_INET, SOCK_STREAM | type_flags, 0, ec);
    EXPECT_FALSE(ec) << ec.message();
    timeval limit{kWaitMs / 1000, 0};
    EXPECT_FALSE(s.set_option(SOL_SOCKET, SO_RCVTIMEO, limit));
    return s;
  }

  // A listener on 127.0.0.1 and an ephemeral port.
  static pkt::Socket listener(int backlog = 16) {
    pkt::Socket s = tcp();
    EXPECT_FALSE(s.bind(loopback(0)));
    EXPECT_FALSE(s.listen(backlog));
    return s;
  }

  // client connected (blocking) to server, accepted from a listener of its own.
  static void connected_pair(pkt::Socket* client, pkt::Socket* server) {
    pkt::Socket l = listener();
    *client = tcp();
    std::error_code ec = client->connect(loopback(port_of(l.fd())));
    ASSERT_FALSE(ec) << ec.message();
    *server = l.accept(nullptr, ec);
    ASSERT_FALSE(ec) << ec.message();
    timeval limit{kWaitMs / 1000, 0};
    EXPECT_FALSE(server->set_option(SOL_SOCKET, SO_RCVTIMEO, limit));
  }

  static void black_hole() {
    // Already there when an earlier test of this pktd added it: pkt then fails, harmlessly.
    g_pktd->pkt({"route", "add", kBlackHoleNet, "-interface", "lo0"});
  }

  static bool send_all(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = pkt_send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
      if (n <= 0) return false;
      done += static_cast<size_t>(n);
    }
    return true;
  }

  // Up to size bytes, fewer only at end of file or on an error.
  static std::string receive_all(int fd, size_t size) {
    std::string got;
    std::vector<char> buffer(65536);
    while (got.size() < size) {
      ssize_t n = pkt_recv(fd, buffer.data(), std::min(buffer.size(), size - got.size()), 0);
      if (n <= 0) break;
      got.append(buffer.data(), static_cast<size_t>(n));
    }
    return got;
  }
};

TEST_F(Streams, StreamSocketDescribesItself) {
  pkt::Socket s = tcp();
  EXPECT_EQ(pkt_is_socket(s.fd()), 1);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_TYPE), SOCK_STREAM);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_PROTOCOL), IPPROTO_TCP);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ACCEPTCONN), 0);
  EXPECT_EQ(int_option(s.fd(), IPPROTO_TCP, TCP_MAXSEG), 536);  // before a connection
  EXPECT_EQ(error_of(pkt_shutdown(s.fd(), SHUT_RDWR)), ENOTCONN);
}

TEST_F(Streams, BlockingConnectAndAcceptMeet) {
  pkt::Socket l = listener(), client = tcp();
  ASSERT_FALSE(client.connect(loopback(port_of(l.fd()))));
  sockaddr_in peer{};
  std::error_code ec;
  pkt::Socket server = l.accept(&peer, ec);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_EQ(pkt_is_socket(server.fd()), 1);
  EXPECT_EQ(peer.sin_addr.s_addr, htonl(INADDR_LOOPBACK));
  EXPECT_EQ(ntohs(peer.sin_port), port_of(client.fd()));
  sockaddr_in a{};
  ASSERT_FALSE(client.peer_address(&a));
  EXPECT_EQ(ntohs(a.sin_port), port_of(l.fd()));
  EXPECT_EQ(client.connect(loopback(port_of(l.fd()))), std::errc::already_connected);
  EXPECT_EQ(int_option(l.fd(), SOL_SOCKET, SO_ACCEPTCONN), 1);
  tcp_info info{};
  socklen_t len = sizeof info;
  ASSERT_EQ(pkt_getsockopt(client.fd(), IPPROTO_TCP, TCP_INFO, &info, &len), 0) << std::strerror(errno);
  EXPECT_EQ(len, sizeof info);
  EXPECT_EQ(info.tcpi_state, TCP_ESTABLISHED);
  EXPECT_GT(info.tcpi_snd_mss, 0U);
  EXPECT_GE(info.tcpi_rto, 200000U);  // Linux's floor, in microseconds
}

TEST_F(Streams, BlockingConnectToAClosedPortIsRefused) {
  pkt::Socket s = tcp();
  EXPECT_EQ(s.connect(loopback(kClosedPort)), std::errc::connection_refused);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), 0);  // the connect took it, as Linux's
}

TEST_F(Streams, NonblockingConnectCompletesWhenThePeerAnswers) {
  pkt::Socket l = listener(), s = tcp(SOCK_NONBLOCK);
  EXPECT_EQ(s.connect(loopback(port_of(l.fd()))), std::errc::operation_in_progress);
  pollfd p{s.fd(), POLLOUT, 0};
  EXPECT_EQ(poll(&p, 1, kWaitMs), 1);  // once the handshake is done (docs/sockets.md)
  sockaddr_in a{};
  EXPECT_TRUE(eventually([&] { return !s.peer_address(&a); }));
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), 0);
  // As Linux: the next connect reports the outcome (0), the one after EISCONN.
  EXPECT_FALSE(s.connect(loopback(port_of(l.fd()))));
  EXPECT_EQ(s.connect(loopback(port_of(l.fd()))), std::errc::already_connected);
}

// Linux's tcp_poll: no POLLOUT before the handshake is decided, so a program that waits for it
// and then reads SO_ERROR learns the outcome.
TEST_F(Streams, NonblockingConnectToNobodyIsNotWritable) {
  black_hole();
  pkt::Socket s = tcp(SOCK_NONBLOCK);
  EXPECT_EQ(s.connect(pkt::ipv4(kBlackHole, 81)), std::errc::operation_in_progress);
  pollfd p{s.fd(), POLLOUT, 0};
  EXPECT_EQ(poll(&p, 1, 300), 0);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), 0);
  sockaddr_in a{};
  EXPECT_EQ(s.peer_address(&a), std::errc::not_connected);
}

TEST_F(Streams, NonblockingConnectRefusedShowsInSoError) {
  pkt::Socket s = tcp(SOCK_NONBLOCK);
  EXPECT_EQ(s.connect(loopback(kClosedPort)), std::errc::operation_in_progress);
  pollfd p{s.fd(), POLLOUT, 0};
  ASSERT_EQ(poll(&p, 1, kWaitMs), 1);  // the failure makes it writable, as on Linux
  ASSERT_TRUE(readable(s.fd()));  // and ends the stream
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), ECONNREFUSED);
  EXPECT_EQ(int_option(s.fd(), SOL_SOCKET, SO_ERROR), 0);
}

TEST_F(Streams, ReadAtTheEndOfARefusedConnectIsTheError) {
  pkt::Socket s = tcp(SOCK_NONBLOCK);
  EXPECT_EQ(s.connect(loopback(kClosedPort)), std::errc::operation_in_progress);
  ASSERT_TRUE(readable(s.fd()));
  char c;
  EXPECT_EQ(error_of(pkt_recv(s.fd(), &c, 1, 0)), ECONNREFUSED);  // as Linux's recv
  EXPECT_EQ(pkt_recv(s.fd(), &c, 1, 0), 0);
}

TEST_F(Streams, FourMebibytesCrossBothWaysIntact) {
  pkt::Socket client, server;
  connected_pair(&client, &server);
  const std::string up = bytes_of(4 << 20, 'u'), down = bytes_of(4 << 20, 'd');
  std::string got_up, got_down;
  std::atomic<bool> sent_up{false}, sent_down{false};
  std::thread writer_up([&] { sent_up = send_all(client.fd(), up); });
  std::thread writer_down([&] { sent_down = send_all(server.fd(), down); });
  std::thread reader_up([&] { got_up = receive_all(server.fd(), up.size()); });
  got_down = receive_all(client.fd(), down.size());
  for (std::thread* t : {&writer_up, &writer_down, &reader_up}) t->join();
  EXPECT_TRUE(sent_up && sent_down);
  EXPECT_TRUE(got_up == up) << got_up.size() << " of " << up.size() << " octets up";
  EXPECT_TRUE(got_down == down) << got_down.size() << " of " << down.size() << " octets down";
}

TEST_F(Streams, HalfCloseLetsThePeerFinish) {
  pkt::Socket client, server;
  connected_pair(&client, &server);
  ASSERT_TRUE(send_all(client.fd(), "request"));
  ASSERT_FALSE(client.shutdown(SHUT_WR));
  EXPECT_EQ(receive_all(server.fd(), 100), "request");  // then end of file
  ASSERT_TRUE(send_all(server.fd(), "reply"));
  ASSERT_FALSE(server.close());
  EXPECT_EQ(receive_all(client.fd(), 100), "reply");
  char c;
  EXPECT_EQ(pkt_recv(client.fd(), &c, 1, 0), 0);
  EXPECT_EQ(error_of(pkt_send(client.fd(), "x", 1, MSG_NOSIGNAL)), EPIPE);
  // Without MSG_NOSIGNAL the writer gets SIGPIPE too, as from Linux's TCP.
  SignalHandler handler(SIGPIPE, true);
  int before = g_signals;
  EXPECT_EQ(error_of(pkt_write(client.fd(), "x", 1)), EPIPE);
  EXPECT_EQ(g_signals, before + 1);
}

TEST_F(Streams, LingerZeroResetsThePeer) {
  pkt::Socket client, server;
  connected_pair(&client, &server);
  ASSERT_FALSE(client.set_option(SOL_SOCKET, SO_LINGER, linger{1, 0}));
  ASSERT_FALSE(client.close());
  char c;
  EXPECT_EQ(error_of(pkt_recv(server.fd(), &c, 1, 0)), ECONNRESET);
  EXPECT_EQ(pkt_recv(server.fd(), &c, 1, 0), 0);  // reported once
  EXPECT_EQ(error_of(pkt_send(server.fd(), "x", 1, MSG_NOSIGNAL)), EPIPE);
}

TEST_F(Streams, WriteAfterAResetIsTheErrorOnceThenBrokenPipe) {
  pkt::Socket client, server;
  connected_pair(&client, &server);
  ASSERT_TRUE(send_all(client.fd(), "never read"));
  ASSERT_TRUE(readable(server.fd()));
  ASSERT_FALSE(server.close());  // bytes unread: a reset (RFC 1122 4.2.2.13)
  ASSERT_TRUE(readable(client.fd()));
  EXPECT_EQ(error_of(pkt_send(client.fd(), "x", 1, MSG_NOSIGNAL)), ECONNRESET);
  EXPECT_EQ(error_of(pkt_send(client.fd(), "x", 1, MSG_NOSIGNAL)), EPIPE);
}

TEST_F(Streams, AcceptHonoursItsFlagsAndNonblockingListeners) {
  pkt::Socket l = listener();
  ASSERT_EQ(fcntl(l.fd(), F_SETFL, O_NONBLOCK), 0);
  std::error_code ec;
  l.accept(nullptr, ec);
  EXPECT_EQ(ec, std::errc::resource_unavailable_try_again);
  pkt::Socket client = tcp();
  ASSERT_FALSE(client.connect(loopback(port_of(l.fd()))));
  ASSERT_TRUE(readable(l.fd()));
  pkt::Socket server = l.accept(nullptr, ec, SOCK_NONBLOCK | SOCK_CLOEXEC);
  ASSERT_FALSE(ec) << ec.message();
  EXPECT_NE(fcntl(server.fd(), F_GETFL) & O_NONBLOCK, 0);
  EXPECT_NE(fcntl(server.fd(), F_GETFD) & FD_CLOEXEC, 0);
  char c;
  EXPECT_EQ(error_of(pkt_recv(server.fd(), &c, 1, 0)), EAGAIN);
  EXPECT_EQ(error_of(pkt_accept(client.fd(), nullptr, nullptr)), EINVAL);  // not listening
}

TEST_F(Streams, AcceptAfterShutdownOfTheListenerIsInvalid) {
  pkt::Socket l = listener();
  ASSERT_FALSE(l.shutdown(SHUT_RD));  // Linux stops listening
  std::error_code ec;
  l.accept(nullptr, ec);
  EXPECT_EQ(ec, std::errc::invalid_argument);
}

// The handshake's wait holds nothing the process's other threads need, and a signal handler
// without SA_RESTART ends it with EINTR while the connect goes on.
TEST_F(Streams, BlockingConnectWaitsAloneAndASignalInterruptsIt) {
  black_hole();
  pkt::Socket s = tcp();
  SignalHandler handler(SIGUSR1, false);
  std::atomic<bool> done{false};
  std::atomic<int> error{0};
  std::thread connecting([&] {
    sockaddr_in to = pkt::ipv4(kBlackHole, 80);
    error = error_of(pkt_connect(s.fd(), as_sockaddr(&to), sizeof to));
    done = true;
  });
  // Other threads' calls go on meanwhile (each would wait for the handshake otherwise).
  EXPECT_TRUE(eventually([&] {
    sockaddr_in a{};
    return !s.local_address(&a) && a.sin_port != 0;  // the connect has bound its port
  }));
  pkt::Socket other = bound_udp();
  EXPECT_NE(port_of(other.fd()), 0);
  // A signal may come before the wait has begun; the one that meets it ends it.
  EXPECT_TRUE(eventually([&] {
    if (!done) pthread_kill(connecting.native_handle(), SIGUSR1);
    return done.load();
  }));
  connecting.join();
  EXPECT_EQ(error, EINTR);
  // The connect goes on: a later one finds it under way (a non-blocking one: EALREADY).
  ASSERT_EQ(fcntl(s.fd(), F_SETFL, O_NONBLOCK), 0);
  sockaddr_in to = pkt::ipv4(kBlackHole, 80);
  EXPECT_EQ(error_of(pkt_connect(s.fd(), as_sockaddr(&to), sizeof to)), EALREADY);
}

TEST_F(Streams, SendTimeoutBoundsABlockingConnect) {
  black_hole();
  pkt::Socket s = tcp();
  ASSERT_FALSE(s.set_option(SOL_SOCKET, SO_SNDTIMEO, timeval{0, 100'000}));
  EXPECT_EQ(s.connect(pkt::ipv4(kBlackHole, 80)), std::errc::operation_in_progress);  // Linux's answer
  pollfd p{s.fd(), POLLOUT, 0};
  EXPECT_EQ(poll(&p, 1, 300), 0);  // the connect goes on: not writable until it is decided
}

TEST_F(Streams, OptionsReachTheConnection) {
  pkt::Socket client, server;
  connected_pair(&client, &server);
  EXPECT_FALSE(client.set_option(IPPROTO_TCP, TCP_NODELAY, 1));
  EXPECT_EQ(int_option(client.fd(), IPPROTO_TCP, TCP_NODELAY), 1);
  EXPECT_FALSE(client.set_option(SOL_SOCKET, SO_KEEPALIVE, 1));
  EXPECT_EQ(int_option(client.fd(), SOL_SOCKET, SO_KEEPALIVE), 1);
  EXPECT_FALSE(client.set_option(SOL_SOCKET, SO_SNDBUF, 65536));  // the pair's and pktd's
  EXPECT_EQ(int_option(client.fd(), SOL_SOCKET, SO_SNDBUF), 131072);
  char name[16] = "newreno";
  EXPECT_EQ(pkt_setsockopt(client.fd(), IPPROTO_TCP, TCP_CONGESTION, name, sizeof name), 0);
  char got[16] = {};
  socklen_t len = sizeof got;
  ASSERT_EQ(pkt_getsockopt(client.fd(), IPPROTO_TCP, TCP_CONGESTION, got, &len), 0);
  EXPECT_STREQ(got, "newreno");
  EXPECT_EQ(error_of(pkt_setsockopt(client.fd(), IPPROTO_TCP, TCP_CONGESTION, "bbr9", 4)), ENOENT);
  EXPECT_GT(int_option(client.fd(), IPPROTO_TCP, TCP_MAXSEG), 536);
  ASSERT_TRUE(send_all(client.fd(), "still flowing"));
  EXPECT_EQ(receive_all(server.fd(), 13), "still flowing");
}

// --- pktd gone ---

TEST_F(Libpkt, CallsFailWithNetworkDownWhenPktdIsGone) {
  pkt::Socket s = bound_udp();
  uint16_t port = port_of(s.fd());
  std::error_code ec;
  pkt::Socket l = pkt::Socket::open(AF_INET, SOCK_STREAM, 0, ec), stream = pkt::Socket::open(AF_INET, SOCK_STREAM, 0, ec);
  ASSERT_FALSE(l.bind(loopback(0)) || l.listen(1));
  ASSERT_FALSE(stream.connect(loopback(port_of(l.fd()))));
  timeval limit{kWaitMs / 1000, 0};
  ASSERT_FALSE(stream.set_option(SOL_SOCKET, SO_RCVTIMEO, limit));
  int status = g_pktd->stop(SIGTERM);  // the next test's SetUp starts a new one
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << describe_status(status) << "\n" << g_pktd->output();
  char buffer[8];
  // Each would block or succeed if the socket's end of file were missed; SO_RCVTIMEO bounds recv.
  EXPECT_EQ(error_of(pkt_recv(s.fd(), buffer, sizeof buffer, 0)), ENETDOWN);
  // A stream too: its end of file is not the peer's FIN.
  EXPECT_EQ(error_of(pkt_recv(stream.fd(), buffer, sizeof buffer, 0)), ENETDOWN);
  EXPECT_EQ(error_of(pkt_send(stream.fd(), "x", 1, MSG_NOSIGNAL)), ENETDOWN);
  EXPECT_EQ(error_of(send_to(s.fd(), "x", port)), ENETDOWN);
  EXPECT_EQ(error_of(pkt_socket(AF_INET, SOCK_DGRAM, 0)), ENETDOWN);
}


// A socket belongs to the pktd that made it: a new pktd at the same path does not know it, and
// calls on it still say the network is down (not that the descriptor is no socket).
TEST_F(Libpkt, SocketOfAStoppedPktdStaysDownUnderItsSuccessor) {
  pkt::Socket old = bound_udp();
  g_pktd->stop(SIGTERM);
  std::string why;
  ASSERT_TRUE(g_pktd->start(&why)) << why;
  sockaddr_in a{};
  EXPECT_EQ(old.local_address(&a), std::errc::network_down);
  EXPECT_EQ(old.bind(loopback(0)), std::errc::network_down);
  EXPECT_EQ(old.set_option(SOL_SOCKET, SO_REUSEADDR, 1), std::errc::network_down);
  EXPECT_EQ(error_of(send_to(old.fd(), "x", kClosedPort)), ENETDOWN);
  pkt::Socket fresh = bound_udp();  // the successor serves new sockets
  EXPECT_NE(port_of(fresh.fd()), 0);
}

}  // namespace
