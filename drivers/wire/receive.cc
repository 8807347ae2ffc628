// Receive: the interrupt source on our eventfd, which the peer writes when it has published
// frames while we slept. Each call takes a batch from the peer's ring (copying every frame into
// an mbuf, then freeing its slot) and says AGAIN while more may wait.
#include <unistd.h>

#include "softc.h"

namespace devnp_wire {
namespace {

constexpr uint16_t kEthertypeVlan = 0x8100;

void drain_eventfd(int fd) {
  uint64_t count = 0;
  // Non-blocking: EAGAIN when nothing was written (a batch after AGAIN).
  while (::read(fd, &count, sizeof count) < 0 && errno == EINTR) {
  }
}

void wake_self(Softc& sc) {
  uint64_t one = 1;
  (void)!::write(sc.rx_efd, &one, sizeof one);
}

// The payload a frame carries past its Ethernet header (and VLAN tag), which the MTU bounds.
size_t payload_length(std::span<const std::byte> frame, size_t len) {
  auto type = static_cast<uint16_t>((std::to_integer<unsigned>(frame[12]) << 8) |
                                    std::to_integer<unsigned>(frame[13]));
  size_t header = kEthHeader + (type == kEthertypeVlan ? kVlanTag : 0);
  return len > header ? len - header : 0;
}

// One frame from the ring to the stack. The length is the peer's word: checked before use.
void deliver(Softc& sc, uint32_t len, std::span<const std::byte> data, uint32_t mtu) {
  const pktd_host& h = sc.host;
  if (len < kEthHeader || len > data.size()) {
    sc.rx_counts.malformed.fetch_add(1, std::memory_order_relaxed);
    h.if_count(sc.ifp, PKTD_IFC_IERRORS, 1);
    return;
  }
  // The two ends' MTUs may differ: a frame ours does not allow is an error, as on Ethernet.
  if (payload_length(data, len) > mtu) {
    sc.rx_counts.too_big.fetch_add(1, std::memory_order_relaxed);
    h.if_count(sc.ifp, PKTD_IFC_IERRORS, 1);
    return;
  }
  pktd_mbuf* m = h.m_devget(data.data(), len, PKTD_M_NOWAIT);
  if (m == nullptr) {
    sc.rx_counts.no_mbuf.fetch_add(1, std::memory_order_relaxed);
    h.if_count(sc.ifp, PKTD_IFC_IQDROPS, 1);
    return;
  }
  h.if_input(sc.ifp, m);
}

void ring_broken(Softc& sc) {
  sc.rx_counts.broken.fetch_add(1, std::memory_order_relaxed);
  sc.host.if_count(sc.ifp, PKTD_IFC_IERRORS, 1);
  if (!sc.rx.broken_logged)
    sc.host.log(PKTD_LOG_ERROR,
                "wire: %s: link %s: the peer corrupted its ring's indices; "
                "skipping what it had sent",
                sc.name(), sc.opt.link.c_str());
  sc.rx.broken_logged = true;
  sc.rx.ring.discard_all();
}

pktd_process rx_batch(Softc& sc) {
  drain_eventfd(sc.rx_efd);
  std::lock_guard lock(sc.rx_mutex);
  uint32_t mtu = sc.host.if_mtu(sc.ifp);
  for (uint32_t i = 0; i < sc.opt.rxbatch; ++i) {
    uint32_t len = 0;
    std::span<const std::byte> data;
    switch (sc.rx.ring.peek(len, data)) {
      case Consumer::Peek::frame:
        deliver(sc, len, data, mtu);
        sc.rx.ring.release();
        break;
      case Consumer::Peek::broken: ring_broken(sc); break;
      case Consumer::Peek::empty:
        // Sleep only if nothing slipped in after the peek (segment.cc: no lost wake-up).
        if (sc.rx.ring.arm_and_check_empty()) return PKTD_PROCESS_DONE;
        break;
    }
  }
  // A full batch: more may be waiting, but other sources get their turn first.
  return PKTD_PROCESS_AGAIN;
}

}  // namespace

void rx_resync(Softc& sc) {
  std::lock_guard lock(sc.rx_mutex);
  sc.rx.ring.discard_all();
  // A frame published since is the new peer's: have the interrupt fetch it.
  if (!sc.rx.ring.arm_and_check_empty()) wake_self(sc);
}

pktd_process wire_rx_process(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  return guarded(&sc->host, "receive", PKTD_PROCESS_DONE, [&] { return rx_batch(*sc); });
}

// Nothing to unmask: the runtime re-arms the eventfd in its epoll set after DONE.
void wire_irq_enable(void*) {}

}  // namespace devnp_wire
