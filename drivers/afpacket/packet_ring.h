// The Linux side of receive and transmit: an AF_PACKET socket bound to one interface, with a
// TPACKET_V3 receive ring mapped into pktd (Documentation/networking/packet_mmap.rst). No pktd
// here, so these are plain functions returning 0 or an errno.
#pragma once

#include <linux/if_packet.h>

#include <cstddef>
#include <cstdint>

namespace pktd_afpacket {

// TPACKET_ALIGN without the macro's signed mask (which -Wsign-conversion rejects).
constexpr size_t tpacket_align(size_t n) {
  constexpr auto kAlign = static_cast<size_t>(TPACKET_ALIGNMENT);
  return (n + kAlign - 1) / kAlign * kAlign;
}

struct RingGeometry {
  uint32_t block_size = 0;
  uint32_t block_count = 0;
  uint32_t frame_size = 0;
  uint32_t retire_ms = 0;

  size_t bytes() const { return size_t{block_size} * block_count; }
};

struct PacketRing {
  int fd = -1;  // non-blocking, close-on-exec; receives through the ring, sends with sendmsg
  std::byte* map = nullptr;
  RingGeometry geometry;
};

// What failed while opening, for the log: the call and its errno.
struct RingError {
  int err = 0;
  const char* step = "";
};

// Opens the socket, sets up and maps the ring, binds it to ifindex for every protocol and puts
// the device in promiscuous mode for as long as the socket lives. On failure releases what it
// made and says which step failed.
RingError open_packet_ring(unsigned ifindex, const RingGeometry& geometry, PacketRing& out);
// Unmaps and closes; safe on a ring never opened and when called twice.
void close_packet_ring(PacketRing& ring);

// --- walking the ring (packet_mmap.rst, "AF_PACKET TPACKET_V3 example") ---

tpacket_block_desc* block_at(const PacketRing& ring, uint32_t index);
// Whether the kernel has handed the block to us (TP_STATUS_USER). An acquire: what the kernel
// wrote into the block before setting the status is visible after this says yes.
bool block_is_ours(tpacket_block_desc* block);
// Gives the block back (TP_STATUS_KERNEL). A release: our reads of it are done first.
void give_block_back(tpacket_block_desc* block);

// --- socket state ---

// Reads and clears the socket's pending error (0: none). The kernel sets ENETDOWN when the device
// goes down or away, and until it is read poll reports POLLERR, which would wake us for ever.
int take_socket_error(int fd);
// PACKET_STATISTICS: what the kernel counted since the previous call (reading resets them).
int read_ring_statistics(int fd, tpacket_stats_v3& out);

}  // namespace pktd_afpacket
