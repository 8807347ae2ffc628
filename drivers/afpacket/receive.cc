// Receive: the packet socket's interrupt walks the TPACKET_V3 ring. The kernel fills blocks in
// order and hands each to us whole (block_status TP_STATUS_USER) when it is full or its retire
// timeout passes; we copy every frame of it into an mbuf and give the block back
// (Documentation/networking/packet_mmap.rst, "AF_PACKET TPACKET_V3 example").
#include <linux/if_packet.h>

#include <algorithm>
#include <cstring>
#include <span>

#include "softc.h"

namespace pktd_afpacket {
namespace {

// The sockaddr_ll the kernel writes after each tpacket3_hdr (packet_mmap.rst, TPACKET_V2 -->
// V3: "(void *)hdr + TPACKET_ALIGN(hdrlen)"); its sll_pkttype tells our own frames apart.
constexpr size_t kSllOffset = tpacket_align(sizeof(tpacket3_hdr));

// One packet of a block, as the kernel described it, checked to lie inside the block.
struct Packet {
  tpacket3_hdr hdr;
  uint8_t pkttype = 0;
  std::span<std::byte> frame;  // tp_snaplen bytes at tp_mac
};

std::byte* current_block(const Softc& sc) {
  return reinterpret_cast<std::byte*>(block_at(sc.ring, sc.cursor.block));
}

// The kernel's offsets are trusted no further than the block: a bad one abandons the block
// (counted) instead of reading outside it.
bool read_packet(Softc& sc, Packet& out) {
  size_t block_size = sc.ring.geometry.block_size;
  size_t at = sc.cursor.offset;
  if (at > block_size || block_size - at < kSllOffset + sizeof(sockaddr_ll)) return false;
  std::byte* start = current_block(sc) + at;
  std::memcpy(&out.hdr, start, sizeof(out.hdr));
  sockaddr_ll sll;
  std::memcpy(&sll, start + kSllOffset, sizeof(sll));
  out.pkttype = sll.sll_pkttype;
  size_t mac = out.hdr.tp_mac;
  if (mac > block_size - at || out.hdr.tp_snaplen > block_size - at - mac) return false;
  out.frame = std::span<std::byte>(start + mac, out.hdr.tp_snaplen);
  return true;
}

// Writes bytes into a chain from offset on (m_getpacket sized it; a chain when it is long).
void copy_into(const pktd_host& h, pktd_mbuf* m, size_t offset, std::span<const std::byte> src) {
  for (pktd_mbuf* b = m; b != nullptr && !src.empty(); b = h.m_next(b)) {
    size_t len = h.m_len(b);
    if (offset >= len) {
      offset -= len;
      continue;
    }
    size_t n = std::min(len - offset, src.size());
    std::memcpy(h.m_data(b) + offset, src.data(), n);
    src = src.subspan(n);
    offset = 0;
  }
}

// VLAN offload: Linux moves an 802.1Q tag out of every received frame into metadata before
// packet sockets see it (TP_STATUS_VLAN_VALID, tp_vlan_tci). Handing pktd the frame without it
// would put VLAN traffic on the untagged network, so the tag goes back where it was.
pktd_mbuf* copy_with_tag(Softc& sc, const Packet& p) {
  const pktd_host& h = sc.host;
  pktd_mbuf* m = h.m_getpacket(p.frame.size() + kVlanTag, PKTD_M_NOWAIT);
  if (m == nullptr) return nullptr;
  bool tpid_valid = (p.hdr.tp_status & TP_STATUS_VLAN_TPID_VALID) != 0;
  auto tag = vlan_tag(tpid_valid ? p.hdr.hv1.tp_vlan_tpid : uint16_t{0x8100},
                      static_cast<uint16_t>(p.hdr.hv1.tp_vlan_tci));
  copy_into(h, m, 0, p.frame.first(kMacPair));
  copy_into(h, m, kMacPair, tag);
  copy_into(h, m, kMacPair + kVlanTag, p.frame.subspan(kMacPair));
  sc.rx.vlan_reinserted.add();
  return m;
}

void count_error(Softc& sc, Counter& reason) {
  reason.add();
  sc.host.if_count(sc.ifp, PKTD_IFC_IERRORS, 1);
}

// Ethernet header, payload up to the MTU, one VLAN tag: what a NIC set to this MTU accepts (BSD's
// ether_input discards a longer frame as an input error too).
bool oversize(const Softc& sc, size_t len) {
  return len > size_t{sc.host.if_mtu(sc.ifp)} + kEthHeader + kVlanTag;
}

void deliver(Softc& sc, Packet& p) {
  const pktd_host& h = sc.host;
  // Our own transmissions, were PACKET_IGNORE_OUTGOING not available.
  if (p.pkttype == PACKET_OUTGOING) return sc.rx.outgoing.add();
  if (p.hdr.tp_snaplen < p.hdr.tp_len) return count_error(sc, sc.rx.truncated);
  if (p.frame.size() < kEthHeader) return count_error(sc, sc.rx.runts);
  if (oversize(sc, p.frame.size())) return count_error(sc, sc.rx.oversize);
  // The socket is promiscuous, so this is the address filter a NIC would apply, unless pktd
  // asked for everything.
  if ((h.if_flags(sc.ifp) & PKTD_IFF_PROMISC) == 0 && !for_us(p.frame, sc.mac))
    return sc.rx.filtered.add();
  // The block is ours until given back, so the checksum is finished in place before the copy.
  if ((p.hdr.tp_status & TP_STATUS_CSUMNOTREADY) != 0) {
    bool done = complete_checksum(p.frame) == ChecksumFix::completed;
    (done ? sc.rx.csum_completed : sc.rx.csum_partial).add();
  }
  bool tagged = (p.hdr.tp_status & TP_STATUS_VLAN_VALID) != 0;
  pktd_mbuf* m =
      tagged ? copy_with_tag(sc, p) : h.m_devget(p.frame.data(), p.frame.size(), PKTD_M_NOWAIT);
  if (m == nullptr) {
    sc.rx.no_mbuf.add();
    h.if_count(sc.ifp, PKTD_IFC_IQDROPS, 1);
    return;
  }
  sc.rx.delivered.add();
  h.if_input(sc.ifp, m);
}

void close_block(Softc& sc) {
  give_block_back(block_at(sc.ring, sc.cursor.block));
  sc.rx.blocks.add();
  sc.cursor.open = false;
  sc.cursor.block = (sc.cursor.block + 1) % sc.ring.geometry.block_count;
}

// Takes the next block if the kernel has handed it over; false when it has not.
bool open_block(Softc& sc) {
  tpacket_block_desc* block = block_at(sc.ring, sc.cursor.block);
  if (!block_is_ours(block)) return false;
  // TP_STATUS_LOSING: the kernel dropped frames since its statistics were last read.
  if ((block->hdr.bh1.block_status & TP_STATUS_LOSING) != 0) collect_ring_statistics(sc);
  sc.cursor.open = true;
  sc.cursor.left = block->hdr.bh1.num_pkts;
  sc.cursor.offset = block->hdr.bh1.offset_to_first_pkt;
  return true;
}

// Hands up the packet at the cursor and moves past it.
void next_packet(Softc& sc) {
  Packet p;
  if (!read_packet(sc, p)) {
    count_error(sc, sc.rx.malformed);
    close_block(sc);
    return;
  }
  deliver(sc, p);
  --sc.cursor.left;
  sc.cursor.offset += p.hdr.tp_next_offset;
  if (sc.cursor.left == 0) {
    close_block(sc);
  } else if (p.hdr.tp_next_offset == 0) {
    count_error(sc, sc.rx.malformed);  // more packets promised, none to be found
    close_block(sc);
  }
}

// Woken with no block ready: the kernel signals a socket error (the device went down or away)
// as POLLERR until it is read, so it is read here or the runtime would call us for ever.
void clear_socket_error(Softc& sc) {
  int err = take_socket_error(sc.ring.fd);
  if (err != 0)
    sc.host.log(PKTD_LOG_DEBUG, "afpacket: %s: packet socket reports: %s", sc.host.if_name(sc.ifp),
                error_text(err));
}

pktd_process rx_batch(Softc& sc) {
  uint32_t budget = sc.opt.rxbatch;
  bool any = false;
  while (budget > 0) {
    if (!sc.cursor.open && !open_block(sc)) break;
    any = true;
    if (sc.cursor.left == 0) {
      close_block(sc);  // an empty block (kernels before 4.0 retired those too)
      continue;
    }
    next_packet(sc);
    --budget;
  }
  if (budget == 0) return PKTD_PROCESS_AGAIN;  // more may be waiting; others get a turn first
  if (!any) clear_socket_error(sc);
  return PKTD_PROCESS_DONE;
}

}  // namespace

pktd_process afp_rx_process(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  return guarded(&sc->host, "receive", PKTD_PROCESS_DONE, [&] { return rx_batch(*sc); });
}

void collect_ring_statistics(Softc& sc) {
  tpacket_stats_v3 st{};
  if (read_ring_statistics(sc.ring.fd, st) != 0) return;
  sc.kernel.packets.add(st.tp_packets);
  sc.kernel.drops.add(st.tp_drops);
  sc.kernel.freezes.add(st.tp_freeze_q_cnt);
  // Frames the ring had no room for: received, then dropped for lack of resources.
  if (st.tp_drops != 0) sc.host.if_count(sc.ifp, PKTD_IFC_IQDROPS, st.tp_drops);
}

}  // namespace pktd_afpacket
