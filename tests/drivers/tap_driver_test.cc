// devnp-tap.so against real Linux TAP devices, driven through a fake pktd_host.
//
// The driver is dlopen()ed exactly as pktd loads it; the fake host below records what the
// driver asks of pktd (interfaces, interrupt sources, callouts, frames, counters) and lets the
// test play the runtime: it calls the recorded process callbacks and fires callouts by hand.
// The Linux side is driven directly: ioctls for up/down and MTU, a packet socket for frames,
// rtnetlink to delete a device. Needs root (CAP_NET_ADMIN) and /dev/net/tun, else skipped.
//
// Every test uses its own device names (pid + counter), so runs can overlap; a guard removes
// whatever device a failing test leaves behind.
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/if_packet.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <vector>

#include "base/thread_identity.h"
#include "buf/mbuf.h"
#include "pktd/driver.h"
#include "tests/support/wait.h"

// --- a seam in write() and writev() ---
// The kernel practically never refuses a TAP write for now (the tun socket's send buffer is
// unlimited), so to exercise the driver's retry path the test makes writes on one fd fail with
// EAGAIN. The driver's calls bind to these definitions because the executable exports them
// (ENABLE_EXPORTS in CMakeLists.txt); every other fd goes straight to the system call.
namespace {
std::atomic<int> g_refuse_fd{-1};
std::atomic<int> g_refusals_left{0};

bool refuse(int fd) {
  if (fd < 0 || fd != g_refuse_fd.load() || g_refusals_left.load() <= 0) return false;
  g_refusals_left.fetch_sub(1);
  errno = EAGAIN;
  return true;
}
}  // namespace

extern "C" ssize_t write(int fd, const void* buf, size_t len) {
  if (refuse(fd)) return -1;
  return syscall(SYS_write, fd, buf, len);
}

extern "C" ssize_t writev(int fd, const struct iovec* iov, int count) {
  if (refuse(fd)) return -1;
  return syscall(SYS_writev, fd, iov, count);
}

namespace {

using namespace std::chrono_literals;
using pktd::buf::Mbuf;

constexpr uint16_t kEtherType = 0x88b5;  // IEEE local experimental: nothing else sends it

Mbuf* mbuf_of(pktd_mbuf* m) { return reinterpret_cast<Mbuf*>(m); }
const Mbuf* mbuf_of(const pktd_mbuf* m) { return reinterpret_cast<const Mbuf*>(m); }
pktd_mbuf* c_mbuf(Mbuf* m) { return reinterpret_cast<pktd_mbuf*>(m); }

// ---------------------------------------------------------------------------------------------
// The fake pktd: one interface, everything recorded.

struct FakeIrq {
  std::string name;
  int fd = -1;
  pktd_process (*process)(void*) = nullptr;
  void (*enable)(void*) = nullptr;
  void* arg = nullptr;
  int detaches = 0;
};

struct FakeCallout {
  bool initialized = false;
  bool pending = false;
  uint32_t ms = 0;
  void (*fn)(void*) = nullptr;
  void* arg = nullptr;
};

struct FakeHost {
  static FakeHost* current;  // the C callbacks find the test's host here

  // if_attach
  std::string next_ifname = "tap0";  // what pktd would have named the interface
  bool refuse_if_attach = false;
  int if_attach_calls = 0;
  int destroys = 0;         // interfaces destroyed (by "pktd" or the driver)
  int driver_destroys = 0;  // if_destroy calls made by the driver
  bool attached = false;
  pktd_if_config cfg{};
  std::string cfg_name;
  std::string ifname;
  // state the driver writes
  uint32_t admin_flags = PKTD_IFF_UP;
  uint32_t driver_flags = 0;
  pktd_link_state link = PKTD_LINK_UNKNOWN;
  std::vector<pktd_link_state> link_changes;
  std::array<uint64_t, 6> counters{};
  // send queue and transmit lock
  std::deque<pktd_mbuf*> sndq;
  std::mutex tx_mutex;
  bool tx_held = false;
  // receive
  std::vector<std::string> input;
  int fail_allocs = 0;
  // interrupts and callouts
  int refuse_irq_attach_at = -1;  // index of the irq_attach call to refuse
  int irq_attach_calls = 0;
  std::vector<std::unique_ptr<FakeIrq>> irqs;
  std::map<pktd_callout*, FakeCallout> callouts;
  std::vector<std::string> logs;

  pktd_ifnet* ifp() { return reinterpret_cast<pktd_ifnet*>(this); }
  uint64_t counter(pktd_if_counter c) const { return counters.at(static_cast<size_t>(c)); }

  // pktd's side of ifconfig destroy: stop(1), then detach.
  void destroy() {
    ++destroys;
    if (!attached) return;
    attached = false;
    cfg.ops->stop(ifp(), cfg.softc, 1);
    cfg.ops->detach(ifp(), cfg.softc);
  }

  void purge() {
    for (pktd_mbuf* m : sndq) pktd::buf::Pool::instance().free_chain(mbuf_of(m));
    sndq.clear();
  }
};

FakeHost* FakeHost::current = nullptr;
FakeHost& H() { return *FakeHost::current; }

// Interfaces.
pktd_ifnet* fake_if_attach(pktd_driver*, const pktd_if_config* cfg) {
  FakeHost& h = H();
  ++h.if_attach_calls;
  if (h.refuse_if_attach || h.attached) return nullptr;
  h.cfg = *cfg;
  h.cfg_name = cfg->name;
  h.cfg.name = h.cfg_name.c_str();
  h.ifname = h.next_ifname;
  h.attached = true;
  return h.ifp();
}
void fake_if_destroy(pktd_ifnet*) {
  ++H().driver_destroys;
  H().destroy();
}
const char* fake_if_name(pktd_ifnet*) { return H().ifname.c_str(); }
void fake_if_mac(pktd_ifnet*, uint8_t mac[6]) { std::memset(mac, 0, 6); }
uint32_t fake_if_mtu(pktd_ifnet*) { return H().cfg.mtu; }
uint32_t fake_if_flags(pktd_ifnet*) { return H().admin_flags | H().driver_flags; }
void fake_if_set_flags(pktd_ifnet*, uint32_t set, uint32_t clear) {
  H().driver_flags |= set & PKTD_IFF_DRIVER_FLAGS;
  H().driver_flags &= ~(clear & PKTD_IFF_DRIVER_FLAGS);
}
void fake_if_input(pktd_ifnet*, pktd_mbuf* m) {
  H().input.push_back(pktd::buf::to_string(*mbuf_of(m)));
  pktd::buf::Pool::instance().free_chain(mbuf_of(m));
}
void fake_if_link_state_change(pktd_ifnet*, pktd_link_state s) {
  H().link = s;
  H().link_changes.push_back(s);
}
pktd_link_state fake_if_link_state(pktd_ifnet*) { return H().link; }
void fake_if_count(pktd_ifnet*, pktd_if_counter c, uint64_t n) {
  H().counters.at(static_cast<size_t>(c)) += n;
}

// Send queue and transmit lock.
void fake_if_tx_lock(pktd_ifnet*) {
  H().tx_mutex.lock();
  H().tx_held = true;
}
void fake_if_tx_unlock(pktd_ifnet*) {
  H().tx_held = false;
  H().tx_mutex.unlock();
}
pktd_mbuf* fake_if_dequeue(pktd_ifnet*) {
  if (H().sndq.empty()) return nullptr;
  pktd_mbuf* m = H().sndq.front();
  H().sndq.pop_front();
  return m;
}
void fake_if_prepend(pktd_ifnet*, pktd_mbuf* m) { H().sndq.push_front(m); }
int fake_if_queue_empty(pktd_ifnet*) { return H().sndq.empty() ? 1 : 0; }
void fake_if_purge(pktd_ifnet*) { H().purge(); }

// Interrupts: recorded, run by the test.
pktd_irq* fake_irq_attach(pktd_driver*, const char* name, int fd, pktd_process (*process)(void*),
                          void (*enable)(void*), void* arg) {
  if (H().irq_attach_calls++ == H().refuse_irq_attach_at) return nullptr;
  auto irq = std::make_unique<FakeIrq>();
  irq->name = name;
  irq->fd = fd;
  irq->process = process;
  irq->enable = enable;
  irq->arg = arg;
  H().irqs.push_back(std::move(irq));
  return reinterpret_cast<pktd_irq*>(H().irqs.back().get());
}
void fake_irq_detach(pktd_irq* irq) { ++reinterpret_cast<FakeIrq*>(irq)->detaches; }
pktd_irq_event* fake_interrupt_queue(pktd_irq*) { return nullptr; }
void fake_irq_send(pktd_irq_event*) {}

// Callouts: recorded, fired by the test.
void fake_callout_init(pktd_callout* c) { H().callouts[c] = FakeCallout{.initialized = true}; }
void fake_callout_msec(pktd_callout* c, uint32_t ms, void (*fn)(void*), void* arg) {
  FakeCallout& co = H().callouts[c];
  EXPECT_TRUE(co.initialized) << "callout_msec on a callout never initialised";
  co.pending = true;
  co.ms = ms;
  co.fn = fn;
  co.arg = arg;
}
int fake_callout_stop(pktd_callout* c) {
  FakeCallout& co = H().callouts[c];
  bool was = co.pending;
  co.pending = false;
  return was ? 1 : 0;
}
int fake_callout_pending(const pktd_callout* c) {
  auto it = H().callouts.find(const_cast<pktd_callout*>(c));
  return it != H().callouts.end() && it->second.pending ? 1 : 0;
}

// Stack context and threads: the tap driver needs none of it.
int fake_blockop(void (*)(void*), void*) { return ENOTSUP; }
int fake_tsleep(const void*, uint32_t) { return ENOTSUP; }
int fake_wakeup(const void*) { return 0; }
int fake_in_stack_context() { return 1; }
int fake_thread_create(pktd_thread**, const char*, void (*)(void*), void*, void (*)(void*, int),
                       void*) {
  return ENOTSUP;
}
int fake_thread_reap(pktd_thread*) { return ENOTSUP; }
int fake_quiesce_all() { return 0; }
int fake_unquiesce_all() { return 0; }
void fake_quiesce_block(int) {}

// Mbufs: pktd's own pool.
pktd_mbuf* fake_m_getpacket(size_t len, pktd_wait) {
  if (H().fail_allocs > 0) {
    --H().fail_allocs;
    return nullptr;
  }
  auto m = pktd::buf::get_packet(pktd::buf::Wait::nowait, len);
  if (!m) return nullptr;
  // The SDK's m_getpacket returns the room already counted as data (length len).
  std::vector<std::byte> room(len);
  if (!pktd::buf::append(*m, room)) return nullptr;
  return c_mbuf(m.release());
}
pktd_mbuf* fake_m_devget(const void* data, size_t len, pktd_wait) {
  auto bytes = std::span(static_cast<const std::byte*>(data), len);
  return c_mbuf(pktd::buf::packet_from(bytes).release());
}
void fake_m_freem(pktd_mbuf* m) { pktd::buf::Pool::instance().free_chain(mbuf_of(m)); }
size_t fake_m_pktlen(const pktd_mbuf* m) { return pktd::buf::chain_length(mbuf_of(m)); }
pktd_mbuf* fake_m_next(const pktd_mbuf* m) { return c_mbuf(mbuf_of(m)->next); }
uint8_t* fake_m_data(pktd_mbuf* m) { return reinterpret_cast<uint8_t*>(mbuf_of(m)->data); }
size_t fake_m_len(const pktd_mbuf* m) { return mbuf_of(m)->len; }
int fake_m_copydata(const pktd_mbuf* m, size_t off, size_t len, void* out) {
  return pktd::buf::copy_data(*mbuf_of(m), off, std::span(static_cast<std::byte*>(out), len))
             ? 0
             : EINVAL;
}
void fake_m_trim(pktd_mbuf* m, size_t len) {
  size_t have = pktd::buf::chain_length(mbuf_of(m));
  ASSERT_LE(len, have);
  pktd::buf::adjust(*mbuf_of(m), -static_cast<long>(have - len));
}

__attribute__((format(printf, 2, 3))) void fake_log(pktd_log_level level, const char* fmt, ...) {
  char text[1024];
  va_list ap;
  va_start(ap, fmt);
  std::vsnprintf(text, sizeof(text), fmt, ap);
  va_end(ap);
  std::fprintf(stderr, "[driver log %d] %s\n", static_cast<int>(level), text);
  H().logs.emplace_back(text);
}

pktd_host make_host_table() {
  pktd_host t{};
  t.abi_version = PKTD_DRIVER_ABI_VERSION;
  t.size = sizeof(pktd_host);
  t.if_attach = fake_if_attach;
  t.if_destroy = fake_if_destroy;
  t.if_name = fake_if_name;
  t.if_mac = fake_if_mac;
  t.if_mtu = fake_if_mtu;
  t.if_flags = fake_if_flags;
  t.if_set_flags = fake_if_set_flags;
  t.if_input = fake_if_input;
  t.if_link_state_change = fake_if_link_state_change;
  t.if_link_state = fake_if_link_state;
  t.if_count = fake_if_count;
  t.if_tx_lock = fake_if_tx_lock;
  t.if_tx_unlock = fake_if_tx_unlock;
  t.if_dequeue = fake_if_dequeue;
  t.if_prepend = fake_if_prepend;
  t.if_queue_empty = fake_if_queue_empty;
  t.if_purge = fake_if_purge;
  t.irq_attach = fake_irq_attach;
  t.irq_detach = fake_irq_detach;
  t.interrupt_queue = fake_interrupt_queue;
  t.irq_send = fake_irq_send;
  t.callout_init = fake_callout_init;
  t.callout_msec = fake_callout_msec;
  t.callout_stop = fake_callout_stop;
  t.callout_pending = fake_callout_pending;
  t.blockop = fake_blockop;
  t.tsleep = fake_tsleep;
  t.wakeup = fake_wakeup;
  t.in_stack_context = fake_in_stack_context;
  t.thread_create = fake_thread_create;
  t.thread_reap = fake_thread_reap;
  t.quiesce_all = fake_quiesce_all;
  t.unquiesce_all = fake_unquiesce_all;
  t.quiesce_block = fake_quiesce_block;
  t.m_getpacket = fake_m_getpacket;
  t.m_devget = fake_m_devget;
  t.m_freem = fake_m_freem;
  t.m_pktlen = fake_m_pktlen;
  t.m_next = fake_m_next;
  t.m_data = fake_m_data;
  t.m_len = fake_m_len;
  t.m_copydata = fake_m_copydata;
  t.m_trim = fake_m_trim;
  t.log = fake_log;
  return t;
}

// ---------------------------------------------------------------------------------------------
// The Linux side.

std::string unique_name() {
  static unsigned counter = 0;
  // "ptap" + pid (7 digits at most) + "_" + 3 digits: within IFNAMSIZ - 1.
  return "ptap" + std::to_string(getpid()) + "_" + std::to_string(counter++ % 1000);
}

bool device_exists(const std::string& name) {
  struct stat st {};
  return ::stat(("/sys/class/net/" + name).c_str(), &st) == 0;
}

int ifreq_ioctl(unsigned long request, ifreq& ifr) {
  int sock = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (sock < 0) return errno;
  int err = ::ioctl(sock, request, &ifr) < 0 ? errno : 0;
  ::close(sock);
  return err;
}

ifreq ifreq_for(const std::string& name) {
  ifreq ifr{};
  std::snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", name.c_str());
  return ifr;
}

int set_linux_up(const std::string& name, bool up) {
  ifreq ifr = ifreq_for(name);
  if (int err = ifreq_ioctl(SIOCGIFFLAGS, ifr); err != 0) return err;
  int flags = up ? (ifr.ifr_flags | IFF_UP) : (ifr.ifr_flags & ~IFF_UP);
  ifr.ifr_flags = static_cast<short>(flags);
  return ifreq_ioctl(SIOCSIFFLAGS, ifr);
}

int set_linux_mtu(const std::string& name, int mtu) {
  ifreq ifr = ifreq_for(name);
  ifr.ifr_mtu = mtu;
  return ifreq_ioctl(SIOCSIFMTU, ifr);
}

// IPv6 on the Linux side would send router solicitations and MLD reports into the test.
void quiet_ipv6(const std::string& name) {
  int fd = ::open(("/proc/sys/net/ipv6/conf/" + name + "/disable_ipv6").c_str(),
                  O_WRONLY | O_CLOEXEC);
  if (fd < 0) return;
  EXPECT_EQ(::write(fd, "1", 1), 1);
  ::close(fd);
}

// A persistent TAP as `ip tuntap add` makes it.
int create_persistent_tap(const std::string& name) {
  int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
  if (fd < 0) return errno;
  ifreq ifr = ifreq_for(name);
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  int err = 0;
  if (::ioctl(fd, TUNSETIFF, &ifr) < 0 || ::ioctl(fd, TUNSETPERSIST, 1UL) < 0) err = errno;
  ::close(fd);
  return err;
}

// RTM_DELLINK, as `ip link del NAME`.
int delete_link(const std::string& name) {
  unsigned index = ::if_nametoindex(name.c_str());
  if (index == 0) return errno;
  int sock = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
  if (sock < 0) return errno;
  struct {
    nlmsghdr hdr;
    ifinfomsg ifi;
  } req{};
  req.hdr.nlmsg_len = sizeof(req);
  req.hdr.nlmsg_type = RTM_DELLINK;
  req.hdr.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = static_cast<int>(index);
  int err = 0;
  if (::send(sock, &req, sizeof(req), 0) < 0) err = errno;
  std::array<char, 4096> reply{};
  if (err == 0) {
    ssize_t n = ::recv(sock, reply.data(), reply.size(), 0);
    if (n >= static_cast<ssize_t>(sizeof(nlmsghdr) + sizeof(nlmsgerr))) {
      nlmsgerr ack{};
      std::memcpy(&ack, reply.data() + NLMSG_HDRLEN, sizeof(ack));
      err = -ack.error;
    }
  }
  ::close(sock);
  return err;
}

// Removes what a test leaves behind, whatever happened to it: a persistent device is made
// non-persistent through its own /dev/net/tun (the last close then deletes it).
class DeviceGuard {
 public:
  explicit DeviceGuard(std::string name) : name_(std::move(name)) {}
  DeviceGuard(const DeviceGuard&) = delete;
  DeviceGuard& operator=(const DeviceGuard&) = delete;
  ~DeviceGuard() {
    if (!device_exists(name_)) return;
    int fd = ::open("/dev/net/tun", O_RDWR | O_CLOEXEC);
    ifreq ifr = ifreq_for(name_);
    ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (fd >= 0 && ::ioctl(fd, TUNSETIFF, &ifr) == 0) ::ioctl(fd, TUNSETPERSIST, 0UL);
    if (fd >= 0) ::close(fd);
  }
  const std::string& name() const { return name_; }

 private:
  std::string name_;
};

// A packet socket on the Linux side that sees only kEtherType frames arriving there (frames
// it sends itself go to the TAP's queue, i.e. to pktd, and do not come back).
class LinuxSide {
 public:
  explicit LinuxSide(const std::string& name) {
    fd_ = ::socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(kEtherType));
    sockaddr_ll addr{};
    addr.sll_family = AF_PACKET;
    addr.sll_protocol = htons(kEtherType);
    addr.sll_ifindex = static_cast<int>(::if_nametoindex(name.c_str()));
    ok_ = fd_ >= 0 && addr.sll_ifindex > 0 &&
          ::bind(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) == 0;
  }
  LinuxSide(const LinuxSide&) = delete;
  LinuxSide& operator=(const LinuxSide&) = delete;
  ~LinuxSide() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool ok() const { return ok_; }

  bool send(const std::string& frame) {
    return ::send(fd_, frame.data(), frame.size(), 0) == static_cast<ssize_t>(frame.size());
  }
  // The next frame that arrives, or "" after the timeout.
  std::string receive(std::chrono::milliseconds timeout = 2s) {
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {};
    std::string frame(70000, '\0');
    ssize_t n = ::recv(fd_, frame.data(), frame.size(), MSG_DONTWAIT);
    frame.resize(n > 0 ? static_cast<size_t>(n) : 0);
    return frame;
  }

 private:
  int fd_ = -1;
  bool ok_ = false;
};

std::string make_frame(uint32_t seq, size_t len = 64) {
  std::string f(len, '\0');
  std::fill_n(f.begin(), 6, '\xff');  // broadcast: every Linux socket takes it
  const char src[6] = {0x02, 0x00, 0x00, 0x00, 0x00, 0x01};
  std::copy_n(src, 6, f.begin() + 6);
  f[12] = static_cast<char>(kEtherType >> 8);
  f[13] = static_cast<char>(kEtherType & 0xff);
  std::memcpy(f.data() + 14, &seq, sizeof(seq));
  for (size_t i = 18; i < len; ++i) f[i] = static_cast<char>(i * 7 + seq);
  return f;
}

bool is_ours(const std::string& frame) {
  return frame.size() >= 14 && static_cast<uint8_t>(frame[12]) == (kEtherType >> 8) &&
         static_cast<uint8_t>(frame[13]) == (kEtherType & 0xff);
}

bool readable(int fd, std::chrono::milliseconds timeout) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(timeout.count())) == 1;
}

bool fd_open(int fd) { return ::fcntl(fd, F_GETFD) != -1; }

// ---------------------------------------------------------------------------------------------
// The driver, loaded once per process.

const pktd_driver_info* load_driver(std::string* error) {
  static void* handle = ::dlopen(TAP_SO, RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    *error = ::dlerror();
    return nullptr;
  }
  auto entry = reinterpret_cast<pktd_driver_entry_fn>(::dlsym(handle, PKTD_DRIVER_ENTRY_SYMBOL));
  if (entry == nullptr) {
    *error = "no " PKTD_DRIVER_ENTRY_SYMBOL;
    return nullptr;
  }
  return entry();
}

class TapDriverTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::geteuid() != 0 || ::access("/dev/net/tun", R_OK | W_OK) != 0)
      GTEST_SKIP() << "needs root and /dev/net/tun";
    pktd::register_current_thread(pktd::ThreadKind::worker, "tap-test");
    std::string error;
    info_ = load_driver(&error);
    ASSERT_NE(info_, nullptr) << error;
    FakeHost::current = &host_;
  }

  void TearDown() override {
    if (host_.attached) host_.destroy();
    host_.purge();
    g_refuse_fd = -1;
    g_refusals_left = 0;
    FakeHost::current = nullptr;
  }

  // Attaches as pktd does: an interface that a failed attach leaves behind is destroyed
  // (daemon/drivers.cc), which is how the driver gets to free its softc then.
  int attach(const std::string& options) {
    int err = info_->attach(&table_, driver_token(), options.c_str());
    if (err != 0 && host_.attached) host_.destroy();
    return err;
  }
  // The test's device (dev=NAME) plus the given options.
  int attach_dev(const std::string& extra = "") {
    return attach("dev=" + dev_.name() + (extra.empty() ? "" : "," + extra));
  }
  // Attached, Linux side up and quiet, pktd side initialised.
  void attach_running(const std::string& extra = "") {
    ASSERT_EQ(attach_dev(extra), 0);
    quiet_ipv6(dev_.name());
    ASSERT_EQ(set_linux_up(dev_.name(), true), 0);
    ASSERT_EQ(host_.cfg.ops->init(host_.ifp(), host_.cfg.softc), 0);
  }

  FakeIrq& irq(const std::string& name) {
    for (auto& i : host_.irqs)
      if (i->name == name) return *i;
    ADD_FAILURE() << "no interrupt source " << name;
    static FakeIrq none;
    return none;
  }
  FakeIrq& rx_irq() { return irq("tap rx"); }
  FakeIrq& link_irq() { return irq("tap link"); }
  pktd_process run(FakeIrq& i) { return i.process(i.arg); }

  // The runtime's job: run the link source whenever its fd fires, until pred holds.
  bool pump_link_until(const std::function<bool()>& pred, std::chrono::milliseconds limit = 5s) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (!pred()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      if (readable(link_irq().fd, 50ms)) {
        while (run(link_irq()) == PKTD_PROCESS_AGAIN) {
        }
      }
    }
    return true;
  }

  // Frames of ours that reached if_input (the Linux side may add its own chatter).
  std::vector<std::string> received() const {
    std::vector<std::string> ours;
    std::copy_if(host_.input.begin(), host_.input.end(), std::back_inserter(ours), is_ours);
    return ours;
  }

  void enqueue(const std::string& frame) {
    auto m = pktd::buf::packet_from(std::as_bytes(std::span(frame.data(), frame.size())));
    ASSERT_TRUE(m);
    host_.sndq.push_back(c_mbuf(m.release()));
  }
  // What the stack does in if_output: lock, then start (which unlocks).
  void start() {
    fake_if_tx_lock(host_.ifp());
    host_.cfg.ops->start(host_.ifp(), host_.cfg.softc);
  }

  // The callout the driver has armed (its only one is the transmit kick).
  FakeCallout* pending_callout() {
    FakeCallout* found = nullptr;
    for (auto& [c, co] : host_.callouts) {
      if (!co.pending) continue;
      EXPECT_EQ(found, nullptr) << "more than one callout armed";
      found = &co;
    }
    return found;
  }
  void fire(FakeCallout& co) {
    ASSERT_TRUE(co.pending);
    co.pending = false;
    co.fn(co.arg);
  }

  static pktd_driver* driver_token() {
    static int token;
    return reinterpret_cast<pktd_driver*>(&token);
  }

  const pktd_driver_info* info_ = nullptr;
  FakeHost host_;
  pktd_host table_ = make_host_table();
  DeviceGuard dev_{unique_name()};  // destroyed after TearDown: the driver lets go first
};

// ---------------------------------------------------------------------------------------------

TEST_F(TapDriverTest, EntryPointDescribesTheDriver) {
  EXPECT_EQ(info_->abi_version, PKTD_DRIVER_ABI_VERSION);
  EXPECT_STREQ(info_->name, "tap");
  EXPECT_EQ(info_->flags & PKTD_DRIVER_STAY_RESIDENT, 0u);
  EXPECT_NE(info_->attach, nullptr);
}

TEST_F(TapDriverTest, AttachCreatesTheDeviceAndOneInterface) {
  ASSERT_FALSE(device_exists(dev_.name()));
  ASSERT_EQ(attach_dev(), 0);
  EXPECT_TRUE(device_exists(dev_.name()));
  EXPECT_EQ(host_.if_attach_calls, 1);
  EXPECT_EQ(host_.cfg_name, "tap");
  EXPECT_EQ(host_.cfg.unit, -1);
  EXPECT_EQ(host_.cfg.mtu, 1500u);
  EXPECT_EQ(host_.cfg.flags, PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST);
  EXPECT_EQ(host_.cfg.capabilities, 0u);
  EXPECT_EQ(std::count(std::begin(host_.cfg.mac), std::end(host_.cfg.mac), 0), 6);
  ASSERT_NE(host_.cfg.ops, nullptr);
  EXPECT_NE(host_.cfg.ops->start, nullptr);
  EXPECT_NE(host_.cfg.ops->detach, nullptr);
  ASSERT_EQ(host_.irqs.size(), 2u);
  EXPECT_TRUE(fd_open(rx_irq().fd));
  EXPECT_TRUE(fd_open(link_irq().fd));
  // A new Linux device is down, so the link starts down.
  EXPECT_EQ(host_.link_changes, std::vector{PKTD_LINK_DOWN});
}

TEST_F(TapDriverTest, DeviceIsNamedAfterTheInterfaceByDefault) {
  host_.next_ifname = dev_.name();  // as if the user had given name= and unit=
  ASSERT_EQ(attach(""), 0);
  EXPECT_TRUE(device_exists(dev_.name()));
}

TEST_F(TapDriverTest, ThePatternInADeviceNameIsTheKernels) {
  const std::string prefix = "ptap" + std::to_string(getpid()) + "x";
  DeviceGuard expanded(prefix + "0");
  ASSERT_EQ(attach("dev=" + prefix + "%d"), 0);
  EXPECT_TRUE(device_exists(expanded.name()));
  ASSERT_FALSE(host_.logs.empty());
  EXPECT_NE(host_.logs.back().find("Linux device " + expanded.name()), std::string::npos);
  host_.destroy();
  EXPECT_FALSE(device_exists(expanded.name()));
}

TEST_F(TapDriverTest, BadOptionsAreRefusedWithNothingLeft) {
  const std::string name = dev_.name();
  const std::vector<std::string> bad_options = {
      "dev=" + name + ",bogus=1", "rxbatch=0,dev=" + name,     "rxbatch=12x,dev=" + name,
      "rxbatch=99999,dev=" + name, "persist=yes,dev=" + name, "dev=",
      "dev=abcdefghijklmnop"};
  for (const std::string& bad : bad_options) {
    SCOPED_TRACE(bad);
    host_.logs.clear();
    EXPECT_EQ(attach(bad), EINVAL);
    EXPECT_EQ(host_.logs.size(), 1u);
  }
  host_.logs.clear();
  ASSERT_EQ(attach("dev=" + name + ",bogus=1"), EINVAL);
  ASSERT_EQ(host_.logs.size(), 1u);
  EXPECT_NE(host_.logs[0].find("bogus"), std::string::npos) << host_.logs[0];
  EXPECT_EQ(host_.if_attach_calls, 0);
  EXPECT_TRUE(host_.irqs.empty());
  EXPECT_FALSE(device_exists(name));
}

TEST_F(TapDriverTest, FailureToOpenTheDeviceLeavesTheInterfaceToPktd) {
  // lo exists and is no TAP: TUNSETIFF refuses it after the interface was made.
  EXPECT_EQ(attach("dev=lo"), EINVAL);
  EXPECT_EQ(host_.if_attach_calls, 1);
  // Not the driver's to destroy (that would unload it mid-attach); pktd's destroy freed it.
  EXPECT_EQ(host_.driver_destroys, 0);
  EXPECT_EQ(host_.destroys, 1);
  EXPECT_TRUE(host_.irqs.empty());
  EXPECT_TRUE(device_exists("lo"));
}

TEST_F(TapDriverTest, FailureAfterTheDeviceOpenedLeavesNothing) {
  host_.refuse_irq_attach_at = 1;  // the link source
  EXPECT_EQ(attach_dev(), EIO);
  EXPECT_EQ(host_.driver_destroys, 0);
  EXPECT_EQ(host_.destroys, 1);
  ASSERT_EQ(host_.irqs.size(), 1u);
  EXPECT_EQ(rx_irq().detaches, 1);
  EXPECT_FALSE(fd_open(rx_irq().fd));
  EXPECT_FALSE(device_exists(dev_.name()));
}

TEST_F(TapDriverTest, RefusedInterfaceLeavesNoDevice) {
  host_.refuse_if_attach = true;
  EXPECT_NE(attach_dev(), 0);
  EXPECT_FALSE(device_exists(dev_.name()));
}

TEST_F(TapDriverTest, TransmitWritesFramesToTheLinuxSide) {
  attach_running();
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  const std::string a = make_frame(1, 60), b = make_frame(2, 1514);
  enqueue(a);
  enqueue(b);
  start();
  EXPECT_FALSE(host_.tx_held) << "start must release the transmit lock";
  EXPECT_EQ(host_.driver_flags & PKTD_IFF_OACTIVE, 0u);
  EXPECT_TRUE(host_.sndq.empty());
  EXPECT_EQ(host_.counter(PKTD_IFC_OPACKETS), 2u);
  EXPECT_EQ(host_.counter(PKTD_IFC_OBYTES), a.size() + b.size());
  EXPECT_EQ(host_.counter(PKTD_IFC_OERRORS), 0u);
  EXPECT_EQ(linux_side.receive(), a);
  EXPECT_EQ(linux_side.receive(), b);
}

TEST_F(TapDriverTest, AFrameLongerThanAnyTheDeviceTakesIsCountedAndDropped) {
  attach_running();
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  const std::string huge = make_frame(1, 70000), fine = make_frame(2, 100);
  enqueue(huge);
  enqueue(fine);
  start();
  EXPECT_TRUE(host_.sndq.empty());
  EXPECT_EQ(host_.counter(PKTD_IFC_OERRORS), 1u);
  EXPECT_EQ(host_.counter(PKTD_IFC_OPACKETS), 1u);
  EXPECT_EQ(linux_side.receive(), fine) << "the frame after it still goes";
}

TEST_F(TapDriverTest, TransmitRetriesFromACalloutWhenTheKernelRefuses) {
  attach_running();
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  const std::string a = make_frame(1), b = make_frame(2);
  enqueue(a);
  enqueue(b);
  g_refuse_fd = rx_irq().fd;  // the TAP fd: the same one serves both directions
  g_refusals_left = 1;
  start();
  EXPECT_FALSE(host_.tx_held);
  EXPECT_NE(host_.driver_flags & PKTD_IFF_OACTIVE, 0u) << "OACTIVE stays while frames wait";
  EXPECT_EQ(host_.sndq.size(), 2u) << "the refused frame goes back to the front";
  FakeCallout* kick = pending_callout();
  ASSERT_NE(kick, nullptr) << "no retry armed";
  EXPECT_GE(kick->ms, 1u);
  EXPECT_LE(kick->ms, 2u);
  fire(*kick);  // takes the lock itself and calls start
  EXPECT_FALSE(host_.tx_held);
  EXPECT_EQ(host_.driver_flags & PKTD_IFF_OACTIVE, 0u);
  EXPECT_TRUE(host_.sndq.empty());
  EXPECT_EQ(host_.counter(PKTD_IFC_OPACKETS), 2u);
  EXPECT_EQ(linux_side.receive(), a);
  EXPECT_EQ(linux_side.receive(), b);
}

TEST_F(TapDriverTest, TransmitWhileTheLinuxSideIsDownCountsErrors) {
  ASSERT_EQ(attach_dev(), 0);
  ASSERT_EQ(host_.cfg.ops->init(host_.ifp(), host_.cfg.softc), 0);
  enqueue(make_frame(1));
  start();
  EXPECT_FALSE(host_.tx_held);
  EXPECT_TRUE(host_.sndq.empty());
  EXPECT_EQ(host_.driver_flags & PKTD_IFF_OACTIVE, 0u);
  EXPECT_EQ(host_.counter(PKTD_IFC_OERRORS), 1u);
  EXPECT_EQ(host_.counter(PKTD_IFC_OPACKETS), 0u);
}

TEST_F(TapDriverTest, StartBeforeInitLeavesTheQueue) {
  ASSERT_EQ(attach_dev(), 0);
  enqueue(make_frame(1));
  start();
  EXPECT_FALSE(host_.tx_held);
  EXPECT_EQ(host_.sndq.size(), 1u);
  EXPECT_EQ(host_.driver_flags, 0u);
}

TEST_F(TapDriverTest, InitIsIdempotentAndStopClearsTheDriverFlags) {
  ASSERT_EQ(attach_dev(), 0);
  EXPECT_EQ(host_.cfg.ops->init(host_.ifp(), host_.cfg.softc), 0);
  EXPECT_EQ(host_.cfg.ops->init(host_.ifp(), host_.cfg.softc), 0);
  EXPECT_EQ(host_.driver_flags, PKTD_IFF_RUNNING);
  host_.driver_flags |= PKTD_IFF_OACTIVE;
  host_.cfg.ops->stop(host_.ifp(), host_.cfg.softc, 0);
  EXPECT_EQ(host_.driver_flags, 0u);
  EXPECT_FALSE(host_.tx_held);
  for (auto& [c, co] : host_.callouts) EXPECT_FALSE(co.pending);
}

TEST_F(TapDriverTest, ReceiveDeliversFramesFromTheLinuxSide) {
  attach_running();
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  const std::string a = make_frame(7, 60), b = make_frame(8, 1514);
  ASSERT_TRUE(linux_side.send(a));
  ASSERT_TRUE(linux_side.send(b));
  ASSERT_TRUE(readable(rx_irq().fd, 2s));
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  EXPECT_EQ(received(), (std::vector{a, b}));
}

TEST_F(TapDriverTest, ReceiveReadsAtMostOneBatchPerCall) {
  attach_running("rxbatch=64");
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  for (uint32_t i = 0; i < 100; ++i) ASSERT_TRUE(linux_side.send(make_frame(i)));
  ASSERT_TRUE(readable(rx_irq().fd, 2s));
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_AGAIN);
  EXPECT_EQ(host_.input.size(), 64u);
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  auto got = received();
  ASSERT_EQ(got.size(), 100u);
  for (uint32_t i = 0; i < 100; ++i) EXPECT_EQ(got[i], make_frame(i));
}

TEST_F(TapDriverTest, ReceiveWithoutBuffersDropsAndDrains) {
  attach_running();
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  for (uint32_t i = 0; i < 3; ++i) ASSERT_TRUE(linux_side.send(make_frame(i)));
  ASSERT_TRUE(readable(rx_irq().fd, 2s));
  host_.fail_allocs = 3;
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  EXPECT_EQ(host_.counter(PKTD_IFC_IQDROPS), 3u);
  EXPECT_TRUE(received().empty());
  EXPECT_FALSE(readable(rx_irq().fd, 0ms)) << "dropped frames must still be read";
  // Buffers are back: the next frame comes through.
  const std::string next = make_frame(9);
  ASSERT_TRUE(linux_side.send(next));
  ASSERT_TRUE(readable(rx_irq().fd, 2s));
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  EXPECT_EQ(received(), std::vector{next});
}

TEST_F(TapDriverTest, ReceiveFollowsTheLinuxMtu) {
  attach_running();
  ASSERT_EQ(set_linux_mtu(dev_.name(), 9000), 0);
  ASSERT_TRUE(pump_link_until([&] { return !readable(link_irq().fd, 200ms); }));
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  const std::string jumbo = make_frame(3, 9014);
  ASSERT_TRUE(linux_side.send(jumbo));
  ASSERT_TRUE(readable(rx_irq().fd, 2s));
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  EXPECT_EQ(received(), std::vector{jumbo});
  EXPECT_EQ(host_.counter(PKTD_IFC_IERRORS), 0u);
}

TEST_F(TapDriverTest, AFrameLongerThanExpectedIsAnErrorNotCutShort) {
  attach_running();
  // The link source has not heard of the new MTU yet, so buffers are still sized for 1500.
  ASSERT_EQ(set_linux_mtu(dev_.name(), 9000), 0);
  LinuxSide linux_side(dev_.name());
  ASSERT_TRUE(linux_side.ok());
  ASSERT_TRUE(linux_side.send(make_frame(1, 3000)));
  ASSERT_TRUE(linux_side.send(make_frame(2, 1518)));  // the largest that fits: delivered whole
  ASSERT_TRUE(readable(rx_irq().fd, 2s));
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  EXPECT_EQ(host_.counter(PKTD_IFC_IERRORS), 1u);
  EXPECT_EQ(received(), std::vector{make_frame(2, 1518)});
}

TEST_F(TapDriverTest, LinkStateFollowsTheLinuxAdminState) {
  ASSERT_EQ(attach_dev(), 0);
  ASSERT_EQ(host_.link_changes, std::vector{PKTD_LINK_DOWN});
  ASSERT_EQ(set_linux_up(dev_.name(), true), 0);
  EXPECT_TRUE(pump_link_until([&] { return host_.link == PKTD_LINK_UP; }));
  ASSERT_EQ(set_linux_up(dev_.name(), false), 0);
  EXPECT_TRUE(pump_link_until([&] { return host_.link == PKTD_LINK_DOWN; }));
  ASSERT_EQ(set_linux_up(dev_.name(), true), 0);
  EXPECT_TRUE(pump_link_until([&] { return host_.link == PKTD_LINK_UP; }));
  EXPECT_EQ(host_.link_changes,
            (std::vector{PKTD_LINK_DOWN, PKTD_LINK_UP, PKTD_LINK_DOWN, PKTD_LINK_UP}));
}

TEST_F(TapDriverTest, AttachSeesALinuxSideThatIsAlreadyUp) {
  ASSERT_EQ(create_persistent_tap(dev_.name()), 0);
  ASSERT_EQ(set_linux_up(dev_.name(), true), 0);
  ASSERT_EQ(attach_dev(), 0);
  EXPECT_EQ(host_.link_changes, std::vector{PKTD_LINK_UP});
  // Linux announces the carrier our fd turned on, and marks the device running a moment later:
  // neither may make the link flap.
  pump_link_until([] { return false; }, 300ms);
  EXPECT_EQ(host_.link_changes, std::vector{PKTD_LINK_UP});
}

TEST_F(TapDriverTest, DetachRemovesTheDeviceAndReleasesEverything) {
  attach_running();
  int tap_fd = rx_irq().fd, link_fd = link_irq().fd;
  enqueue(make_frame(1));
  start();
  host_.destroy();
  EXPECT_TRUE(pktd::test::eventually([&] { return !device_exists(dev_.name()); }));
  EXPECT_EQ(rx_irq().detaches, 1);
  EXPECT_EQ(link_irq().detaches, 1);
  EXPECT_FALSE(fd_open(tap_fd));
  EXPECT_FALSE(fd_open(link_fd));
  for (auto& [c, co] : host_.callouts) EXPECT_FALSE(co.pending);
}

TEST_F(TapDriverTest, PersistKeepsACreatedDevice) {
  ASSERT_EQ(attach_dev("persist"), 0);
  host_.destroy();
  EXPECT_TRUE(device_exists(dev_.name()));  // the guard removes it
}

TEST_F(TapDriverTest, AnExistingDeviceIsUsedAndLeftInPlace) {
  ASSERT_EQ(create_persistent_tap(dev_.name()), 0);
  ASSERT_EQ(set_linux_mtu(dev_.name(), 4000), 0);
  ASSERT_EQ(attach_dev(), 0);
  EXPECT_EQ(host_.cfg.mtu, 4000u) << "the interface takes the existing device's MTU";
  host_.destroy();
  EXPECT_TRUE(device_exists(dev_.name()));
}

TEST_F(TapDriverTest, ADeletedDeviceStopsReceive) {
  attach_running();
  ASSERT_TRUE(pump_link_until([&] { return host_.link == PKTD_LINK_UP; }));
  ASSERT_EQ(delete_link(dev_.name()), 0);
  // The fd now polls as an error for ever: process must not read on and on.
  ASSERT_TRUE(readable(rx_irq().fd, 2s));
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  EXPECT_EQ(host_.link, PKTD_LINK_DOWN);
  EXPECT_EQ(host_.logs.size(), 2u);  // attached, gone
  EXPECT_EQ(run(rx_irq()), PKTD_PROCESS_DONE);
  EXPECT_EQ(host_.logs.size(), 2u) << "reported once";
  // The link source hears RTM_DELLINK and takes the receive source out (it cannot itself).
  EXPECT_TRUE(pump_link_until([&] { return rx_irq().detaches == 1; }));
  host_.destroy();
  EXPECT_EQ(rx_irq().detaches, 1) << "detached twice";
  EXPECT_EQ(link_irq().detaches, 1);
  EXPECT_EQ(host_.link_changes, (std::vector{PKTD_LINK_DOWN, PKTD_LINK_UP, PKTD_LINK_DOWN}));
}

}  // namespace
