// Capture sessions (what BPF is to tcpdump): copies of the frames an interface receives and
// sends, kept until `pkt capture` reads them. Bounded per session; a session nobody reads is
// closed after idle_timeout, so a killed reader leaves nothing behind.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "buf/mbuf.h"
#include "time/clock.h"

namespace pktd::inet {

struct Frame {
  int64_t time_ns = 0;  // wall clock
  bool outgoing = false;
  uint32_t original_length = 0;
  std::string data;
};

class CaptureHub {
 public:
  static constexpr size_t kMaxBytesPerSession = 8u << 20;
  static constexpr size_t kMaxSessions = 16;
  // What a frame costs against kMaxBytesPerSession besides its data (the Frame and its queue
  // slot): a snap length of 1 must not let millions of frames pile up.
  static constexpr size_t kFrameOverhead = sizeof(Frame) + 32;

  struct Session {
    uint32_t ifindex = 0;
    uint32_t snaplen = 0;
    uint32_t link_type = 1;
    std::deque<Frame> frames;
    size_t bytes = 0;
    uint64_t dropped = 0;
    bool closed = false;
    time::TimePoint last_read;
  };

  // 0 when there are already kMaxSessions.
  uint64_t start(uint32_t ifindex, uint32_t snaplen, uint32_t link_type, time::TimePoint now);
  Session* find(uint64_t id);
  void stop(uint64_t id);
  // The interface is gone: its sessions read as closed.
  void interface_gone(uint32_t ifindex);
  void expire_idle(time::TimePoint now, time::Duration idle_timeout);
  bool empty() const { return sessions_.empty(); }
  // Fast check for the data path.
  bool watching(uint32_t ifindex) const {
    return !sessions_.empty() && watched_.count(ifindex) != 0;
  }
  void record(uint32_t ifindex, const buf::Mbuf& m, bool outgoing, int64_t wall_ns);
  // Told (with the session) when a frame is recorded, so a waiting reader wakes.
  std::function<void(Session*)> on_frame;

 private:
  void rebuild_watched();
  std::map<uint64_t, Session> sessions_;
  std::map<uint32_t, int> watched_;  // ifindex -> sessions
  uint64_t next_id_ = 1;
};

}  // namespace pktd::inet
