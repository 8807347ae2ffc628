// A Linux interface's state through rtnetlink (rtnetlink(7)): a one-off query and a socket
// subscribed to link changes. No pktd here, so these are plain functions returning 0 or an errno.
#pragma once

#include <cstddef>
#include <cstdint>

namespace pktd_kit {

// What an RTM_NEWLINK or RTM_DELLINK said about one interface.
struct LinkEvent {
  bool deleted = false;
  uint32_t flags = 0;  // Linux IFF_*, ifi_flags (32 bits: IFF_LOWER_UP included)
  uint32_t mtu = 0;    // 0: the message carried no IFLA_MTU
  uint16_t type = 0;   // ARPHRD_*
};

// RTM_GETLINK for one interface, answered by the kernel while the request is sent; waits at most
// a second for it all the same. ENODEV: there is no such interface (any more).
int query_link(unsigned ifindex, LinkEvent& out);

// A NETLINK_ROUTE socket subscribed to RTMGRP_LINK, non-blocking, close-on-exec.
int open_link_monitor(int& fd);
// Discards every message queued on the socket (they predate what the caller is about to query).
void drain_link_monitor(int fd);
// Walks one netlink datagram; calls on_event(ctx, event) for each link message about ifindex.
void parse_link_messages(const std::byte* data, size_t len, unsigned ifindex,
                         void (*on_event)(void* ctx, const LinkEvent& event), void* ctx);

// The pktd link is up when the Linux interface is administratively up (IFF_UP) and has carrier
// (IFF_LOWER_UP): a veth whose peer is down, or a NIC without a cable, has no carrier.
bool link_up(uint32_t flags);

// strerror's text, thread-safe ("unknown error" for numbers it does not know).
const char* error_text(int err);

}  // namespace pktd_kit
