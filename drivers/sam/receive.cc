// The receive interrupt: the port's eventfd is its interrupt line. process runs on a worker with
// the source masked by pktd; it also masks the device (the IMR), reads and clears the causes,
// and services them: link, TX done, then a batch of RX descriptors. enable unmasks the device,
// which raises the line again if a cause came in meanwhile.
#include "softc.h"

namespace pktd_sam {
namespace {

// Hands up to rxbatch frames to the stack; true when the batch was full (more may be waiting).
bool receive_batch(Softc& sc) {
  const pktd_host& h = sc.host;
  auto& ring = sc.port.rx();
  uint32_t i = 0;
  for (; i < sc.opt.rxbatch; ++i) {
    Descriptor& d = ring[sc.rx_next];
    if (d.owner.load(std::memory_order_acquire) != Owner::driver) break;
    pktd_mbuf* m = h.m_devget(d.buf.data(), d.len, PKTD_M_NOWAIT);
    // The buffer goes back to the engine at once, copied or not: a ring left without empty
    // descriptors would make the hardware miss every frame after.
    d.owner.store(Owner::engine, std::memory_order_release);
    sc.rx_next = (sc.rx_next + 1) % ring.size();
    if (m == nullptr) {
      h.if_count(sc.ifp, PKTD_IFC_IQDROPS, 1);
      continue;
    }
    h.if_input(sc.ifp, m);
  }
  if (i > 0) sc.port.rx_refilled();
  return i == sc.opt.rxbatch;
}

// Frames the hardware missed for want of an RX descriptor (without flow control) are drops for
// lack of resources: pktd's iqdrops.
void count_missed(Softc& sc) {
  uint64_t missed = sc.port.rx_missed();
  if (missed == sc.rx_missed_seen) return;
  sc.host.if_count(sc.ifp, PKTD_IFC_IQDROPS, missed - sc.rx_missed_seen);
  sc.rx_missed_seen = missed;
}

pktd_process service(Softc& sc) {
  sc.port.mask_interrupts();
  uint32_t causes = sc.port.read_and_clear_causes();
  if ((causes & kCauseLink) != 0) on_link_change(sc);
  if ((causes & kCauseTxDone) != 0) on_tx_done(sc);
  count_missed(sc);
  // RX descriptors are looked at whatever the causes say: a batch cut short last time left
  // frames behind without a new cause.
  return receive_batch(sc) ? PKTD_PROCESS_AGAIN : PKTD_PROCESS_DONE;
}

}  // namespace

pktd_process sam_process(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  return guarded(&sc->host, "interrupt", PKTD_PROCESS_DONE, [&] { return service(*sc); });
}

void sam_enable(void* arg) { static_cast<Softc*>(arg)->port.unmask_interrupts(); }

}  // namespace pktd_sam
