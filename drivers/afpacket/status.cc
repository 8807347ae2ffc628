// pktd_if_ops.ioctl: `pkt nicinfo afp0 status` shows the ring's geometry and what the kernel and
// the driver counted, one "name value" per line after two lines of text; `help` lists requests.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "softc.h"

namespace pktd_afpacket {
namespace {

constexpr const char* kHelp = "requests: status (ring geometry, kernel and driver counters), help";

void line(std::string& out, const char* name, uint64_t value) {
  out += name;
  out += ' ';
  out += std::to_string(value);
  out += '\n';
}

std::string describe(Softc& sc) {
  const pktd_host& h = sc.host;
  const RingGeometry& g = sc.ring.geometry;
  // Read now, so that the kernel's counts are current (reading resets them; the sums live here).
  collect_ring_statistics(sc);
  char head[512];
  std::snprintf(head, sizeof(head),
                "%s: AF_PACKET on Linux device %s (index %u), %s\n"
                "ring: TPACKET_V3, %u blocks of %u bytes (%zu KiB), frame size %u, "
                "retire timeout %u ms, rxbatch %u\n",
                h.if_name(sc.ifp), sc.opt.dev.c_str(), sc.ifindex,
                sc.device_gone.load()                     ? "device gone"
                : h.if_link_state(sc.ifp) == PKTD_LINK_UP ? "link up"
                                                          : "link down",
                g.block_count, g.block_size, g.bytes() / 1024, g.frame_size, g.retire_ms,
                sc.opt.rxbatch);
  std::string out = head;
  line(out, "kernel_packets", sc.kernel.packets.get());
  line(out, "kernel_drops", sc.kernel.drops.get());
  line(out, "kernel_freezes", sc.kernel.freezes.get());
  line(out, "rx_delivered", sc.rx.delivered.get());
  line(out, "rx_outgoing_skipped", sc.rx.outgoing.get());
  line(out, "rx_filtered", sc.rx.filtered.get());
  line(out, "rx_truncated", sc.rx.truncated.get());
  line(out, "rx_oversize", sc.rx.oversize.get());
  line(out, "rx_runts", sc.rx.runts.get());
  line(out, "rx_malformed", sc.rx.malformed.get());
  line(out, "rx_no_mbuf", sc.rx.no_mbuf.get());
  line(out, "rx_vlan_reinserted", sc.rx.vlan_reinserted.get());
  line(out, "rx_csum_completed", sc.rx.csum_completed.get());
  line(out, "rx_csum_partial", sc.rx.csum_partial.get());
  line(out, "rx_blocks", sc.rx.blocks.get());
  line(out, "tx_busy", sc.tx_busy.get());
  return out;
}

int reply_with(const std::string& text, char* reply, size_t reply_len) {
  if (reply == nullptr || reply_len == 0) return ENOSPC;
  std::snprintf(reply, reply_len, "%s", text.c_str());
  return text.size() < reply_len ? 0 : ENOSPC;
}

}  // namespace

int afp_ioctl(pktd_ifnet*, void* softc, const char* request, char* reply, size_t reply_len) {
  auto* sc = static_cast<Softc*>(softc);
  return guarded(&sc->host, "ioctl", EIO, [&] {
    std::string req = request != nullptr ? request : "";
    if (req == "status") return reply_with(describe(*sc), reply, reply_len);
    if (req == "help") return reply_with(kHelp, reply, reply_len);
    reply_with("unknown request '" + req + "'; " + kHelp, reply, reply_len);
    return EINVAL;
  });
}

}  // namespace pktd_afpacket
