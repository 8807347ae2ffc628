// RACK, the time-based half of RFC 8985 (section 6): a segment is deemed lost when a segment
// sent sufficiently later has been delivered, whatever its sequence number. Unlike RFC 6675's
// DupThresh, this also finds lost retransmissions, which otherwise only the retransmission timer
// repairs.
//
// What it keeps (RFC 8985 6.1): one record per transmitted segment still outstanding, with its
// send time (Segment.xmit_ts), whether it was ever retransmitted, and where it stands:
//   in flight   not delivered and not deemed lost: kept on a list ordered by send time (RFC 8985
//               6.2 step 5's optimisation: "a separate doubly linked list ordered by
//               Segment.xmit_ts, inserts a segment at the tail of the list when it is
//               (re)transmitted, and removes a segment from the list when it is delivered or
//               marked as lost");
//   lost        deemed lost and not sent again yet: kept on a second list, in the order marked,
//               which is what the connection retransmits first;
//   delivered   SACKed; it stays until the cumulative ACK passes it (RACK.segs_sacked counts it).
// Records are found by sequence number in a std::map; the lists thread through its nodes, whose
// addresses never move. Cost per ACK: O(log n) per newly SACKed range plus O(1) per segment
// newly delivered or marked lost; a transmission is O(log n).
//
// Records follow what was actually sent: a retransmission or a SACK block that covers part of a
// record splits it. A receiver could split records to single octets; past max_segments records
// nothing is split any more (a partly SACKed record then stays undelivered and may be resent
// whole, a partial retransmission restamps the whole record): conservative, never wrong data.
//
// Pure: time is an argument, no I/O. The connection (rack_loss.cc) feeds it transmissions and
// ACKs, asks detect_loss, and retransmits what next_lost() names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>

#include "time/clock.h"
#include "transport/tcp/sequence.h"
#include "wire/tcp.h"

namespace pktd::tcp {

struct RackConfig {
  std::size_t max_segments = 65536;
};

// What one ACK told RACK, beyond the ranges it delivered.
struct RackAck {
  time::TimePoint now;
  Seq snd_una;  // after this ACK
  Seq snd_nxt;  // SND.NXT (the end of everything sent), for the D-SACK round
  // The send time named by the ACK's TSecr (RFC 7323), to the timestamp clock's millisecond;
  // nullopt without timestamps.
  std::optional<time::TimePoint> echoed;
  bool dsack = false;  // the ACK carried a D-SACK block (RFC 2883)
};

// What RACK_detect_loss found (RFC 8985 6.2 step 5).
struct RackLossCheck {
  std::uint32_t newly_lost = 0;  // segments marked lost by this call
  // When the first segment still waiting for its reordering window expires: the reordering timer.
  std::optional<time::TimePoint> timer;
};

struct RackStats {
  std::uint64_t marked_lost = 0;         // segments deemed lost (RFC 8985 6.2 step 5)
  std::uint64_t reordering_detected = 0;  // times RACK.reordering_seen was set (step 3)
  std::uint64_t splits_refused = 0;       // over max_segments
};

class Rack {
 public:
  explicit Rack(RackConfig config = {}) : config_(config) {}
  ~Rack() = default;
  Rack(const Rack&) = delete;
  Rack& operator=(const Rack&) = delete;

  // RFC 8985 6.2, "Upon transmitting a segment": [start, end) went out at now, for the first time
  // or again (the part already recorded is a retransmission).
  void on_sent(Seq start, Seq end, time::TimePoint now);

  // An acceptable ACK (RFC 8985 6.2 steps 1-4): everything below ack.snd_una is acknowledged,
  // newly_sacked are the ranges SACKed for the first time (above ack.snd_una).
  void on_ack(const RackAck& ack, std::span<const wire::TcpSackBlock> newly_sacked);
  // RACK_detect_loss (RFC 8985 6.2 step 5), on an ACK or when the reordering timer fires.
  // in_recovery: fast or RTO recovery is under way; srtt caps the reordering window (step 4).
  RackLossCheck detect_loss(time::TimePoint now, bool in_recovery,
                            std::optional<time::Duration> srtt);
  // Fast or RTO recovery ended (RFC 8985 6.2 step 4: the D-SACK window's persistence).
  void on_recovery_exit();
  // The receiver reneged: what it had SACKed is outstanding again, as if sent now.
  void forget_sacks(time::TimePoint now);

  // The first segment deemed lost and not yet sent again, [start, end), or nullopt.
  [[nodiscard]] std::optional<wire::TcpSackBlock> next_lost() const;
  // Octets deemed lost that had been retransmitted (the scoreboard's pipe counts them in flight).
  [[nodiscard]] std::uint32_t lost_retransmitted_octets() const { return lost_retransmitted_octets_; }
  // Octets sent and neither delivered nor deemed lost (RFC 8985's view of what is in flight:
  // a segment resent after it was deemed lost counts once, for its retransmission).
  [[nodiscard]] std::uint32_t in_flight_octets() const { return in_flight_octets_; }

  // RFC 8985 6.2 step 4's RACK.reo_wnd for the current state.
  [[nodiscard]] time::Duration reordering_window(bool in_recovery,
                                                 std::optional<time::Duration> srtt) const;

  // --- State (RFC 8985 6.1's names) ---
  [[nodiscard]] std::optional<time::TimePoint> xmit_ts() const { return xmit_ts_; }
  [[nodiscard]] Seq end_seq() const { return end_seq_; }
  [[nodiscard]] time::Duration rtt() const { return rtt_; }
  [[nodiscard]] std::optional<time::Duration> min_rtt() const { return min_rtt_; }
  [[nodiscard]] bool reordering_seen() const { return reordering_seen_; }
  [[nodiscard]] std::uint32_t segs_sacked() const { return segs_sacked_; }
  [[nodiscard]] std::uint32_t reo_wnd_mult() const { return reo_wnd_mult_; }
  [[nodiscard]] std::size_t segment_count() const { return segments_.size(); }
  [[nodiscard]] std::size_t lost_count() const;
  [[nodiscard]] const RackStats& stats() const { return stats_; }

 private:
  enum class Where : std::uint8_t { kInFlight, kLost, kDelivered };
  struct Segment;
  // A doubly linked list threaded through the records.
  struct List {
    Segment* head = nullptr;
    Segment* tail = nullptr;
  };
  struct Segment {
    Seq start, end;
    time::TimePoint xmit_ts;
    // Which transmission this is (one count per send, pieces of one send share it): ties of
    // xmit_ts are broken by it, so that "sent after" is the list's own order.
    std::uint64_t order = 0;
    bool retransmitted = false;
    Where where = Where::kInFlight;
    Segment* prev = nullptr;
    Segment* next = nullptr;
  };
  using Map = std::map<Seq, Segment>;

  List& list_of(Where w) { return w == Where::kLost ? lost_ : in_flight_; }
  void link_after(Segment& s, Segment* after, List& list);
  void unlink(Segment& s);
  void append(Segment& s, Where where);
  void leave(Segment& s);  // off its list, whatever it is
  Map::iterator split(Map::iterator it, Seq at);
  Map::iterator split_around(Seq start, Seq end);
  void append_new(Seq start, Seq end, time::TimePoint now, std::uint64_t order);
  void deliver(Segment& s, const RackAck& ack);
  void mark_lost(Segment& s);
  void update_dsack_round(const RackAck& ack);

  RackConfig config_;
  Map segments_;
  List in_flight_, lost_;
  std::uint32_t lost_retransmitted_octets_ = 0;
  std::uint32_t in_flight_octets_ = 0;

  // RFC 8985 6.1's per-connection variables.
  std::optional<time::TimePoint> xmit_ts_;  // RACK.xmit_ts
  std::uint64_t xmit_order_ = 0;            // and its transmission (ties of RACK.xmit_ts)
  Seq end_seq_;                             // RACK.end_seq
  std::uint64_t sends_ = 0;                 // transmissions so far
  time::Duration rtt_{};                    // RACK.rtt
  std::optional<time::Duration> min_rtt_;   // RACK.min_RTT
  std::optional<Seq> fack_;                 // RACK.fack
  bool reordering_seen_ = false;            // RACK.reordering_seen
  std::uint32_t segs_sacked_ = 0;           // RACK.segs_sacked
  std::optional<Seq> dsack_round_;          // RACK.dsack_round
  std::uint32_t reo_wnd_mult_ = 1;          // RACK.reo_wnd_mult
  std::int32_t reo_wnd_persist_ = 0;        // RACK.reo_wnd_persist

  // Steps 2 and 3 over one ACK's newly delivered segments.
  struct AckScan {
    std::optional<time::TimePoint> newest_ts;
    std::uint64_t newest_order = 0;
    Seq newest_end;
    Seq highest_end;
    bool any = false;
  } scan_;
  RackStats stats_;
};

}  // namespace pktd::tcp
