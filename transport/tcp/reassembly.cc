// TCP's out-of-order receive queue: see reassembly.h for the policy (first-received data wins,
// highest sequence numbers pruned first, nothing kept past a FIN).
#include "transport/tcp/reassembly.h"

#include <algorithm>
#include <iterator>

namespace pktd::tcp {
namespace {

// Octets in [from, to) of a segment's offsets relative to RCV.NXT; none when to <= from.
std::uint32_t octets_between(std::int64_t from, std::int64_t to) {
  return to > from ? static_cast<std::uint32_t>(to - from) : 0;
}

std::uint32_t distance(Seq from, Seq to) { return static_cast<std::uint32_t>(to - from); }

wire::TcpSackBlock block_of(Seq start, Seq end) { return {start.value(), end.value()}; }

}  // namespace

// RFC 9293 3.10.7.4: octets at or before RCV.NXT are duplicates of what the application already
// has; the rest, up to the FIN and to RCV.NXT + 2^30, goes into the gaps of the queue.
AddResult ReassemblyQueue::add(Seq seq, std::span<const std::byte> data, Seq rcv_nxt) {
  AddResult result;
  if (data.empty()) return result;
  discard_superseded(rcv_nxt);
  const std::int64_t begin = seq - rcv_nxt;
  const std::int64_t end = begin + static_cast<std::int64_t>(data.size());
  const std::uint32_t limit = acceptance_limit(rcv_nxt);
  const std::int64_t low = std::max<std::int64_t>(begin, 0);
  const std::int64_t high = std::min<std::int64_t>(end, limit);

  result.before_rcv_nxt = octets_between(begin, std::min<std::int64_t>(end, 0));
  result.beyond_fin_or_reach = octets_between(std::max<std::int64_t>(begin, limit), end);
  if (low < high) {
    store_octets(seq, data, rcv_nxt + static_cast<std::uint32_t>(low),
                 rcv_nxt + static_cast<std::uint32_t>(high), result);
    remember_arrival(rcv_nxt + static_cast<std::uint32_t>(low));
  }

  ++stats_.segments_added;
  if (result.stored > 0) ++stats_.segments_with_new_data;
  stats_.octets_stored += result.stored;
  stats_.octets_before_rcv_nxt += result.before_rcv_nxt;
  stats_.octets_already_held += result.already_held;
  stats_.octets_refused_for_memory += result.refused_for_memory;
  (limit < kMaxReach ? stats_.octets_beyond_fin : stats_.octets_beyond_reach) +=
      result.beyond_fin_or_reach;
  return result;
}

// How far past rcv_nxt octets are accepted: to the FIN (RFC 9293 3.10.7.4 "eighth": nothing
// follows it) or to the largest window RFC 7323 2.3 allows, whichever is nearer.
std::uint32_t ReassemblyQueue::acceptance_limit(Seq rcv_nxt) const {
  if (!fin_) return kMaxReach;
  const std::int32_t to_fin = *fin_ - rcv_nxt;
  if (to_fin <= 0) return 0;
  return std::min(static_cast<std::uint32_t>(to_fin), kMaxReach);
}

// Walks [from, to) once: octets a held piece covers are skipped (first received wins), each gap
// becomes one new piece. Once a gap does not fit, every higher octet of the segment is refused
// too, so that memory always goes to the lowest sequence numbers.
void ReassemblyQueue::store_octets(Seq seq, std::span<const std::byte> data, Seq from, Seq to,
                                   AddResult& result) {
  Seq cursor = from;
  bool refusing = false;
  while (cursor < to) {
    auto next = pieces_.upper_bound(cursor);  // the first piece starting after cursor
    if (next != pieces_.begin()) {
      const auto held = std::prev(next);
      const Seq held_end = end_of(held->first, held->second);
      if (cursor < held_end) {
        const Seq skip_to = held_end < to ? held_end : to;
        result.already_held += distance(cursor, skip_to);
        cursor = skip_to;
        continue;
      }
    }
    const Seq gap_end = (next == pieces_.end() || to < next->first) ? to : next->first;
    const std::uint32_t length = distance(cursor, gap_end);
    if (refusing || !make_room(cursor, cost_of(length), result)) {
      refusing = true;
      result.refused_for_memory += length;
    } else {
      insert_piece(cursor, data.subspan(distance(seq, cursor), length));
      result.stored += length;
    }
    cursor = gap_end;
  }
}

// Frees memory by pruning pieces above start, highest first, but only if that makes cost fit:
// pruning and then refusing the new octets anyway would lose data for nothing.
bool ReassemblyQueue::make_room(Seq start, std::size_t cost, AddResult& result) {
  if (memory_used_ + cost <= memory_limit_) return true;
  std::size_t freed = 0;
  std::size_t victims = 0;
  for (auto it = pieces_.rbegin(); it != pieces_.rend() && start < it->first; ++it) {
    freed += cost_of(it->second.size());
    ++victims;
    if (memory_used_ - freed + cost > memory_limit_) continue;
    for (; victims > 0; --victims) {
      const std::size_t octets = std::prev(pieces_.end())->second.size();
      result.evicted += static_cast<std::uint32_t>(octets);
      stats_.octets_evicted_for_memory += octets;
      ++stats_.pieces_evicted_for_memory;
      remove_highest_piece();
    }
    return true;
  }
  return false;
}

void ReassemblyQueue::insert_piece(Seq start, std::span<const std::byte> octets) {
  pieces_.emplace(start, Piece(octets.begin(), octets.end()));
  octets_held_ += octets.size();
  memory_used_ += cost_of(octets.size());
  link_range(start, start + static_cast<std::uint32_t>(octets.size()));
}

// [start, end) filled a gap: it extends the range ending at start, the range beginning at end,
// joins both, or stands alone.
void ReassemblyQueue::link_range(Seq start, Seq end) {
  const auto right = ranges_.lower_bound(start);
  const bool joins_right = right != ranges_.end() && right->first == end;
  const bool joins_left = right != ranges_.begin() && std::prev(right)->second == start;
  if (joins_left && joins_right) {
    std::prev(right)->second = right->second;
    ranges_.erase(right);
  } else if (joins_left) {
    std::prev(right)->second = end;
  } else if (joins_right) {
    const Seq right_end = right->second;
    ranges_.emplace_hint(ranges_.erase(right), start, right_end);
  } else {
    ranges_.emplace_hint(right, start, end);
  }
}

void ReassemblyQueue::release(std::size_t octets) {
  octets_held_ -= octets;
  memory_used_ -= cost_of(octets);
}

// The highest piece ends the highest range: that range ends where the piece began, or goes.
void ReassemblyQueue::remove_highest_piece() {
  const auto top = std::prev(pieces_.end());
  const Seq start = top->first;
  const auto range = std::prev(ranges_.end());
  if (start <= range->first) {
    ranges_.erase(range);
  } else {
    range->second = start;
  }
  release(top->second.size());
  pieces_.erase(top);
}

// Drops every held octet at or beyond limit (a FIN's sequence number).
void ReassemblyQueue::drop_from(Seq limit) {
  while (!pieces_.empty()) {
    const auto top = std::prev(pieces_.end());
    const Seq start = top->first;
    const Seq end = end_of(start, top->second);
    if (end <= limit) return;
    if (limit <= start) {
      stats_.octets_beyond_fin += top->second.size();
      remove_highest_piece();
      continue;
    }
    const std::uint32_t cut = distance(limit, end);
    top->second.resize(top->second.size() - cut);
    octets_held_ -= cut;
    memory_used_ -= cut;
    stats_.octets_beyond_fin += cut;
    const auto range = std::prev(ranges_.end());
    if (limit <= range->first) {  // a FIN below RCV.NXT: nothing of the range is left to report
      ranges_.erase(range);
    } else {
      range->second = limit;
    }
    return;
  }
}

bool ReassemblyQueue::note_fin(Seq fin_seq) {
  if (fin_) {
    if (*fin_ == fin_seq) return true;
    ++stats_.conflicting_fins;
    return false;
  }
  fin_ = fin_seq;
  drop_from(fin_seq);
  return true;
}

// RCV.NXT moved (take_in_order, or the caller's own in-order path): pieces wholly below it are
// stale, a range reaching past it now starts at it, and history below it was acknowledged.
void ReassemblyQueue::discard_superseded(Seq rcv_nxt) {
  while (!pieces_.empty() && end_of(pieces_.begin()->first, pieces_.begin()->second) <= rcv_nxt) {
    stats_.octets_superseded += pieces_.begin()->second.size();
    release(pieces_.begin()->second.size());
    pieces_.erase(pieces_.begin());
  }
  while (!ranges_.empty() && ranges_.begin()->second <= rcv_nxt) ranges_.erase(ranges_.begin());
  if (!ranges_.empty() && ranges_.begin()->first < rcv_nxt) {
    const Seq range_end = ranges_.begin()->second;
    ranges_.erase(ranges_.begin());
    ranges_.emplace(rcv_nxt, range_end);
  }
  const auto delivered = [rcv_nxt](Seq s) { return s < rcv_nxt; };
  const auto last = history_.begin() + static_cast<std::ptrdiff_t>(history_count_);
  const auto kept = std::remove_if(history_.begin(), last, delivered);
  history_count_ = static_cast<std::size_t>(kept - history_.begin());
}

// The lowest piece, from rcv_nxt on (its octets below rcv_nxt were superseded), leaves the
// accounting; rcv_nxt moves to its end. The caller erases it once the sink has copied it.
std::span<const std::byte> ReassemblyQueue::deliver_front(Seq& rcv_nxt) {
  const auto& [start, piece] = *pieces_.begin();
  const std::size_t skipped = rcv_nxt > start ? distance(start, rcv_nxt) : 0;
  stats_.octets_superseded += skipped;
  release(piece.size());
  rcv_nxt = end_of(start, piece);
  return std::span<const std::byte>(piece).subspan(skipped);
}

void ReassemblyQueue::finish_take(Seq rcv_nxt, std::size_t taken) {
  stats_.octets_delivered += taken;
  discard_superseded(rcv_nxt);
}

std::optional<wire::TcpSackBlock> ReassemblyQueue::range_holding(Seq seq) const {
  auto it = ranges_.upper_bound(seq);
  if (it == ranges_.begin()) return std::nullopt;
  --it;
  if (!(seq < it->second)) return std::nullopt;
  return block_of(it->first, it->second);
}

// RFC 2018 4: the next ACK's first block is the one holding this segment, the next ones those
// of the segments before it. The history keeps one sequence number per block, newest first;
// blocks that merged since collapse into the newest entry, delivered or pruned ones fall out.
void ReassemblyQueue::remember_arrival(Seq seq) {
  const std::optional<wire::TcpSackBlock> newest = range_holding(seq);
  if (!newest) return;  // nothing of the segment was kept
  std::array<Seq, kHistory> kept{};
  std::array<wire::TcpSackBlock, kHistory> blocks{};
  std::size_t count = 0;
  kept[count] = seq;
  blocks[count++] = *newest;
  for (std::size_t i = 0; i < history_count_ && count < kHistory; ++i) {
    const std::optional<wire::TcpSackBlock> block = range_holding(history_[i]);
    if (!block) continue;
    if (std::find(blocks.begin(), blocks.begin() + static_cast<std::ptrdiff_t>(count), *block) !=
        blocks.begin() + static_cast<std::ptrdiff_t>(count)) {
      continue;
    }
    kept[count] = history_[i];
    blocks[count++] = *block;
  }
  history_ = kept;
  history_count_ = count;
}

// RFC 2018 4: "The first SACK block ... MUST specify the contiguous block of data containing the
// segment which triggered this ACK", and the option "SHOULD be filled out by repeating the most
// recently reported SACK blocks ... that are not subsets of a SACK block already included". A
// block is a whole range here, so "not a subset" means "not the same range". Then "as many
// distinct SACK blocks as possible": the remaining ranges, lowest first, the holes a sender
// retransmits first.
SackBlocks ReassemblyQueue::sack_blocks(std::size_t max_blocks) const {
  SackBlocks out;
  const std::size_t room = std::min(max_blocks, out.blocks.size());
  const auto add_once = [&out, room](wire::TcpSackBlock block) {
    const auto used = out.blocks.begin() + static_cast<std::ptrdiff_t>(out.count);
    if (out.count < room && std::find(out.blocks.begin(), used, block) == used) {
      out.blocks[out.count++] = block;
    }
  };
  for (std::size_t i = 0; i < history_count_ && out.count < room; ++i) {
    if (const auto block = range_holding(history_[i])) add_once(*block);
  }
  for (auto it = ranges_.begin(); it != ranges_.end() && out.count < room; ++it) {
    add_once(block_of(it->first, it->second));
  }
  return out;
}

std::vector<wire::TcpSackBlock> ReassemblyQueue::ranges() const {
  std::vector<wire::TcpSackBlock> out;
  out.reserve(ranges_.size());
  for (const auto& [start, end] : ranges_) out.push_back(block_of(start, end));
  return out;
}

void ReassemblyQueue::clear() {
  pieces_.clear();
  ranges_.clear();
  octets_held_ = 0;
  memory_used_ = 0;
  fin_.reset();
  history_count_ = 0;
}

}  // namespace pktd::tcp
