// Driver requests (pkt nicinfo samN REQUEST...): status, the link and the transmit DMA on
// command, a ring reset under quiesce_all, and the mistakes that show pktd's checks at work.
// Runs in the stack context.
#include <cerrno>
#include <charconv>
#include <cstdarg>
#include <cstdio>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "softc.h"

namespace pktd_sam {
namespace {

constexpr uint32_t kMaxBlockMs = 10000;

std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && text[i] == ' ') ++i;
    size_t start = i;
    while (i < text.size() && text[i] != ' ') ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

__attribute__((format(printf, 3, 4))) void say(char* reply, size_t len, const char* fmt, ...) {
  if (reply == nullptr || len == 0) return;
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(reply, len, fmt, args);
  va_end(args);
}

size_t frames_waiting(const std::vector<Descriptor>& rx) {
  size_t n = 0;
  for (const Descriptor& d : rx) n += d.owner.load(std::memory_order_acquire) == Owner::driver;
  return n;
}

const char* waiting_for(const Softc& sc) {
  if (sc.waiting_for_link) return "the link";
  if (sc.waiting_for_descriptors) return "descriptors";
  return "nothing";
}

void status(Softc& sc, char* reply, size_t len) {
  const pktd_host& h = sc.host;
  h.if_tx_lock(sc.ifp);
  size_t in_flight = sc.tx_in_flight;
  const char* waiting = waiting_for(sc);
  h.if_tx_unlock(sc.ifp);
  const Counters& c = sc.counters;
  say(reply, len,
      "%s: %s, link %s, firmware: %s\n"
      "tx: %zu descriptors, %zu in flight, engine %s, waiting for %s\n"
      "rx: %zu descriptors, %llu missed (no descriptor), flow control %s\n"
      "kicks %llu, link restarts %llu, stale purges %llu (after %u ms), resets %llu, "
      "oversize %llu\n"
      "mistake: %s\n",
      h.if_name(sc.ifp), describe(sc).c_str(),
      sc.board->link_up() ? "up" : "down", sc.firmware.c_str(), sc.port.tx().size(), in_flight,
      sc.board->tx_held() ? "held" : "running", waiting, sc.port.rx().size(),
      static_cast<unsigned long long>(sc.port.rx_missed()), sc.board->flow_control() ? "on" : "off",
      static_cast<unsigned long long>(c.kicks.load()),
      static_cast<unsigned long long>(c.link_restarts.load()),
      static_cast<unsigned long long>(c.stale_purges.load()), sc.opt.stale_ms,
      static_cast<unsigned long long>(c.resets.load()),
      static_cast<unsigned long long>(c.oversize.load()), mistake_name(sc.mistake.load()));
}

int set_link(Softc& sc, std::string_view how, char* reply, size_t len) {
  if (how != "up" && how != "down") {
    say(reply, len, "link: expected up or down");
    return EINVAL;
  }
  // Pulls or plugs the cable: both ends of a pair see it, through their link interrupt.
  sc.board->set_plugged(how == "up");
  say(reply, len, "%s: cable %s", sc.host.if_name(sc.ifp),
      how == "up" ? "plugged in" : "pulled out");
  return 0;
}

int set_mistake(Softc& sc, const std::vector<std::string_view>& w, char* reply, size_t len) {
  if (w.size() == 3 && w[1] == "block") {
    uint32_t ms = 0;
    auto [p, ec] = std::from_chars(w[2].data(), w[2].data() + w[2].size(), ms);
    if (ec != std::errc() || p != w[2].data() + w[2].size() || ms == 0 || ms > kMaxBlockMs) {
      say(reply, len, "mistake block: expected milliseconds from 1 to %u", kMaxBlockMs);
      return EINVAL;
    }
    sc.block_once_ms.store(ms);
    say(reply, len, "%s: the next housekeeping callout blocks the stack context for %u ms",
        sc.host.if_name(sc.ifp), ms);
    return 0;
  }
  Mistake m = Mistake::none;
  if (w.size() != 2 || !parse_mistake(std::string(w[1]).c_str(), m)) {
    say(reply, len, "mistake: expected none, no-restart, deaf or block MS");
    return EINVAL;
  }
  sc.mistake.store(m);
  say(reply, len, "%s: mistake %s", sc.host.if_name(sc.ifp), mistake_name(m));
  return 0;
}

int reset(Softc& sc, char* reply, size_t len) {
  std::string why;
  int err = reset_rings(sc, why);
  if (err != 0) {
    say(reply, len, "reset: %s", why.c_str());
    return err;
  }
  say(reply, len, "%s: rings reset", sc.host.if_name(sc.ifp));
  return 0;
}

int dispatch(Softc& sc, const std::vector<std::string_view>& w, char* reply, size_t len) {
  if (w.empty() || (w[0] == "status" && w.size() == 1)) {
    status(sc, reply, len);
    return 0;
  }
  if (w[0] == "link" && w.size() == 2) return set_link(sc, w[1], reply, len);
  if ((w[0] == "txhold" || w[0] == "txresume") && w.size() == 1) {
    sc.board->hold_tx(w[0] == "txhold");
    say(reply, len, "%s: transmit engine %s", sc.host.if_name(sc.ifp),
        w[0] == "txhold" ? "held" : "running");
    return 0;
  }
  if (w[0] == "reset" && w.size() == 1) return reset(sc, reply, len);
  if (w[0] == "mistake") return set_mistake(sc, w, reply, len);
  say(reply, len,
      "unknown request; expected status, link up|down, txhold, txresume, reset, "
      "mistake none|no-restart|deaf|block MS");
  return EINVAL;
}

}  // namespace

std::string describe(const Softc& sc) {
  if (sc.board->ports() == 1) return "loopback";
  std::string port = std::to_string(sc.port_index);
  return sc.opt.cable.empty() ? "pair port " + port : "cable " + sc.opt.cable + " end " + port;
}

int reset_rings(Softc& sc, std::string& why) {
  const pktd_host& h = sc.host;
  // Seed: quiesce_all blocks every worker and tracked thread (our engines too), so nothing
  // touches the rings while they are taken back.
  if (int err = h.quiesce_all(); err != 0) {
    why = std::string("quiesce_all failed: ") + std::strerror(err) +
          " (the log names the thread that did not answer)";
    return err;
  }
  h.if_tx_lock(sc.ifp);
  // What was sent counts as sent; frames still queued in TX descriptors, and received frames not
  // yet handed up, are lost with the reset, as on hardware.
  reclaim_tx(sc);
  h.if_count(sc.ifp, PKTD_IFC_OERRORS, sc.tx_in_flight);
  h.if_count(sc.ifp, PKTD_IFC_IQDROPS, frames_waiting(sc.port.rx()));
  sc.port.reset_rings();
  sc.tx_next = sc.tx_reclaim = sc.tx_in_flight = 0;
  sc.rx_next = 0;
  sc.rx_missed_seen = 0;  // the reset cleared the hardware's missed counter too
  sc.counters.resets.fetch_add(1, std::memory_order_relaxed);
  h.if_tx_unlock(sc.ifp);
  h.unquiesce_all();
  // Whatever waited for descriptors can go now.
  h.if_tx_lock(sc.ifp);
  start_locked(sc);
  h.if_tx_unlock(sc.ifp);
  return 0;
}

int sam_ioctl(pktd_ifnet* /*ifp*/, void* softc, const char* request, char* reply,
              size_t reply_len) {
  auto* sc = static_cast<Softc*>(softc);
  return guarded(&sc->host, "ioctl", EIO, [&] {
    return dispatch(*sc, words_of(request != nullptr ? request : ""), reply, reply_len);
  });
}

}  // namespace pktd_sam
