// The Linux side: /dev/net/tun, interface ioctls and rtnetlink link messages. No pktd here, so
// these are plain functions returning 0 or an errno.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "linux_link.h"

namespace pktd_tap {

struct TapDevice {
  int fd = -1;           // non-blocking, close-on-exec
  std::string name;      // as the kernel named it (a "%d" pattern is expanded)
  bool created = false;  // false: it existed already (a persistent device)
};

// Attaches to the TAP device `name`, creating it if it does not exist.
int open_tap(const std::string& name, TapDevice& out);
// TUNSETPERSIST: whether the device outlives the fd.
int set_persist(int tap_fd, bool on);

// The current name of the interface with this index (ENXIO: there is none any more).
int name_of(unsigned ifindex, std::string& name);

// SIOCGIFFLAGS / SIOCGIFMTU by name. flags are Linux IFF_* values.
int query_flags(const std::string& name, uint32_t& flags);
int query_mtu(const std::string& name, uint32_t& mtu);

// The link monitor, the link rule (admin up with carrier, from a link message's 32-bit flags)
// and error_text: drivers/common/linux_link.h, shared with afpacket.
using pktd_kit::drain_link_monitor;
using pktd_kit::error_text;
using pktd_kit::LinkEvent;
using pktd_kit::open_link_monitor;
using pktd_kit::parse_link_messages;
// The link rule from SIOCGIFFLAGS, whose 16 bits lack IFF_LOWER_UP: only valid while our fd is
// attached, which is what keeps the carrier on.
bool linux_admin_up(uint32_t flags);

}  // namespace pktd_tap
