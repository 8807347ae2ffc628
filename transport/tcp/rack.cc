#include "transport/tcp/rack.h"

#include <algorithm>
#include <iterator>

namespace pktd::tcp {
namespace {

// When a record was sent: the time, the transmission, and its end (pieces of one transmission
// that SACK blocks split keep the first two).
struct SentAt {
  time::TimePoint ts;
  std::uint64_t order;
  Seq end;
};

// RFC 8985 6.2 step 2, RACK_sent_after(t1, seq1, t2, seq2): the first was sent after the second.
// Segments sent at the same instant are ordered by transmission before sequence number (the
// RFC's tie-break, kept for pieces of one transmission): a retransmission sent after new data in
// the same instant has the lower sequence number, and the in-flight list, which loss detection
// walks, is in transmission order.
bool sent_after(const SentAt& a, const SentAt& b) {
  if (a.ts != b.ts) return a.ts > b.ts;
  if (a.order != b.order) return a.order > b.order;
  return a.end > b.end;
}

// RFC 6675 2's DupThresh, which RFC 8985 6.2 step 4 compares RACK.segs_sacked with.
constexpr std::uint32_t kDupThresh = 3;

// RFC 8985 6.2 step 4: the D-SACK-grown window is kept through 16 recoveries without a D-SACK.
constexpr std::int32_t kReoWndPersist = 16;

time::TimePoint to_millisecond(time::TimePoint t) {
  return std::chrono::floor<std::chrono::milliseconds>(t);
}

std::uint32_t octets(Seq start, Seq end) { return static_cast<std::uint32_t>(end - start); }

}  // namespace

// --- The lists ---

void Rack::link_after(Segment& s, Segment* after, List& list) {
  s.prev = after;
  s.next = after ? after->next : list.head;
  if (s.next) s.next->prev = &s;
  else list.tail = &s;
  if (after) after->next = &s;
  else list.head = &s;
}

void Rack::unlink(Segment& s) {
  List& list = list_of(s.where);
  if (s.prev) s.prev->next = s.next;
  else list.head = s.next;
  if (s.next) s.next->prev = s.prev;
  else list.tail = s.prev;
  s.prev = s.next = nullptr;
}

void Rack::leave(Segment& s) {
  switch (s.where) {
    case Where::kLost:
      if (s.retransmitted) lost_retransmitted_octets_ -= octets(s.start, s.end);
      unlink(s);
      return;
    case Where::kInFlight:
      in_flight_octets_ -= octets(s.start, s.end);
      unlink(s);
      return;
    case Where::kDelivered:
      --segs_sacked_;
      return;
  }
}

void Rack::append(Segment& s, Where where) {
  s.where = where;
  switch (where) {
    case Where::kLost:
      if (s.retransmitted) lost_retransmitted_octets_ += octets(s.start, s.end);
      link_after(s, lost_.tail, lost_);
      return;
    case Where::kInFlight:
      in_flight_octets_ += octets(s.start, s.end);
      link_after(s, in_flight_.tail, in_flight_);
      return;
    case Where::kDelivered:
      ++segs_sacked_;
      return;
  }
}

// Splits the record at `it` so that a new one begins at `at` (strictly inside it), right after it
// on its list: the two halves keep the same send time, so the order by time holds. Returns the
// new record, or `it` unchanged when over max_segments.
Rack::Map::iterator Rack::split(Map::iterator it, Seq at) {
  if (segments_.size() >= config_.max_segments) {
    ++stats_.splits_refused;
    return it;
  }
  Segment& first = it->second;
  Segment second = first;
  second.start = at;
  second.prev = second.next = nullptr;
  first.end = at;
  auto added = segments_.emplace_hint(std::next(it), at, second);
  Segment& s = added->second;
  switch (s.where) {
    case Where::kLost:
    case Where::kInFlight:
      link_after(s, &first, list_of(s.where));
      break;
    case Where::kDelivered:
      ++segs_sacked_;
      break;
  }
  return added;
}

// Makes start and end record boundaries where they fall inside a record; returns the first record
// at or after start (the one holding start if it could not be split).
Rack::Map::iterator Rack::split_around(Seq start, Seq end) {
  auto it = segments_.upper_bound(start);
  if (it != segments_.begin() && start < std::prev(it)->second.end) {
    --it;
    if (it->first < start) {
      auto second = split(it, start);
      if (second != it) it = second;
    }
  }
  auto last = segments_.lower_bound(end);
  if (last != segments_.begin()) {
    auto holder = std::prev(last);
    if (holder->first < end && end < holder->second.end) split(holder, end);
  }
  return it;
}

// --- Transmission ---

void Rack::append_new(Seq start, Seq end, time::TimePoint now, std::uint64_t order) {
  if (segments_.size() >= config_.max_segments && !segments_.empty()) {
    // Over the limit: the newest record grows, restamped as sent now (later, never earlier).
    Segment& last = std::prev(segments_.end())->second;
    leave(last);
    last.end = end;
    last.xmit_ts = now;
    last.order = order;
    append(last, Where::kInFlight);
    ++stats_.splits_refused;
    return;
  }
  auto it = segments_.emplace_hint(segments_.end(), start,
                                   Segment{.start = start, .end = end, .xmit_ts = now, .order = order});
  append(it->second, Where::kInFlight);
}

void Rack::on_sent(Seq start, Seq end, time::TimePoint now) {
  if (!(start < end)) return;
  const std::uint64_t order = ++sends_;
  const Seq recorded_end = segments_.empty() ? start : std::prev(segments_.end())->second.end;
  if (start < recorded_end) {
    // RFC 8985 6.2, upon transmitting: "Segment.xmit_ts = Now()", Segment.lost cleared; the
    // segment is now a retransmission. Delivered records stay delivered.
    const Seq stop = std::min(end, recorded_end);
    for (auto it = split_around(start, stop); it != segments_.end() && it->first < stop; ++it) {
      Segment& s = it->second;
      if (s.where == Where::kDelivered) continue;
      leave(s);
      s.xmit_ts = now;
      s.order = order;
      s.retransmitted = true;
      append(s, Where::kInFlight);
    }
  }
  if (end > recorded_end) append_new(std::max(start, recorded_end), end, now, order);
}

// --- ACKs ---

void Rack::on_ack(const RackAck& ack, std::span<const wire::TcpSackBlock> newly_sacked) {
  scan_ = AckScan{};
  // Segments cumulatively acknowledged: every record that ends at or below SND.UNA. A record
  // SND.UNA cuts stays whole (and undelivered) until the rest is acknowledged too.
  while (!segments_.empty() && segments_.begin()->second.end <= ack.snd_una) {
    Segment& s = segments_.begin()->second;
    if (s.where != Where::kDelivered) deliver(s, ack);
    leave(s);
    segments_.erase(segments_.begin());
  }
  for (const auto& block : newly_sacked) {
    const Seq left(block.left), right(block.right);
    for (auto it = split_around(left, right); it != segments_.end() && it->first < right; ++it) {
      Segment& s = it->second;
      if (s.where == Where::kDelivered || s.start < left || s.end > right) continue;
      deliver(s, ack);
      leave(s);
      append(s, Where::kDelivered);
    }
  }
  if (scan_.any) {
    // Step 3: RACK.fack, the highest end delivered.
    if (!fack_ || scan_.highest_end > *fack_) fack_ = scan_.highest_end;
  }
  update_dsack_round(ack);
}

// RFC 8985 6.2 steps 1-3 for one newly delivered segment.
void Rack::deliver(Segment& s, const RackAck& ack) {
  // Step 3: an original (never retransmitted) segment delivered below RACK.fack arrived after one
  // sent later: the network reordered them.
  if (fack_ && s.end < *fack_ && !s.retransmitted) {
    if (!reordering_seen_) ++stats_.reordering_detected;
    reordering_seen_ = true;
  }
  if (!scan_.any || s.end > scan_.highest_end) scan_.highest_end = s.end;
  scan_.any = true;
  // Step 2: a retransmitted segment's timing is ambiguous. Ignore it if the TSecr says the ACK
  // answers an earlier transmission, or if it was resent less than RACK.min_RTT ago (it cannot
  // be this transmission that was delivered).
  const time::Duration rtt = ack.now - s.xmit_ts;
  if (s.retransmitted) {
    if (ack.echoed && *ack.echoed < to_millisecond(s.xmit_ts)) return;
    if (!min_rtt_ || rtt < *min_rtt_) return;
  }
  // Step 1: RACK.min_RTT, here the connection's smallest valid sample (RFC 8985 allows "a simple
  // global minimum of all RTT measurements").
  if (!min_rtt_ || rtt < *min_rtt_) min_rtt_ = rtt;
  // Step 2: RACK.rtt from the most recently sent of the segments newly delivered; RACK.xmit_ts and
  // RACK.end_seq move forward only.
  if (!scan_.newest_ts || sent_after({s.xmit_ts, s.order, s.end}, {*scan_.newest_ts, scan_.newest_order, scan_.newest_end})) {
    scan_.newest_ts = s.xmit_ts;
    scan_.newest_order = s.order;
    scan_.newest_end = s.end;
    rtt_ = rtt;
  }
  if (!xmit_ts_ || sent_after({s.xmit_ts, s.order, s.end}, {*xmit_ts_, xmit_order_, end_seq_})) {
    xmit_ts_ = s.xmit_ts;
    xmit_order_ = s.order;
    end_seq_ = s.end;
  }
}

void Rack::update_dsack_round(const RackAck& ack) {
  // RFC 8985 6.2 step 4: grow the window by one min_RTT/4 per round trip that sees a D-SACK (a
  // spurious retransmission: the window was too small).
  if (dsack_round_ && ack.snd_una >= *dsack_round_) dsack_round_.reset();
  if (!dsack_round_ && ack.dsack) {
    dsack_round_ = ack.snd_nxt;
    ++reo_wnd_mult_;
    reo_wnd_persist_ = kReoWndPersist;
  }
}

void Rack::on_recovery_exit() {
  // RFC 8985 6.2 step 4: back to min_RTT/4 after 16 recoveries without a D-SACK.
  if (--reo_wnd_persist_ <= 0) reo_wnd_mult_ = 1;
}

void Rack::forget_sacks(time::TimePoint now) {
  for (auto& [start, s] : segments_) {
    if (s.where != Where::kDelivered) continue;
    leave(s);
    s.xmit_ts = now;
    s.order = ++sends_;
    append(s, Where::kInFlight);
  }
}

// --- Loss detection ---

time::Duration Rack::reordering_window(bool in_recovery, std::optional<time::Duration> srtt) const {
  // RFC 8985 6.2 step 4: without reordering seen, no window during recovery or once DupThresh
  // segments are SACKed (DupThresh's own rule, kept); otherwise a quarter of min_RTT (times the
  // D-SACK multiplier), at most SRTT.
  if (!reordering_seen_ && (in_recovery || segs_sacked_ >= kDupThresh)) return {};
  if (!min_rtt_) return {};
  time::Duration window = reo_wnd_mult_ * *min_rtt_ / 4;
  if (srtt) window = std::min(window, *srtt);
  return window;
}

void Rack::mark_lost(Segment& s) {
  leave(s);
  append(s, Where::kLost);
  ++stats_.marked_lost;
}

RackLossCheck Rack::detect_loss(time::TimePoint now, bool in_recovery,
                                std::optional<time::Duration> srtt) {
  RackLossCheck result;
  if (!xmit_ts_) return result;
  const time::Duration reo_wnd = reordering_window(in_recovery, srtt);
  // RFC 8985 6.2 step 5: a segment sent before RACK.segment is lost once RACK.rtt + reo_wnd have
  // passed since it was sent. The in-flight list is in send order: stop at the first segment not
  // sent before RACK.segment (a window sent at one instant would otherwise be walked to its end
  // on every ACK), or at the first still inside its window (every later one expires later still).
  Segment* s = in_flight_.head;
  while (s != nullptr && sent_after({*xmit_ts_, xmit_order_, end_seq_}, {s->xmit_ts, s->order, s->end})) {
    Segment* next = s->next;
    const time::TimePoint deadline = s->xmit_ts + rtt_ + reo_wnd;
    if (deadline > now) {
      // The reordering timer: when this one expires (the earliest; RFC 8985's pseudocode waits
      // for the latest, see docs/tcp.md).
      result.timer = deadline;
      break;
    }
    mark_lost(*s);
    ++result.newly_lost;
    s = next;
  }
  return result;
}

std::optional<wire::TcpSackBlock> Rack::next_lost() const {
  if (!lost_.head) return std::nullopt;
  return wire::TcpSackBlock{lost_.head->start.value(), lost_.head->end.value()};
}

std::size_t Rack::lost_count() const {
  std::size_t n = 0;
  for (const Segment* s = lost_.head; s; s = s->next) ++n;
  return n;
}

}  // namespace pktd::tcp
