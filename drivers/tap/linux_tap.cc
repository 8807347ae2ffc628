#include "linux_tap.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "unique_fd.h"

namespace pktd_tap {
namespace {

using pktd_kit::UniqueFd;

ifreq ifreq_for(const std::string& name) {
  ifreq ifr{};
  std::memcpy(ifr.ifr_name, name.data(), std::min(name.size(), sizeof(ifr.ifr_name) - 1));
  return ifr;
}

// Interface ioctls need some socket; a datagram socket is what ifconfig uses.
int ifreq_ioctl(unsigned long request, ifreq& ifr) {
  UniqueFd sock(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (sock.get() < 0) return errno;
  if (::ioctl(sock.get(), request, &ifr) < 0) return errno;
  return 0;
}

}  // namespace

int open_tap(const std::string& name, TapDevice& out) {
  UniqueFd fd(::open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC));
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

bool linux_admin_up(uint32_t flags) { return (flags & IFF_UP) != 0; }

}  // namespace pktd_tap
