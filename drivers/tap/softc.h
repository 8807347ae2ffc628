// State of one tap interface, shared by driver.cc (attach, init, stop, detach) and datapath.cc
// (transmit, receive, link monitor).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <utility>
#include <vector>

#include "linux_tap.h"
#include "options.h"
#include "boundary.h"
#include "pktd/driver.h"

namespace pktd_tap {

inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kVlanTag = 4;  // the kernel writes an offloaded VLAN tag back in
inline constexpr uint32_t kDefaultMtu = 1500;
// The largest frame either direction can carry (a TAP's MTU stops at 65521). Sizes the scratch
// buffers, so pktd may raise its MTU later without the driver reallocating under a lock.
inline constexpr size_t kMaxFrame = 65535 + kEthHeader + kVlanTag;

// VNET_HDR: with IFF_VNET_HDR every read and write starts with a struct virtio_net_hdr (checksum
// and segmentation offload). Not implemented: this is 0, open_tap does not ask for it and the
// interface advertises no PKTD_IFCAP_*. docs/tap.md lists what implementing it takes.
inline constexpr size_t kVnetHdrLen = 0;

inline size_t frame_capacity(uint32_t mtu) { return size_t{mtu} + kEthHeader + kVlanTag; }

struct Softc {
  Softc(const pktd_host& h, pktd_driver* d, Options o) : host(h), drv(d), opt(std::move(o)) {}
  Softc(const Softc&) = delete;
  Softc& operator=(const Softc&) = delete;

  const pktd_host& host;
  pktd_driver* const drv;
  const Options opt;

  pktd_ifnet* ifp = nullptr;
  TapDevice tap;
  int link_fd = -1;    // rtnetlink socket, RTMGRP_LINK
  unsigned ifindex = 0;  // the Linux device's, to pick its messages out of the link group
  // Detached by release() or, once the Linux device is deleted, by the link irq: whichever
  // takes it out first.
  std::atomic<pktd_irq*> rx_irq{nullptr};
  pktd_irq* link_irq = nullptr;
  pktd_callout kick{};  // restarts transmission after EAGAIN (the seed's sam_kick_tx)

  // Receive buffer size, from the Linux side's MTU: written by the link irq, read by the rx irq
  // (two sources, possibly on two workers at once).
  std::atomic<size_t> rx_capacity{frame_capacity(kDefaultMtu)};
  bool rx_gone_reported = false;    // rx irq only
  std::vector<std::byte> tx_buf;    // the one start running (OACTIVE) owns it
  std::vector<std::byte> rx_drain;  // rx irq only: where frames go when no mbuf is to be had
  std::vector<std::byte> link_buf;  // link irq only
};

// --- the C ABI boundary: no exception may leave a function pktd calls (common/boundary.h) ---

inline constexpr const char* kDriverName = "tap";

inline void log_escaped(const pktd_host* host, const char* where, const char* what) noexcept {
  pktd_kit::log_escaped(host, kDriverName, where, what);
}

template <typename... Args>
decltype(auto) guarded(const pktd_host* host, const char* where, Args&&... args) noexcept {
  return pktd_kit::guarded(host, kDriverName, where, std::forward<Args>(args)...);
}

// --- datapath.cc ---

// pktd_if_ops.start: transmits the send queue; releases the transmit lock.
void tap_start(pktd_ifnet* ifp, void* softc);
// Callout: takes the transmit lock and calls start again.
void tap_kick_tx(void* arg);
// The two fd interrupt sources.
pktd_process tap_rx_process(void* arg);
pktd_process tap_link_process(void* arg);
void tap_irq_enable(void* arg);
// Reports the link state (if it changed).
void tap_set_link(Softc& sc, bool up);

}  // namespace pktd_tap
