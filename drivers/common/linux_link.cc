#include "linux_link.h"

#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "unique_fd.h"

namespace pktd_kit {
namespace {

// <linux/if.h>'s IFF_LOWER_UP (carrier), which <net/if.h> lacks; the two headers do not mix.
constexpr uint32_t kIffLowerUp = 0x10000;

// A link message for one device is a few KiB (no IFLA_EXT_MASK is asked for, so no VF lists);
// a longer datagram is cut short (MSG_TRUNC) and refused.
constexpr size_t kQueryBufBytes = 32 * 1024;
constexpr int kQueryTimeoutMs = 1000;


// Netlink lengths are rounded up to 4 bytes (NLMSG_ALIGN, RTA_ALIGN).
constexpr size_t align4(size_t n) { return (n + 3) & ~size_t{3}; }
constexpr size_t kHdr = align4(sizeof(nlmsghdr));
constexpr size_t kIfi = align4(sizeof(ifinfomsg));

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

// One walk for both the monitor and the query: link messages go to on_event, and the first
// NLMSG_ERROR's errno is returned (0: none).
int walk(const std::byte* data, size_t len, unsigned ifindex,
         void (*on_event)(void* ctx, const LinkEvent& event), void* ctx) {
  size_t offset = 0;
  while (offset + sizeof(nlmsghdr) <= len) {
    auto hdr = read_at<nlmsghdr>(data, offset);
    if (hdr.nlmsg_len < sizeof(nlmsghdr) || hdr.nlmsg_len > len - offset) break;
    if (hdr.nlmsg_type == NLMSG_ERROR && hdr.nlmsg_len >= kHdr + sizeof(nlmsgerr)) {
      auto err = read_at<nlmsgerr>(data, offset + kHdr);
      if (err.error != 0) return -err.error;
    }
    bool link_msg = hdr.nlmsg_type == RTM_NEWLINK || hdr.nlmsg_type == RTM_DELLINK;
    if (link_msg && hdr.nlmsg_len >= kHdr + sizeof(ifinfomsg)) {
      auto ifi = read_at<ifinfomsg>(data, offset + kHdr);
      if (ifi.ifi_index > 0 && static_cast<unsigned>(ifi.ifi_index) == ifindex) {
        LinkEvent event;
        event.deleted = hdr.nlmsg_type == RTM_DELLINK;
        event.flags = ifi.ifi_flags;
        event.type = ifi.ifi_type;
        event.mtu = find_mtu(data, offset + kHdr + kIfi, offset + hdr.nlmsg_len);
        on_event(ctx, event);
      }
    }
    offset += align4(hdr.nlmsg_len);
  }
  return 0;
}

struct QueryResult {
  LinkEvent event;
  bool found = false;
};

void keep_first(void* ctx, const LinkEvent& event) {
  auto& result = *static_cast<QueryResult*>(ctx);
  if (!result.found) result.event = event;
  result.found = true;
}

int send_get_link(int fd, unsigned ifindex) {
  struct {
    nlmsghdr hdr;
    ifinfomsg ifi;
  } req{};
  req.hdr.nlmsg_len = sizeof(req);
  req.hdr.nlmsg_type = RTM_GETLINK;
  req.hdr.nlmsg_flags = NLM_F_REQUEST;
  req.hdr.nlmsg_seq = 1;
  req.ifi.ifi_family = AF_UNSPEC;
  req.ifi.ifi_index = static_cast<int>(ifindex);
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd, &req, sizeof(req), 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof(kernel)) < 0)
    return errno;
  return 0;
}

int receive_reply(int fd, std::vector<std::byte>& buf, size_t& len) {
  pollfd pfd{fd, POLLIN, 0};
  int ready = 0;
  do {
    ready = ::poll(&pfd, 1, kQueryTimeoutMs);
  } while (ready < 0 && errno == EINTR);
  if (ready < 0) return errno;
  if (ready == 0) return ETIMEDOUT;
  ssize_t n = ::recv(fd, buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
  if (n < 0) return errno;
  if (static_cast<size_t>(n) > buf.size()) return EMSGSIZE;
  len = static_cast<size_t>(n);
  return 0;
}

}  // namespace

int query_link(unsigned ifindex, LinkEvent& out) {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (sock.get() < 0) return errno;
  if (int err = send_get_link(sock.get(), ifindex); err != 0) return err;
  std::vector<std::byte> buf(kQueryBufBytes);
  size_t len = 0;
  if (int err = receive_reply(sock.get(), buf, len); err != 0) return err;
  QueryResult result;
  if (int err = walk(buf.data(), len, ifindex, keep_first, &result); err != 0) return err;
  if (!result.found) return EPROTO;
  out = result.event;
  return 0;
}

int open_link_monitor(int& fd) {
  UniqueFd sock(::socket(AF_NETLINK, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (sock.get() < 0) return errno;
  sockaddr_nl addr{};
  addr.nl_family = AF_NETLINK;
  addr.nl_groups = RTMGRP_LINK;
  if (::bind(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) < 0) return errno;
  fd = sock.release();
  return 0;
}

void drain_link_monitor(int fd) {
  // A zero-length receive with MSG_TRUNC consumes one datagram without copying it. ENOBUFS
  // reports an overrun, with datagrams still queued behind it.
  while (::recv(fd, nullptr, 0, MSG_DONTWAIT | MSG_TRUNC) >= 0 || errno == EINTR ||
         errno == ENOBUFS) {
  }
}

void parse_link_messages(const std::byte* data, size_t len, unsigned ifindex,
                         void (*on_event)(void* ctx, const LinkEvent& event), void* ctx) {
  (void)walk(data, len, ifindex, on_event, ctx);
}

bool link_up(uint32_t flags) { return (flags & IFF_UP) != 0 && (flags & kIffLowerUp) != 0; }

const char* error_text(int err) {
  const char* text = strerrordesc_np(err);
  return text != nullptr ? text : "unknown error";
}

}  // namespace pktd_kit
