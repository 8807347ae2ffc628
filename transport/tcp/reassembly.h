// TCP's out-of-order receive queue. RFC 9293 3.10.7.4 ("seventh, process the segment text")
// lets a receiver keep segments that arrive within the receive window but beyond RCV.NXT, and
// RFC 2018 4 has it report what it holds in SACK blocks so the sender retransmits only the holes.
//
// The queue holds octets in [RCV.NXT, RCV.NXT + 2^30): RFC 7323 2.3 bounds a window below 2^30,
// so everything held lies within half the sequence space of RCV.NXT and Seq's modulo-2^32 order
// is a true order over it (the std::maps below rely on that). The caller trims segments to its
// receive window first; what is left past 2^30 is refused (octets_beyond_reach).
//
// Policy decisions:
// - First-received data wins. RFC 9293 3.10.7.4 only keeps "segments with higher beginning
//   sequence numbers" for later and treats octets it already has as duplicates; pktd never
//   rewrites octets it holds, so a retransmission that disagrees with the original cannot change
//   the stream (the octets are counted as octets_already_held).
// - Memory: each held piece costs its octets plus kPieceOverhead (the map nodes and allocator
//   header it costs, as Linux charges an skb's truesize), so a flood of one-octet segments cannot
//   pin a hundred times the limit. Over the limit, the highest sequence numbers go first (Linux
//   prunes its out-of-order queue from the end): the octets nearest RCV.NXT are the ones that let
//   the application make progress once the hole is filled.
// - A FIN ends the stream (RFC 9293 3.10.7.4 "eighth, check the FIN bit"): octets at or beyond it
//   are refused and, if already held, dropped (octets_beyond_fin).
//
// Cost: one std::map node plus one heap buffer per stored piece (a segment's new octets that fall
// in one gap), and one std::map node per contiguous range; add and take are O(log n) per piece
// touched, sack_blocks O(history * log n). Octets are copied once in (add) and handed out as spans
// of that storage (take_in_order): the caller copies once into its receive buffer.
//
// Stack context only; not thread safe.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <optional>
#include <span>
#include <vector>

#include "transport/tcp/sequence.h"
#include "wire/tcp.h"

namespace pktd::tcp {

// Cumulative counters: every octet given to add ends up in exactly one of the octets_* counters
// of the first group; stored octets later leave through octets_delivered, octets_superseded,
// octets_evicted_for_memory or octets_beyond_fin.
struct ReassemblyStats {
  std::uint64_t segments_added = 0;              // add calls with at least one octet
  std::uint64_t segments_with_new_data = 0;      // of those, segments that stored something
  std::uint64_t octets_stored = 0;               // new octets kept
  std::uint64_t octets_before_rcv_nxt = 0;       // already delivered: at or before RCV.NXT
  std::uint64_t octets_already_held = 0;         // overlap with octets held (first received wins)
  std::uint64_t octets_refused_for_memory = 0;   // would not fit even after pruning higher data
  std::uint64_t octets_beyond_fin = 0;           // refused or dropped: at or after the FIN
  std::uint64_t octets_beyond_reach = 0;         // 2^30 or more past RCV.NXT (see above)
  std::uint64_t octets_evicted_for_memory = 0;   // held, then pruned for lower new data
  std::uint64_t pieces_evicted_for_memory = 0;
  std::uint64_t octets_delivered = 0;            // handed to take_in_order's sink
  std::uint64_t octets_superseded = 0;           // held, but RCV.NXT moved past them elsewhere
  std::uint64_t conflicting_fins = 0;            // a FIN at another place than the first one
};

// What one add did with the segment's octets: the first five fields add up to data.size().
struct AddResult {
  std::uint32_t stored = 0;               // new octets now held
  std::uint32_t before_rcv_nxt = 0;       // trimmed: at or before RCV.NXT
  std::uint32_t already_held = 0;         // trimmed: overlapped octets already held
  std::uint32_t refused_for_memory = 0;   // not stored: over the memory limit
  std::uint32_t beyond_fin_or_reach = 0;  // not stored: past the FIN or 2^30 past RCV.NXT
  std::uint32_t evicted = 0;              // held octets of higher sequence pruned to make room

  // Nothing the queue did not have (RFC 5681 4.2: still worth an immediate ACK, RFC 2883's D-SACK).
  [[nodiscard]] bool nothing_new() const { return stored == 0; }
};

// Up to four SACK blocks (RFC 2018 3: 8n + 2 <= 40), most important first.
struct SackBlocks {
  std::array<wire::TcpSackBlock, wire::TcpOptions::kMaxSackBlocks> blocks{};
  std::size_t count = 0;
  [[nodiscard]] std::span<const wire::TcpSackBlock> span() const {
    return std::span<const wire::TcpSackBlock>(blocks).first(count);
  }
};

class ReassemblyQueue {
 public:
  // Linux's default receive buffer (tcp_rmem[1]); a connection passes its own.
  static constexpr std::size_t kDefaultMemoryLimit = 131072;
  // What a piece costs beyond its octets: its map node, the range node it may need and the heap
  // buffer's header, rounded up.
  static constexpr std::size_t kPieceOverhead = 128;
  // RFC 7323 2.3: a window is below 2^30 octets.
  static constexpr std::uint32_t kMaxReach = 1U << 30;

  explicit ReassemblyQueue(std::size_t memory_limit = kDefaultMemoryLimit)
      : memory_limit_(memory_limit) {}

  // Keeps the octets of the segment text data (starting at seq) that lie at or after rcv_nxt and
  // that the queue does not hold yet, and remembers the segment for sack_blocks. Data starting at
  // rcv_nxt is accepted too (call take_in_order next). rcv_nxt never moves backwards between
  // calls; data is one segment's text (far below 2^32 octets).
  [[nodiscard]] AddResult add(Seq seq, std::span<const std::byte> data, Seq rcv_nxt);

  // Hands the octets contiguous with rcv_nxt to sink (called with one std::span<const std::byte>
  // per stored piece, in order) and advances rcv_nxt past them. The caller's receive buffer must
  // take them all: they lie within the window it advertised. Returns the octets handed over.
  //
  // In-order segments need not go through add: copy them straight to the receive buffer, advance
  // rcv_nxt, then call take_in_order for what they made contiguous (octets held below the new
  // rcv_nxt are discarded as octets_superseded).
  template <typename Sink>
  std::size_t take_in_order(Seq& rcv_nxt, Sink&& sink);

  // RFC 2018 4: the blocks to report in the next ACK, at most max_blocks (3 with timestamps, 4
  // without; never more than 4). The first is the block holding the most recently received
  // segment, the next ones the blocks of the segments received before it, most recent first, each
  // reported once; then, while room is left, the other blocks, lowest first.
  [[nodiscard]] SackBlocks sack_blocks(std::size_t max_blocks) const;

  // A FIN at fin_seq (the segment's seq + its text length). Returns false, and changes nothing,
  // if a FIN was already seen elsewhere. Held octets at or beyond it are dropped.
  bool note_fin(Seq fin_seq);
  [[nodiscard]] std::optional<Seq> fin() const { return fin_; }
  // Every octet before the FIN has been taken: the caller may now advance RCV.NXT over the FIN.
  [[nodiscard]] bool fin_reached(Seq rcv_nxt) const { return fin_ && *fin_ == rcv_nxt; }

  [[nodiscard]] bool empty() const { return pieces_.empty(); }
  [[nodiscard]] std::size_t octets_held() const { return octets_held_; }
  [[nodiscard]] std::size_t pieces_held() const { return pieces_.size(); }
  [[nodiscard]] std::size_t ranges_held() const { return ranges_.size(); }
  [[nodiscard]] std::size_t memory_used() const { return memory_used_; }
  [[nodiscard]] std::size_t memory_limit() const { return memory_limit_; }
  [[nodiscard]] const ReassemblyStats& stats() const { return stats_; }
  // Every contiguous range held, lowest first (diagnostics and tests; allocates).
  [[nodiscard]] std::vector<wire::TcpSackBlock> ranges() const;

  // Drops everything (connection reset or closed); the counters stay.
  void clear();

 private:
  using Piece = std::vector<std::byte>;
  // How many recent segments sack_blocks remembers: enough for four blocks after a few of them
  // have merged or been delivered.
  static constexpr std::size_t kHistory = 8;

  [[nodiscard]] static Seq end_of(Seq start, const Piece& piece) {
    return start + static_cast<std::uint32_t>(piece.size());
  }
  [[nodiscard]] static std::size_t cost_of(std::size_t octets) { return octets + kPieceOverhead; }

  void discard_superseded(Seq rcv_nxt);
  [[nodiscard]] std::span<const std::byte> deliver_front(Seq& rcv_nxt);
  void finish_take(Seq rcv_nxt, std::size_t taken);

  [[nodiscard]] std::uint32_t acceptance_limit(Seq rcv_nxt) const;
  void store_octets(Seq seq, std::span<const std::byte> data, Seq from, Seq to, AddResult& result);
  [[nodiscard]] bool make_room(Seq start, std::size_t cost, AddResult& result);
  void insert_piece(Seq start, std::span<const std::byte> octets);
  void link_range(Seq start, Seq end);
  void release(std::size_t octets);
  void remove_highest_piece();
  void drop_from(Seq limit);

  [[nodiscard]] std::optional<wire::TcpSackBlock> range_holding(Seq seq) const;
  void remember_arrival(Seq seq);

  std::size_t memory_limit_;
  // Ordered by Seq's modulo-2^32 comparison, a true order over [RCV.NXT, RCV.NXT + 2^30).
  std::map<Seq, Piece> pieces_;  // start -> octets; never overlapping
  std::map<Seq, Seq> ranges_;    // start -> end of each maximal contiguous run of pieces
  std::size_t octets_held_ = 0;
  std::size_t memory_used_ = 0;
  std::optional<Seq> fin_;
  // A sequence number inside each recently received segment, newest first.
  std::array<Seq, kHistory> history_{};
  std::size_t history_count_ = 0;
  ReassemblyStats stats_;
};

// Hands over pieces while they start at or before rcv_nxt. The first may start before rcv_nxt
// (the caller moved rcv_nxt into it with an in-order segment): only its tail is new.
template <typename Sink>
std::size_t ReassemblyQueue::take_in_order(Seq& rcv_nxt, Sink&& sink) {
  discard_superseded(rcv_nxt);
  std::size_t taken = 0;
  while (!pieces_.empty() && pieces_.begin()->first <= rcv_nxt) {
    // Advances rcv_nxt; out stays valid until the piece is erased.
    const std::span<const std::byte> out = deliver_front(rcv_nxt);
    sink(out);
    taken += out.size();
    pieces_.erase(pieces_.begin());
  }
  finish_take(rcv_nxt, taken);
  return taken;
}

}  // namespace pktd::tcp
