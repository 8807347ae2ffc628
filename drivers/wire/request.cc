// Requests through pkt nicinfo IF WORDS... (pktd_if_ops.ioctl, in the stack context):
//   status                 the link, the fault settings with the seed, and what was done
//   clear                  every fault off
//   KEY=VALUE ...          fault settings, as at mount time (loss=5 delay=0 seed=42)
// Words may be separated by spaces or commas. A request with a bad word changes nothing.
#include <cerrno>
#include <cstdio>
#include <string>
#include <vector>

#include "softc.h"

namespace devnp_wire {
namespace {

std::vector<std::string> split_words(const char* text) {
  std::vector<std::string> words;
  std::string word;
  for (const char* p = text; p != nullptr && *p != '\0'; ++p) {
    if (*p == ' ' || *p == ',' || *p == '\t' || *p == '\n') {
      if (!word.empty()) words.push_back(std::move(word));
      word.clear();
    } else {
      word += *p;
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  return words;
}

int reply_with(char* reply, size_t len, const std::string& text, int status) {
  if (len > 0) std::snprintf(reply, len, "%s", text.c_str());
  return status;
}

std::string counts_line(const FaultCounts& c, size_t held) {
  return "injected: frames=" + std::to_string(c.frames) +
         " delivered=" + std::to_string(c.delivered) + " dropped=" + std::to_string(c.dropped) +
         " duplicated=" + std::to_string(c.duplicated) +
         " reordered=" + std::to_string(c.reordered) + " delayed=" + std::to_string(c.delayed) +
         " corrupted=" + std::to_string(c.corrupted) +
         " rate_dropped=" + std::to_string(c.rate_dropped) +
         " overflow=" + std::to_string(c.overflow) + " held=" + std::to_string(held) + "\n";
}

std::string peer_text(const TxState& tx) {
  if (!tx.peer_up) return "none (link down)";
  return "attached (pid " + std::to_string(tx.peer_pid) + ", mtu " + std::to_string(tx.peer_mtu) +
         ")";
}

std::string settings_line(const FaultInjector& f) {
  return format_settings(f.settings()) + " seed=" + std::to_string(f.seed());
}

// Called with the transmit lock held.
std::string status_text(Softc& sc) {
  const TxState& tx = sc.tx;
  const RxCounters& rx = sc.rx_counts;
  std::string out =
      "link " + sc.opt.link + ", end " + std::to_string(sc.end) + ", peer " + peer_text(tx) + "\n";
  out += "settings: " + settings_line(sc.faults) + "\n";
  out += counts_line(sc.faults.counts(), sc.faults.held());
  out += "transmit: ring_full=" + std::to_string(tx.ring_full) +
         " wakeups=" + std::to_string(tx.wakeups) + " no_peer=" + std::to_string(tx.no_peer) +
         " in_ring=" + std::to_string(tx.ring.in_use()) + "/" + std::to_string(kRingSlots) + "\n";
  out += "receive: too_big=" + std::to_string(rx.too_big.load()) +
         " malformed=" + std::to_string(rx.malformed.load()) +
         " no_mbuf=" + std::to_string(rx.no_mbuf.load()) +
         " broken_ring=" + std::to_string(rx.broken.load()) + "\n";
  return out;
}

std::string usage(const std::string& word) {
  return "unknown request '" + word + "': expected status, clear, or KEY=VALUE with KEY one of " +
         "loss, dup, reorder, corrupt (percent), delay, jitter (ms), rate (bits/s), ratequeue, " +
         "seed";
}

// Parses every word before changing anything. "" or the reason.
std::string parse_changes(const std::vector<std::string>& words, FaultConfig& cfg) {
  for (const std::string& w : words) {
    size_t eq = w.find('=');
    if (eq == std::string::npos || !is_fault_option(w.substr(0, eq))) return usage(w);
    std::string error = apply_fault_option(w.substr(0, eq), w.substr(eq + 1), cfg);
    if (!error.empty()) return error;
  }
  return "";
}

int change(Softc& sc, const std::vector<std::string>& words, bool clear, char* reply, size_t len) {
  std::string error;
  std::string now;
  {
    TxLock lock(sc);
    FaultConfig cfg{clear ? FaultSettings{} : sc.faults.settings(), std::nullopt};
    error = parse_changes(words, cfg);
    if (error.empty()) {
      sc.faults.set_settings(cfg.settings);
      if (cfg.seed) sc.faults.reseed(*cfg.seed);
    }
    now = settings_line(sc.faults);
  }
  if (!error.empty()) return reply_with(reply, len, error, EINVAL);
  sc.host.log(PKTD_LOG_INFO, "wire: %s: faults now %s", sc.name(), now.c_str());
  return reply_with(reply, len, now, 0);
}

int handle(Softc& sc, const char* request, char* reply, size_t len) {
  std::vector<std::string> words = split_words(request);
  if (words.empty() || (words.size() == 1 && words[0] == "status")) {
    TxLock lock(sc);
    return reply_with(reply, len, status_text(sc), 0);
  }
  if (words.size() == 1 && words[0] == "clear") return change(sc, {}, true, reply, len);
  return change(sc, words, false, reply, len);
}

}  // namespace

int wire_ioctl(pktd_ifnet* /*ifp*/, void* softc, const char* request, char* reply, size_t len) {
  auto* sc = static_cast<Softc*>(softc);
  return guarded(&sc->host, "request", EIO, [&] { return handle(*sc, request, reply, len); });
}

}  // namespace devnp_wire
