#include "inet/capture.h"

#include <algorithm>

namespace pktd::inet {

uint64_t CaptureHub::start(uint32_t ifindex, uint32_t snaplen, uint32_t link_type,
                           time::TimePoint now) {
  if (sessions_.size() >= kMaxSessions) return 0;
  uint64_t id = next_id_++;
  Session& s = sessions_[id];
  s.ifindex = ifindex;
  s.snaplen = snaplen;
  s.link_type = link_type;
  s.last_read = now;
  rebuild_watched();
  return id;
}

CaptureHub::Session* CaptureHub::find(uint64_t id) {
  auto it = sessions_.find(id);
  return it == sessions_.end() ? nullptr : &it->second;
}

void CaptureHub::stop(uint64_t id) {
  sessions_.erase(id);
  rebuild_watched();
}

void CaptureHub::interface_gone(uint32_t ifindex) {
  for (auto& [id, s] : sessions_)
    if (s.ifindex == ifindex) s.closed = true;
  rebuild_watched();
}

void CaptureHub::expire_idle(time::TimePoint now, time::Duration idle_timeout) {
  std::erase_if(sessions_, [&](const auto& kv) { return now - kv.second.last_read > idle_timeout; });
  rebuild_watched();
}

void CaptureHub::rebuild_watched() {
  watched_.clear();
  for (auto& [id, s] : sessions_)
    if (!s.closed) ++watched_[s.ifindex];
}

void CaptureHub::record(uint32_t ifindex, const buf::Mbuf& m, bool outgoing, int64_t wall_ns) {
  size_t len = m.has_pkthdr ? m.pkthdr.len : buf::chain_length(&m);
  for (auto& [id, s] : sessions_) {
    if (s.ifindex != ifindex || s.closed) continue;
    size_t keep = std::min<size_t>(len, s.snaplen);
    if (s.bytes + keep + kFrameOverhead > kMaxBytesPerSession) {
      ++s.dropped;  // the reader is slow: lose this frame, keep the older ones
      continue;
    }
    Frame f;
    f.time_ns = wall_ns;
    f.outgoing = outgoing;
    f.original_length = static_cast<uint32_t>(len);
    f.data.resize(keep);
    (void)buf::copy_data(m, 0, std::as_writable_bytes(std::span<char>(f.data.data(), keep)));
    s.bytes += keep + kFrameOverhead;
    s.frames.push_back(std::move(f));
    if (on_frame) on_frame(&s);
  }
}

}  // namespace pktd::inet
