// The Linux side: /dev/net/tun, interface ioctls and rtnetlink link messages. No pktd here, so
// these are plain functions returning 0 or an errno.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

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

// strerror's text, thread-safe ("unknown error" for numbers it does not know).
const char* error_text(int err);

// The rule for the pktd link state (see driver.cc), from a link message's 32-bit flags: the
// Linux side is admin up and has carrier.
bool linux_link_up(uint32_t flags);
// The same from SIOCGIFFLAGS, whose 16 bits lack IFF_LOWER_UP: only valid while our fd is
// attached, which is what keeps the carrier on.
bool linux_admin_up(uint32_t flags);

// A NETLINK_ROUTE socket subscribed to RTMGRP_LINK, non-blocking, close-on-exec.
int open_link_monitor(int& fd);

// What an RTM_NEWLINK or RTM_DELLINK said about one interface.
struct LinkEvent {
  bool deleted = false;
  uint32_t flags = 0;  // Linux IFF_*, ifi_flags
  uint32_t mtu = 0;    // 0: the message carried no IFLA_MTU
};

// Discards every message queued on the socket (they predate what the caller is about to query).
void drain_link_monitor(int fd);

// Walks one netlink datagram; calls on_event(ctx, event) for each link message about ifindex.
void parse_link_messages(const std::byte* data, size_t len, unsigned ifindex,
                         void (*on_event)(void* ctx, const LinkEvent& event), void* ctx);

}  // namespace pktd_tap
