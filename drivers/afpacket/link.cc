// The link monitor: an rtnetlink socket subscribed to RTMGRP_LINK, read by its own fd interrupt
// source. The pktd link follows the Linux device's IFF_UP and carrier; the device's deletion
// (or its move to another namespace, which is a deletion here) stops receive for good.
#include <sys/socket.h>

#include <cerrno>

#include "softc.h"

namespace pktd_afpacket {
namespace {

// Datagrams read per interrupt before giving other sources a turn.
constexpr int kLinkBatch = 16;

// The Linux device is gone: nothing more will come from it, and a device made later under the
// same name is another device (the socket stays bound to the old index). Detached from here,
// not from the receive source's own callback, which the runtime refuses.
void device_deleted(Softc& sc) {
  if (sc.device_gone.exchange(true)) return;
  sc.host.log(PKTD_LOG_ERROR,
              "afpacket: %s: Linux device %s has gone away; link down, receive stopped "
              "(frames sent count as output errors until the interface is destroyed)",
              sc.host.if_name(sc.ifp), sc.opt.dev.c_str());
  afp_set_link(sc, false);
  if (pktd_irq* rx = sc.rx_irq.exchange(nullptr)) sc.host.irq_detach(rx);
}

void on_link_event(void* ctx, const LinkEvent& event) {
  auto& sc = *static_cast<Softc*>(ctx);
  if (event.deleted) {
    device_deleted(sc);
    return;
  }
  afp_set_link(sc, link_up(event.flags));
}

// Messages were lost (socket overrun) or cut short: ask for the current state instead.
void resync_link(Softc& sc) {
  LinkEvent now;
  int err = query_link(sc.ifindex, now);
  if (err == ENODEV) {
    device_deleted(sc);
    return;
  }
  if (err != 0) {
    sc.host.log(PKTD_LOG_WARNING, "afpacket: %s: link state query: %s", sc.host.if_name(sc.ifp),
                error_text(err));
    return;
  }
  afp_set_link(sc, link_up(now.flags));
}

pktd_process link_batch(Softc& sc) {
  for (int i = 0; i < kLinkBatch; ++i) {
    ssize_t n =
        ::recv(sc.link_fd, sc.link_buf.data(), sc.link_buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == ENOBUFS) {
        resync_link(sc);
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK)
        sc.host.log(PKTD_LOG_WARNING, "afpacket: %s: link monitor: %s", sc.host.if_name(sc.ifp),
                    error_text(errno));
      return PKTD_PROCESS_DONE;
    }
    if (static_cast<size_t>(n) > sc.link_buf.size()) {
      resync_link(sc);
      continue;
    }
    parse_link_messages(sc.link_buf.data(), static_cast<size_t>(n), sc.ifindex, on_link_event, &sc);
  }
  return PKTD_PROCESS_AGAIN;
}

}  // namespace

pktd_process afp_link_process(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  return guarded(&sc->host, "link monitor", PKTD_PROCESS_DONE, [&] { return link_batch(*sc); });
}

void afp_irq_enable(void*) {}

void afp_set_link(Softc& sc, bool up) {
  // Once the device is gone, a late message cannot bring the link back.
  pktd_link_state state = up && !sc.device_gone.load() ? PKTD_LINK_UP : PKTD_LINK_DOWN;
  // Every RTM_NEWLINK (an address, a statistics update) is not a link change.
  if (sc.host.if_link_state(sc.ifp) != state) sc.host.if_link_state_change(sc.ifp, state);
}

}  // namespace pktd_afpacket
