#include "linux_tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace pktd_tap {
namespace {

// Unique-fd for the error paths: whatever is not released() is closed.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }

 private:
  int fd_;
};

ifreq ifreq_for(const std::string& name) {
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), sizeof(ifr.ifr_name) - 1));
  return ifr;
}

// Interface ioctls need some socket; a datagram socket is what ifconfig uses.
int ifreq_ioctl(unsigned long request, ifreq& ifr) {
  Fd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return errno;
  if (::ioctl(sock.get(), request, &ifr) < 0) return errno;
  return 0;
}

// <linux/if.h>'s IFF_LOWER_UP (carrier), which <net/if.h> does not define and the two headers
// cannot be mixed. It only appears in 32-bit flags (link messages), not in SIOCGIFFLAGS.
constexpr uint32_t kIffLowerUp = 0x10000;

// Netlink lengths are rounded up to 4 bytes (NLMSG_ALIGN, RTA_ALIGN).
constexpr size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }

// The headers are copied out rather than cast in place: a datagram buffer gives no alignment.
template <typename T>
T read_at(const std::byte* data, size_t offset) {
  T value;
  std::memcpy(&value, data + offset, sizeof(T));
  return value;
}

uint32_t find_mtu(const std::byte* data, size_t offset, size_t end) {
  while (offset + sizeof(rtattr) <= end) {
    auto attr = read_at<rtattr>(data, offset);
    if (attr.rta_len < sizeof(rtattr) || attr.rta_len > end - offset) break;
    if (attr.rta_type == IFLA_MTU && attr.rta_len >= sizeof(rtattr) + sizeof(uint32_t))
      return read_at<uint32_t>(data, offset + align4(sizeof(rtattr)));
    offset += align4(attr.rta_len);
  }
  return 0;
}

}  // namespace

int open_tap(const std::string& name, TapDevice& out) {
  Fd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
  if (fd.get() < 0) return errno;
  ifreq ifr = ifreq_for(name);
  // Frames without the 4-byte packet-information prefix.
  // VNET_HDR: IFF_VNET_HDR goes here once offloads are implemented (docs/tap.md).
  ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
  if (::ioctl(fd.get(), TUNSETIFF, &ifr) < 0) return errno;
  // A device that existed before was persistent (a non-persistent one would belong to another
  // fd, and TUNSETIFF would have failed with EBUSY); so "not persistent" means we made it.
  ifreq got{};
  if (::ioctl(fd.get(), TUNGETIFF, &got) < 0) return errno;
  out.created = (static_cast<unsigned>(got.ifr_flags) & IFF_PERSIST) == 0;
  out.name.assign(ifr.ifr_name, strnlen(ifr.ifr_name, sizeof(ifr.ifr_name)));
  out.fd = fd.release();
  return 0;
}

int set_persist(int tap_fd, bool on) {
  if (::ioctl(tap_fd, TUNSETPERSIST, on ? 1UL : 0UL) < 0) return errno;
  return 0;
}

int name_of(unsigned ifindex, std::string& name) {
  char buf[IF_NAMESIZE] = {};
  if (::if_indextoname(ifindex, buf) == nullptr) return errno;
  name = buf;
  return 0;
}

int query_flags(const std::string& name, uint32_t& flags) {
  ifreq ifr = ifreq_for(name);
  if (int err = ifreq_ioctl(SIOCGIFFLAGS, ifr); err != 0) return err;
  flags = static_cast<uint16_t>(ifr.ifr_flags);
  return 0;
}

int query_mtu(const std::string& name, uint32_t& mtu) {
  ifreq ifr = ifreq_for(name);
  if (int err = ifreq_ioctl(SIOCGIFMTU, ifr); err != 0) return err;
  mtu = static_cast<uint32_t>(ifr.ifr_mtu);
  return 0;
}

const char* error_text(int err) {
  const char* text = strerrordesc_np(err);
  return text != nullptr ? text : "unknown error";
}

bool linux_link_up(uint32_t flags) {
  return (flags & IFF_UP) != 0 && (flags & kIffLowerUp) != 0;
}

bool linux_admin_up(uint32_t flags) { return (flags & IFF_UP) != 0; }

void drain_link_monitor(int fd) {
  // A zero-length receive with MSG_TRUNC consumes one datagram without copying it.
  while (::recv(fd, nullptr, 0, MSG_DONTWAIT | MSG_TRUNC) >= 0 || errno == EINTR) {
  }
}

int open_link_monitor(int& fd) {
  Fd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (sock.get() < 0) return errno;
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0) return errno;
  fd = sock.release();
  return 0;
}

void parse_link_messages(const std::byte* data, size_t len, unsigned ifindex,
                         void (*on_event)(void* ctx, const LinkEvent& event), void* ctx) {
  constexpr size_t kHdr = align4(sizeof(nlmsghdr));
  constexpr size_t kIfi = align4(sizeof(ifinfomsg));
  size_t offset = 0;
  while (offset + sizeof(nlmsghdr) <= len) {
    auto hdr = read_at<nlmsghdr>(data, offset);
    if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > len - offset) break;
    bool link_msg = hdr.nlmsg_type == RTM_NEWLINK || hdr.nlmsg_type == RTM_DELLINK;
    if (link_msg && hdr.nlmsg_len >= kHdr + sizeof(ifinfomsg)) {
      auto ifi = read_at<ifinfomsg>(data, offset + kHdr);
      if (ifi.ifi_index > 0 && static_cast<unsigned>(ifi.ifi_index) == ifindex) {
        LinkEvent event;
        event.deleted = hdr.nlmsg_type == RTM_DELLINK;
        event.flags = ifi.ifi_flags;
        event.mtu = find_mtu(data, offset + kHdr + kIfi, offset + hdr.nlmsg_len);
        on_event(ctx, event);
      }
    }
    offset += align4(hdr.nlmsg_len);
  }
}

}  // namespace pktd_tap
