// Requests through pktd_if_ops.ioctl (`pkt nicinfo IF REQUEST`), in the stack context:
//   status   the receive thread, the internal queue and the drop counters; reads atomics only
//            and never takes the receive lock, which would block the stack context
//   quiesce  quiesce_all then unquiesce_all: shows the receive thread answering its quiesce
//            callback (die = 0) while traffic flows; pktd itself never quiesces

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string>

#include "softc.h"

namespace pktd_nointr {
namespace {

uint64_t get(const Counter& c) { return c.load(std::memory_order_relaxed); }

// One "name: value" per line, so that scripts (and the tests) can split it.
std::string status_text(const Softc& sc) {
  char text[2048];
  std::snprintf(
      text, sizeof text,
      "thread: %s\n"
      "thread_tid: %d\n"
      "socket: %s\n"
      "peer: %s\n"
      "rx_queue: %zu/%zu\n"
      "rx_frames: %llu\n"
      "rx_events_sent: %llu\n"
      "rx_process_calls: %llu\n"
      "rx_drop_queue_full: %llu\n"
      "rx_drop_no_mbuf: %llu\n"
      "rx_drop_oversize: %llu\n"
      "rx_drop_runt: %llu\n"
      "rx_errors: %llu\n"
      "tx_frames: %llu\n"
      "tx_retries: %llu\n"
      "tx_drop_no_peer: %llu\n"
      "tx_drop_oversize: %llu\n"
      "tx_errors: %llu\n",
      to_string(sc.rx_state.load(std::memory_order_relaxed)),
      sc.rx_tid.load(std::memory_order_relaxed), sc.opt.path.c_str(), sc.opt.peer.c_str(),
      sc.rx_queue.length(), sc.rx_queue.capacity(),
      static_cast<unsigned long long>(get(sc.rx.frames)),
      static_cast<unsigned long long>(get(sc.rx.events_sent)),
      static_cast<unsigned long long>(get(sc.rx.process_calls)),
      static_cast<unsigned long long>(get(sc.rx.drop_queue_full)),
      static_cast<unsigned long long>(get(sc.rx.drop_no_mbuf)),
      static_cast<unsigned long long>(get(sc.rx.drop_oversize)),
      static_cast<unsigned long long>(get(sc.rx.drop_runt)),
      static_cast<unsigned long long>(get(sc.rx.errors)),
      static_cast<unsigned long long>(get(sc.tx.frames)),
      static_cast<unsigned long long>(get(sc.tx.retries)),
      static_cast<unsigned long long>(get(sc.tx.drop_no_peer)),
      static_cast<unsigned long long>(get(sc.tx.drop_oversize)),
      static_cast<unsigned long long>(get(sc.tx.errors)));
  return text;
}

// Copies text into the caller's buffer, cut short (and still terminated) if it must be.
void reply_with(const std::string& text, char* reply, size_t reply_len) {
  if (reply == nullptr || reply_len == 0) return;
  size_t n = std::min(text.size(), reply_len - 1);
  std::memcpy(reply, text.data(), n);
  reply[n] = '\0';
}

// Seed, "Quiesce handling": quiesce_all blocks every worker and tracked thread; our thread is
// then parked in quiesce_block(0), which is what the reply checks, until unquiesce_all.
int quiesce_round(Softc& sc, char* reply, size_t reply_len) {
  const pktd_host& h = sc.host;
  if (int err = h.quiesce_all(); err != 0) {
    reply_with(std::string("quiesce_all failed: ") + error_text(err), reply, reply_len);
    return err;
  }
  RxThreadState seen = sc.rx_state.load(std::memory_order_relaxed);
  h.unquiesce_all();
  if (seen != RxThreadState::quiesced) {
    reply_with(std::string("quiesced, but the receive thread was ") + to_string(seen), reply,
               reply_len);
    return EIO;
  }
  reply_with("receive thread quiesced and resumed", reply, reply_len);
  return 0;
}

}  // namespace

int handle_request(Softc& sc, const char* request, char* reply, size_t reply_len) {
  std::string words = request != nullptr ? request : "";
  if (words == "status") {
    reply_with(status_text(sc), reply, reply_len);
    return 0;
  }
  if (words == "quiesce") return quiesce_round(sc, reply, reply_len);
  reply_with("unknown request '" + words + "' (nointr knows: status, quiesce)", reply, reply_len);
  return EINVAL;
}

}  // namespace pktd_nointr
