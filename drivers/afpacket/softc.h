// State of one afpacket interface, shared by driver.cc (attach, init, stop, detach), receive.cc,
// transmit.cc, link.cc (the data path and the link monitor) and status.cc (the ioctl).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <utility>
#include <vector>

#include "frame_fixup.h"
#include "options.h"
#include "packet_ring.h"
#include "boundary.h"
#include "linux_link.h"
#include "pktd/driver.h"

namespace pktd_afpacket {

// The Linux interface through rtnetlink: drivers/common/linux_link.h, shared with tap.
using pktd_kit::drain_link_monitor;
using pktd_kit::error_text;
using pktd_kit::link_up;
using pktd_kit::LinkEvent;
using pktd_kit::open_link_monitor;
using pktd_kit::parse_link_messages;
using pktd_kit::query_link;

// The longest frame pktd sends: the largest MTU plus an Ethernet header and a VLAN tag. Sizes
// the transmit scratch buffer, so pktd may raise its MTU without the driver reallocating.
inline constexpr size_t kMaxFrame = 65535 + kEthHeader + kVlanTag;

// Counters only this driver sees, shown by the "status" request. Written by the receive or
// transmit path, read by the ioctl (another thread), so atomic; relaxed, as each is on its own.
struct Counter {
  std::atomic<uint64_t> value{0};
  void add(uint64_t n = 1) { value.fetch_add(n, std::memory_order_relaxed); }
  uint64_t get() const { return value.load(std::memory_order_relaxed); }
};

struct RxCounters {
  Counter delivered;        // frames handed to pktd
  Counter outgoing;         // PACKET_OUTGOING copies of our own transmissions, skipped
  Counter filtered;         // unicast to another MAC, not passed up (the NIC's address filter)
  Counter truncated;        // tp_snaplen < tp_len: the frame did not fit a block (ierrors)
  Counter oversize;         // longer than pktd's MTU allows (ierrors), e.g. a GSO frame
  Counter runts;            // shorter than an Ethernet header (ierrors)
  Counter malformed;        // a block whose offsets do not add up, abandoned (ierrors)
  Counter no_mbuf;          // no buffer to copy into (iqdrops)
  Counter vlan_reinserted;  // an offloaded 802.1Q tag written back into the frame
  Counter csum_completed;   // a partial IPv4 TCP/UDP checksum finished
  Counter csum_partial;     // a partial checksum left as it was (not IPv4 TCP/UDP)
  Counter blocks;           // blocks returned to the kernel
};

// PACKET_STATISTICS summed since attach (the kernel resets its counts on every read).
struct KernelCounters {
  Counter packets;  // what the kernel counted for the socket (it includes the drops)
  Counter drops;    // frames it could not put in the ring: counted as iqdrops too
  Counter freezes;  // times the ring was full and the kernel stopped filling it
};

// Where receive is in the ring: the kernel fills blocks in order, and so they are read.
struct RxCursor {
  uint32_t block = 0;   // index of the block being read, or the next to look at
  bool open = false;    // the block is ours and partly read
  uint32_t left = 0;    // packets of it not yet read
  uint32_t offset = 0;  // of the next packet's tpacket3_hdr from the block's start
};

struct Softc {
  Softc(const pktd_host& h, pktd_driver* d, Options o) : host(h), drv(d), opt(std::move(o)) {}
  Softc(const Softc&) = delete;
  Softc& operator=(const Softc&) = delete;

  const pktd_host& host;
  pktd_driver* const drv;
  const Options opt;

  pktd_ifnet* ifp = nullptr;
  uint8_t mac[6] = {};   // pktd's address, for the unicast filter (fixed once attached)
  unsigned ifindex = 0;  // the Linux device's: it survives a rename
  PacketRing ring;
  int link_fd = -1;  // rtnetlink socket, RTMGRP_LINK
  // Detached by release() or, once the Linux device is deleted, by the link irq: whichever
  // takes it out first.
  std::atomic<pktd_irq*> rx_irq{nullptr};
  pktd_irq* link_irq = nullptr;
  pktd_callout kick{};  // restarts transmission after EAGAIN/ENOBUFS (the seed's sam_kick_tx)
  std::atomic<bool> device_gone{false};

  RxCursor cursor;                  // rx irq only
  std::vector<std::byte> tx_buf;    // the transmit lock guards it
  std::vector<std::byte> link_buf;  // link irq only

  RxCounters rx;
  KernelCounters kernel;
  Counter tx_busy;  // frames put back after EAGAIN/ENOBUFS
};

// --- the C ABI boundary: no exception may leave a function pktd calls (common/boundary.h) ---

inline constexpr const char* kDriverName = "afpacket";

inline void log_escaped(const pktd_host* host, const char* where, const char* what) noexcept {
  pktd_kit::log_escaped(host, kDriverName, where, what);
}

template <typename... Args>
decltype(auto) guarded(const pktd_host* host, const char* where, Args&&... args) noexcept {
  return pktd_kit::guarded(host, kDriverName, where, std::forward<Args>(args)...);
}

// --- transmit.cc ---
// pktd_if_ops.start: transmits the send queue; releases the transmit lock.
void afp_start(pktd_ifnet* ifp, void* softc);
// Callout: takes the transmit lock and calls start again.
void afp_kick_tx(void* arg);

// --- receive.cc ---
pktd_process afp_rx_process(void* arg);
// Reads PACKET_STATISTICS into sc.kernel and counts the kernel's drops as iqdrops. Any thread.
void collect_ring_statistics(Softc& sc);

// --- link.cc ---
pktd_process afp_link_process(void* arg);
// Reports the link state (if it changed).
void afp_set_link(Softc& sc, bool up);

// Both fd sources: nothing to unmask, the runtime re-arms the fd after DONE.
void afp_irq_enable(void* arg);

// --- status.cc ---
// pktd_if_ops.ioctl: "status" and "help".
int afp_ioctl(pktd_ifnet* ifp, void* softc, const char* request, char* reply, size_t reply_len);

}  // namespace pktd_afpacket
