#include "packet_ring.h"

#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

namespace pktd_afpacket {
namespace {

RingError failed(const char* step) { return RingError{errno, step}; }

template <typename T>
int set_option(int fd, int level, int name, const T& value) {
  return ::setsockopt(fd, level, name, &value, sizeof(value));
}

tpacket_req3 ring_request(const RingGeometry& g) {
  tpacket_req3 req{};
  req.tp_block_size = g.block_size;
  req.tp_block_nr = g.block_count;
  req.tp_frame_size = g.frame_size;
  // packet_mmap.rst: packet_set_ring checks frames_per_block * tp_block_nr == tp_frame_nr. With
  // V3 frames are packed into blocks at their own length; this number is bookkeeping.
  req.tp_frame_nr = (g.block_size / g.frame_size) * g.block_count;
  // packet_mmap.rst (TPACKET_V2 --> TPACKET_V3): "poll timeout to avoid indefinite user-space
  // wait on idle links": a block that has frames is handed to us after this many ms even when
  // it is not full. pktd wants latency, so it is short.
  req.tp_retire_blk_tov = g.retire_ms;
  return req;
}

// Socket, version and ring before bind: created with protocol 0 the socket receives nothing
// (packet_mmap.rst: "The protocol can optionally be 0 ... avoids an expensive call to
// packet_rcv()"), so no frame of another interface lands in the ring before it is bound.
RingError make_ring(const RingGeometry& g, PacketRing& out) {
  out.fd = ::socket(AF_PACKET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (out.fd < 0) return failed("socket(AF_PACKET)");
  // The version must be chosen before the ring is made (packet_mmap.rst, "What TPACKET
  // versions are available").
  if (set_option(out.fd, SOL_PACKET, PACKET_VERSION, int{TPACKET_V3}) != 0)
    return failed("PACKET_VERSION TPACKET_V3");
  if (set_option(out.fd, SOL_PACKET, PACKET_RX_RING, ring_request(g)) != 0)
    return failed("PACKET_RX_RING");
  // One mapping for the whole ring: blocks are discontiguous in the kernel but contiguous to us
  // (packet_mmap.rst, "Mapping and use of the circular buffer").
  void* map = ::mmap(nullptr, g.bytes(), PROT_READ | PROT_WRITE, MAP_SHARED, out.fd, 0);
  if (map == MAP_FAILED) return failed("mmap of the ring");
  out.map = static_cast<std::byte*>(map);
  out.geometry = g;
  return {};
}

RingError bind_to(unsigned ifindex, PacketRing& out) {
  sockaddr_ll addr{};
  addr.sll_family = AF_PACKET;
  addr.sll_protocol = htons(ETH_P_ALL);
  addr.sll_ifindex = static_cast<int>(ifindex);
  if (::bind(out.fd, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0)
    return failed("bind");
  // The pktd interface has a MAC of its own, which the Linux device does not filter for. The
  // membership ends with the socket (packet(7): PACKET_ADD_MEMBERSHIP).
  packet_mreq promisc{};
  promisc.mr_ifindex = static_cast<int>(ifindex);
  promisc.mr_type = PACKET_MR_PROMISC;
  if (set_option(out.fd, SOL_PACKET, PACKET_ADD_MEMBERSHIP, promisc) != 0)
    return failed("PACKET_ADD_MEMBERSHIP PACKET_MR_PROMISC");
  // Our own transmissions would come back as PACKET_OUTGOING copies; this spares the kernel
  // making them (Linux 4.20 on). Older kernels refuse it, and receive skips them by type anyway.
  (void)set_option(out.fd, SOL_PACKET, PACKET_IGNORE_OUTGOING, int{1});
  return {};
}

}  // namespace

RingError open_packet_ring(unsigned ifindex, const RingGeometry& geometry, PacketRing& out) {
  RingError err = make_ring(geometry, out);
  if (err.err == 0) err = bind_to(ifindex, out);
  if (err.err != 0) close_packet_ring(out);
  return err;
}

void close_packet_ring(PacketRing& ring) {
  if (ring.map != nullptr) ::munmap(ring.map, ring.geometry.bytes());
  ring.map = nullptr;
  if (ring.fd >= 0) ::close(ring.fd);
  ring.fd = -1;
}

tpacket_block_desc* block_at(const PacketRing& ring, uint32_t index) {
  // Blocks start page-aligned, so the descriptor at their start is aligned for its type.
  return reinterpret_cast<tpacket_block_desc*>(ring.map + size_t{index} * ring.geometry.block_size);
}

bool block_is_ours(tpacket_block_desc* block) {
  std::atomic_ref<uint32_t> status(block->hdr.bh1.block_status);
  return (status.load(std::memory_order_acquire) & TP_STATUS_USER) != 0;
}

void give_block_back(tpacket_block_desc* block) {
  std::atomic_ref<uint32_t> status(block->hdr.bh1.block_status);
  status.store(TP_STATUS_KERNEL, std::memory_order_release);
}

int take_socket_error(int fd) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0) return errno;
  return err;
}

int read_ring_statistics(int fd, tpacket_stats_v3& out) {
  out = {};
  socklen_t len = sizeof(out);
  if (::getsockopt(fd, SOL_PACKET, PACKET_STATISTICS, &out, &len) != 0) return errno;
  return 0;
}

}  // namespace pktd_afpacket
