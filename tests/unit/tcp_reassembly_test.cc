// TCP's out-of-order receive queue (RFC 9293 3.10.7.4) and the SACK blocks it reports (RFC 2018).
#include <gtest/gtest.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <random>
#include <vector>

#include "transport/tcp/reassembly.h"

namespace pktd::tcp {
namespace {

using Block = wire::TcpSackBlock;
using Bytes = std::vector<std::byte>;

constexpr std::size_t kOverhead = ReassemblyQueue::kPieceOverhead;

// A stream whose octets differ from their neighbours, so a misplaced octet shows.
Bytes make_stream(std::size_t size, std::uint32_t salt = 0) {
  Bytes out(size);
  for (std::size_t i = 0; i < size; ++i) {
    out[i] = static_cast<std::byte>((i * 131U + (i >> 8) + salt) & 0xFFU);
  }
  return out;
}

// A receiver: the queue, RCV.NXT and what reached the application. Offsets are relative to the
// initial RCV.NXT (base), so tests read in stream offsets whatever the sequence numbers are.
struct Receiver {
  explicit Receiver(Seq initial, std::size_t limit = ReassemblyQueue::kDefaultMemoryLimit)
      : base(initial), rcv_nxt(initial), queue(limit) {}

  AddResult add(const Bytes& stream, std::size_t offset, std::size_t length) {
    return queue.add(at(offset), std::span<const std::byte>(stream).subspan(offset, length),
                     rcv_nxt);
  }
  std::size_t take() {
    return queue.take_in_order(rcv_nxt, [this](std::span<const std::byte> octets) {
      received.insert(received.end(), octets.begin(), octets.end());
    });
  }
  AddResult add_and_take(const Bytes& stream, std::size_t offset, std::size_t length) {
    const AddResult result = add(stream, offset, length);
    take();
    return result;
  }
  [[nodiscard]] Seq at(std::size_t offset) const {
    return base + static_cast<std::uint32_t>(offset);
  }
  [[nodiscard]] Block block(std::size_t left, std::size_t right) const {
    return {at(left).value(), at(right).value()};
  }
  [[nodiscard]] std::vector<Block> sack(std::size_t max_blocks = 4) const {
    const SackBlocks blocks = queue.sack_blocks(max_blocks);
    return {blocks.span().begin(), blocks.span().end()};
  }

  Seq base;
  Seq rcv_nxt;
  ReassemblyQueue queue;
  Bytes received;
};

// The held octets, pieces and memory agree with the ranges.
void expect_consistent(const ReassemblyQueue& q) {
  std::size_t in_ranges = 0;
  for (const Block& b : q.ranges()) {
    EXPECT_LT(Seq(b.left), Seq(b.right));
    in_ranges += b.right - b.left;
  }
  EXPECT_EQ(in_ranges, q.octets_held());
  EXPECT_EQ(q.memory_used(), q.octets_held() + q.pieces_held() * kOverhead);
  EXPECT_LE(q.memory_used(), q.memory_limit());
  EXPECT_EQ(q.empty(), q.octets_held() == 0);
}

std::uint32_t sum(const AddResult& r) {
  return r.stored + r.before_rcv_nxt + r.already_held + r.refused_for_memory +
         r.beyond_fin_or_reach;
}

TEST(TcpReassembly, InOrderSegmentsGoStraightThrough) {
  const Bytes stream = make_stream(300);
  Receiver r(Seq(1000));
  for (std::size_t offset = 0; offset < 300; offset += 100) {
    const AddResult added = r.add(stream, offset, 100);
    EXPECT_EQ(added.stored, 100U);
    EXPECT_EQ(r.take(), 100U);
    EXPECT_TRUE(r.queue.empty());
    EXPECT_TRUE(r.sack().empty());  // RFC 2018 4: no SACK when the ACK covers everything
  }
  EXPECT_EQ(r.rcv_nxt, Seq(1300));
  EXPECT_EQ(r.received, stream);
  EXPECT_EQ(r.queue.stats().octets_delivered, 300U);
  EXPECT_EQ(r.queue.stats().segments_with_new_data, 3U);
}

TEST(TcpReassembly, NothingIsTakenWhileTheHoleIsOpen) {
  const Bytes stream = make_stream(300);
  Receiver r(Seq(1000));
  EXPECT_EQ(r.add(stream, 100, 100).stored, 100U);
  EXPECT_EQ(r.take(), 0U);
  EXPECT_EQ(r.rcv_nxt, Seq(1000));
  EXPECT_EQ(r.queue.octets_held(), 100U);
  EXPECT_EQ(r.queue.ranges_held(), 1U);
  EXPECT_EQ(r.add_and_take(stream, 0, 100).stored, 100U);
  EXPECT_EQ(r.rcv_nxt, Seq(1200));
  EXPECT_TRUE(r.queue.empty());
  EXPECT_EQ(r.queue.ranges_held(), 0U);
  expect_consistent(r.queue);
}

// Five segments in every one of the 120 orders, at an ordinary place and across 2^32.
class TcpReassemblyOrders : public ::testing::TestWithParam<std::uint32_t> {};

TEST_P(TcpReassemblyOrders, EveryOrderReassemblesTheStream) {
  constexpr std::size_t kSegment = 64;
  const Bytes stream = make_stream(5 * kSegment);
  std::vector<std::size_t> order(5);
  std::iota(order.begin(), order.end(), 0U);
  do {
    Receiver r{Seq(GetParam())};
    std::size_t taken = 0;
    for (std::size_t index : order) {
      const AddResult added = r.add(stream, index * kSegment, kSegment);
      EXPECT_EQ(added.stored, kSegment);
      taken += r.take();
      expect_consistent(r.queue);
      // Whatever was taken is exactly the prefix that has arrived.
      EXPECT_EQ(r.rcv_nxt, r.at(taken));
    }
    ASSERT_EQ(r.received, stream);
    EXPECT_TRUE(r.queue.empty());
    EXPECT_EQ(r.queue.stats().octets_stored, stream.size());
    EXPECT_EQ(r.queue.stats().octets_delivered, stream.size());
    EXPECT_EQ(r.queue.stats().octets_already_held, 0U);
  } while (std::next_permutation(order.begin(), order.end()));
}

INSTANTIATE_TEST_SUITE_P(Places, TcpReassemblyOrders,
                         ::testing::Values(1000U, 0xFFFFFF80U, 0xFFFFFFFFU, 0x7FFFFFA0U));

TEST(TcpReassembly, OverlapsKeepTheFirstReceivedOctets) {
  const Bytes first = make_stream(1000, 0);
  const Bytes other = make_stream(1000, 7);  // a retransmission that disagrees
  Receiver r(Seq(5000));
  EXPECT_EQ(r.add(first, 400, 200).stored, 200U);  // holds [400, 600)

  const AddResult left = r.add(other, 300, 200);  // [300, 500): left overlap
  EXPECT_EQ(left.stored, 100U);
  EXPECT_EQ(left.already_held, 100U);
  const AddResult right = r.add(other, 550, 150);  // [550, 700): right overlap
  EXPECT_EQ(right.stored, 100U);
  EXPECT_EQ(right.already_held, 50U);
  const AddResult inside = r.add(other, 420, 50);  // wholly inside
  EXPECT_TRUE(inside.nothing_new());
  EXPECT_EQ(inside.already_held, 50U);
  const AddResult covering = r.add(other, 200, 600);  // [200, 800) covers [300, 700)
  EXPECT_EQ(covering.stored, 200U);                   // [200, 300) and [700, 800)
  EXPECT_EQ(covering.already_held, 400U);
  EXPECT_EQ(r.queue.ranges_held(), 1U);
  EXPECT_EQ(r.queue.octets_held(), 600U);
  expect_consistent(r.queue);

  EXPECT_EQ(r.add_and_take(first, 0, 200).stored, 200U);
  ASSERT_EQ(r.received.size(), 800U);
  // Each octet comes from the segment that brought it first.
  Bytes expected(first.begin(), first.begin() + 800);
  std::copy(other.begin() + 200, other.begin() + 400, expected.begin() + 200);
  std::copy(other.begin() + 600, other.begin() + 800, expected.begin() + 600);
  EXPECT_EQ(r.received, expected);
  EXPECT_EQ(r.queue.stats().octets_already_held, 600U);
  EXPECT_EQ(r.queue.stats().octets_stored, 800U);
}

TEST(TcpReassembly, ASegmentSpanningSeveralHolesFillsThemAll) {
  const Bytes stream = make_stream(1000);
  Receiver r(Seq(0));
  for (std::size_t offset : {100U, 300U, 500U, 700U}) (void)r.add(stream, offset, 100);
  EXPECT_EQ(r.queue.ranges_held(), 4U);
  const AddResult added = r.add(stream, 150, 700);  // [150, 850)
  EXPECT_EQ(added.stored, 350U);   // [200,300) [400,500) [600,700) [800,850)
  EXPECT_EQ(added.already_held, 350U);
  EXPECT_EQ(r.queue.ranges_held(), 1U);
  EXPECT_EQ(r.queue.ranges(), std::vector<Block>{r.block(100, 850)});
  EXPECT_EQ(r.add_and_take(stream, 0, 100).stored, 100U);
  EXPECT_EQ(r.received, Bytes(stream.begin(), stream.begin() + 850));
  expect_consistent(r.queue);
}

TEST(TcpReassembly, DuplicatesAreCountedNotStored) {
  const Bytes stream = make_stream(200);
  Receiver r(Seq(77));
  EXPECT_EQ(r.add(stream, 100, 100).stored, 100U);
  const AddResult again = r.add(stream, 100, 100);
  EXPECT_TRUE(again.nothing_new());
  EXPECT_EQ(again.already_held, 100U);
  EXPECT_EQ(r.queue.pieces_held(), 1U);
  EXPECT_EQ(r.queue.stats().segments_added, 2U);
  EXPECT_EQ(r.queue.stats().segments_with_new_data, 1U);
  EXPECT_EQ(r.queue.stats().octets_already_held, 100U);
}

TEST(TcpReassembly, OctetsAtOrBeforeRcvNxtAreTrimmed) {
  const Bytes stream = make_stream(400);
  Receiver r(Seq(0xFFFFFFF0U));
  (void)r.add_and_take(stream, 0, 100);
  const AddResult old = r.add(stream, 0, 100);  // wholly acknowledged already
  EXPECT_EQ(old.before_rcv_nxt, 100U);
  EXPECT_TRUE(old.nothing_new());
  const AddResult straddling = r.add(stream, 50, 100);  // [50, 150): only [100, 150) is new
  EXPECT_EQ(straddling.before_rcv_nxt, 50U);
  EXPECT_EQ(straddling.stored, 50U);
  EXPECT_EQ(r.take(), 50U);
  EXPECT_EQ(r.received, Bytes(stream.begin(), stream.begin() + 150));
  EXPECT_EQ(r.queue.stats().octets_before_rcv_nxt, 150U);
  EXPECT_EQ(sum(old), 100U);
  EXPECT_EQ(sum(straddling), 100U);
}

TEST(TcpReassembly, RcvNxtMovedByTheCallerSupersedesHeldOctets) {
  // The caller copies in-order segments straight to its receive buffer, then takes what became
  // contiguous: held octets below the new RCV.NXT are not delivered twice.
  const Bytes stream = make_stream(400);
  Receiver r(Seq(0x10));
  (void)r.add(stream, 100, 100);  // [100, 200)
  (void)r.add(stream, 300, 50);   // [300, 350)
  r.received.assign(stream.begin(), stream.begin() + 150);  // the caller's own in-order path
  r.rcv_nxt = r.at(150);
  EXPECT_EQ(r.take(), 50U);
  EXPECT_EQ(r.rcv_nxt, r.at(200));
  EXPECT_EQ(r.received, Bytes(stream.begin(), stream.begin() + 200));
  EXPECT_EQ(r.queue.stats().octets_superseded, 50U);
  EXPECT_EQ(r.sack(), std::vector<Block>{r.block(300, 350)});
  r.rcv_nxt = r.at(400);  // past everything held
  EXPECT_EQ(r.take(), 0U);
  EXPECT_TRUE(r.queue.empty());
  EXPECT_EQ(r.queue.stats().octets_superseded, 100U);
  expect_consistent(r.queue);
}

TEST(TcpReassembly, OctetsFarBeyondRcvNxtAreRefused) {
  const std::byte octets[10]{};
  ReassemblyQueue q;
  const Seq rcv_nxt(0xF0000000U);
  const AddResult far = q.add(rcv_nxt + ReassemblyQueue::kMaxReach - 4, octets, rcv_nxt);
  EXPECT_EQ(far.stored, 4U);
  EXPECT_EQ(far.beyond_fin_or_reach, 6U);
  EXPECT_EQ(q.stats().octets_beyond_reach, 6U);
}

TEST(TcpReassembly, EmptySegmentsChangeNothing) {
  ReassemblyQueue q;
  const AddResult r = q.add(Seq(5), {}, Seq(1));
  EXPECT_EQ(sum(r), 0U);
  EXPECT_EQ(q.stats().segments_added, 0U);
  EXPECT_TRUE(q.sack_blocks(4).span().empty());
}

// --- the memory limit -----------------------------------------------------------------------

TEST(TcpReassembly, OverTheLimitTheNewHighestDataIsRefused) {
  const Bytes stream = make_stream(1000);
  Receiver r(Seq(0xFFFFFF00U), 3 * (100 + kOverhead));
  for (std::size_t offset : {100U, 300U, 500U}) EXPECT_EQ(r.add(stream, offset, 100).stored, 100U);
  EXPECT_EQ(r.queue.memory_used(), 3 * (100 + kOverhead));
  const AddResult higher = r.add(stream, 700, 100);
  EXPECT_EQ(higher.refused_for_memory, 100U);
  EXPECT_EQ(higher.evicted, 0U);
  EXPECT_EQ(r.queue.stats().octets_refused_for_memory, 100U);
  EXPECT_EQ(r.queue.octets_held(), 300U);
  // Growing a range costs a piece too: [600, 650) is higher than all held, so it is refused.
  EXPECT_EQ(r.add(stream, 600, 50).refused_for_memory, 50U);
  expect_consistent(r.queue);
}

TEST(TcpReassembly, LowerDataPrunesTheHighestHeldFirst) {
  const Bytes stream = make_stream(1000);
  Receiver r(Seq(0xFFFFFF00U), 3 * (100 + kOverhead));
  for (std::size_t offset : {100U, 300U, 500U}) (void)r.add(stream, offset, 100);
  const AddResult hole_filler = r.add(stream, 0, 100);  // nearest RCV.NXT: wins the memory
  EXPECT_EQ(hole_filler.stored, 100U);
  EXPECT_EQ(hole_filler.evicted, 100U);
  EXPECT_EQ(r.queue.ranges(), (std::vector<Block>{r.block(0, 200), r.block(300, 400)}));
  EXPECT_EQ(r.queue.stats().octets_evicted_for_memory, 100U);
  EXPECT_EQ(r.queue.stats().pieces_evicted_for_memory, 1U);

  // [200, 450): its first gap, [200, 300), is lower than [300, 400), which makes room for it;
  // then [300, 450) is the highest data and no longer fits.
  const AddResult big = r.add(stream, 200, 250);
  EXPECT_EQ(big.stored, 100U);
  EXPECT_EQ(big.evicted, 100U);
  EXPECT_EQ(big.refused_for_memory, 150U);
  EXPECT_EQ(big.already_held, 0U);
  EXPECT_EQ(sum(big), 250U);
  EXPECT_EQ(r.queue.ranges(), std::vector<Block>{r.block(0, 300)});
  EXPECT_EQ(r.queue.stats().octets_evicted_for_memory, 200U);
  EXPECT_EQ(r.queue.stats().pieces_evicted_for_memory, 2U);
  EXPECT_EQ(r.queue.stats().octets_refused_for_memory, 150U);
  expect_consistent(r.queue);

  EXPECT_EQ(r.take(), 300U);
  EXPECT_EQ(r.received, Bytes(stream.begin(), stream.begin() + 300));
}

TEST(TcpReassembly, PruningTakesSeveralPiecesFromTheTopAndCountsThemExactly) {
  const Bytes stream = make_stream(2000);
  Receiver r(Seq(42), 4 * (100 + kOverhead));
  for (std::size_t offset : {1000U, 1200U, 1400U, 1600U}) (void)r.add(stream, offset, 100);
  // 300 octets just past a one-octet hole cost 300 + overhead: two held pieces must go, the
  // highest two, [1600, 1700) and [1400, 1500).
  const AddResult low = r.add(stream, 1, 300);
  EXPECT_EQ(low.stored, 300U);
  EXPECT_EQ(low.evicted, 200U);
  EXPECT_EQ(r.queue.ranges(), (std::vector<Block>{r.block(1, 301), r.block(1000, 1100),
                                                  r.block(1200, 1300)}));
  EXPECT_EQ(r.queue.stats().pieces_evicted_for_memory, 2U);
  EXPECT_EQ(r.queue.stats().octets_evicted_for_memory, 200U);
  EXPECT_EQ(r.queue.memory_used(), 3 * kOverhead + 500U);
  expect_consistent(r.queue);
}

TEST(TcpReassembly, ASegmentThatCannotFitPrunesNothing) {
  const Bytes stream = make_stream(2000);
  Receiver r(Seq(42), 2 * (100 + kOverhead));
  (void)r.add(stream, 500, 100);
  (void)r.add(stream, 700, 100);
  const AddResult huge = r.add(stream, 1, 400);  // more than the whole limit
  EXPECT_EQ(huge.refused_for_memory, 400U);
  EXPECT_EQ(huge.evicted, 0U);
  EXPECT_EQ(r.queue.octets_held(), 200U);
  EXPECT_EQ(r.sack().size(), 2U);
}

TEST(TcpReassembly, TinySegmentsPayForTheirOverhead) {
  const std::byte octet[1]{};
  ReassemblyQueue q(10 * (1 + kOverhead));
  const Seq rcv_nxt(0);
  std::size_t stored = 0;
  for (std::uint32_t i = 1; i <= 100; ++i) stored += q.add(rcv_nxt + 2 * i, octet, rcv_nxt).stored;
  EXPECT_EQ(stored, 10U);
  EXPECT_EQ(q.pieces_held(), 10U);
  EXPECT_EQ(q.stats().octets_refused_for_memory, 90U);
}

// --- SACK blocks (RFC 2018 4 and the examples of section 5) ----------------------------------

// RFC 2018 5: the left window edge is 5000 and eight 500-octet segments are sent.
struct Rfc2018Example : ::testing::Test {
  Rfc2018Example() : r(Seq(5000)) {}
  AddResult segment(std::uint32_t seq) {
    return r.add_and_take(stream, seq - 5000, 500);
  }
  Block block(std::uint32_t left, std::uint32_t right) { return {left, right}; }
  Bytes stream = make_stream(4000);
  Receiver r;
};

TEST_F(Rfc2018Example, Case1FirstFourReceivedNoSack) {
  for (std::uint32_t seq : {5000U, 5500U, 6000U, 6500U}) (void)segment(seq);
  EXPECT_EQ(r.rcv_nxt, Seq(7000));
  EXPECT_TRUE(r.sack().empty());
}

TEST_F(Rfc2018Example, Case2FirstDroppedTheOthersGrowOneBlock) {
  std::uint32_t right = 6000;
  for (std::uint32_t seq = 5500; seq < 9000; seq += 500, right += 500) {
    (void)segment(seq);
    EXPECT_EQ(r.rcv_nxt, Seq(5000));
    EXPECT_EQ(r.sack(), std::vector<Block>{block(5500, right)});
  }
}

TEST_F(Rfc2018Example, Case3EveryOtherDropped) {
  (void)segment(5000);
  EXPECT_EQ(r.rcv_nxt, Seq(5500));
  (void)segment(6000);
  EXPECT_EQ(r.sack(), std::vector<Block>{block(6000, 6500)});
  (void)segment(7000);
  EXPECT_EQ(r.sack(), (std::vector<Block>{block(7000, 7500), block(6000, 6500)}));
  (void)segment(8000);
  EXPECT_EQ(r.sack(),
            (std::vector<Block>{block(8000, 8500), block(7000, 7500), block(6000, 6500)}));
  // "Suppose the 4th packet is received out of order": it joins two blocks.
  (void)segment(6500);
  EXPECT_EQ(r.rcv_nxt, Seq(5500));
  EXPECT_EQ(r.sack(), (std::vector<Block>{block(6000, 7500), block(8000, 8500)}));
  // "Suppose at this point, the 2nd segment is received": the ACK moves to 7500, and the first
  // block need not hold the segment, which advanced the Acknowledgment Number.
  (void)segment(5500);
  EXPECT_EQ(r.rcv_nxt, Seq(7500));
  EXPECT_EQ(r.sack(), std::vector<Block>{block(8000, 8500)});
}

TEST_F(Rfc2018Example, TimestampsLeaveRoomForThreeBlocks) {
  for (std::uint32_t seq : {5500U, 6500U, 7500U, 8500U}) (void)segment(seq);
  const std::vector<Block> four{block(8500, 9000), block(7500, 8000), block(6500, 7000),
                                block(5500, 6000)};
  EXPECT_EQ(r.sack(4), four);
  EXPECT_EQ(r.sack(3), std::vector<Block>(four.begin(), four.begin() + 3));
  EXPECT_EQ(r.sack(9), four);  // never more than the option can carry
}

TEST_F(Rfc2018Example, ADuplicateMovesItsBlockToTheFront) {
  for (std::uint32_t seq : {5500U, 6500U, 7500U}) (void)segment(seq);
  EXPECT_TRUE(segment(5500).nothing_new());  // retransmitted: still "the segment which triggered
                                             // this ACK", its block comes first
  EXPECT_EQ(r.sack(), (std::vector<Block>{block(5500, 6000), block(7500, 8000),
                                          block(6500, 7000)}));
}

TEST(TcpReassemblySack, BlocksBeyondTheHistoryFillTheRestLowestFirst) {
  // Ten blocks received highest first: the history remembers the eight newest.
  Receiver r(Seq(0xFFFFFC00U));
  const Bytes stream = make_stream(4000);
  for (std::size_t i = 10; i >= 1; --i) (void)r.add(stream, i * 200, 100);
  EXPECT_EQ(r.sack(4), (std::vector<Block>{r.block(200, 300), r.block(400, 500),
                                           r.block(600, 700), r.block(800, 900)}));
  // Delivered blocks leave the report; rcv_nxt inside a block delivers its tail only.
  r.rcv_nxt = r.at(450);
  EXPECT_EQ(r.take(), 50U);
  EXPECT_EQ(r.rcv_nxt, r.at(500));
  EXPECT_EQ(r.sack(1), std::vector<Block>{r.block(600, 700)});
  // Once every remembered block is delivered, the two never remembered are reported, lowest
  // first: "as many distinct SACK blocks as possible" (RFC 2018 4).
  r.rcv_nxt = r.at(1700);
  EXPECT_EQ(r.take(), 0U);
  EXPECT_EQ(r.sack(), (std::vector<Block>{r.block(1800, 1900), r.block(2000, 2100)}));
}

TEST(TcpReassembly, HistoryFollowsMergesAcrossTheWrap) {
  const Bytes stream = make_stream(1000);
  Receiver r(Seq(0xFFFFFE00U));
  (void)r.add(stream, 600, 100);  // [600, 700) wraps past 0
  (void)r.add(stream, 300, 100);
  (void)r.add(stream, 100, 100);
  EXPECT_EQ(r.sack(), (std::vector<Block>{r.block(100, 200), r.block(300, 400),
                                          r.block(600, 700)}));
  (void)r.add(stream, 400, 200);  // joins [300, 400) and [600, 700)
  EXPECT_EQ(r.sack(), (std::vector<Block>{r.block(300, 700), r.block(100, 200)}));
  EXPECT_EQ(r.block(300, 700).right, 188U);  // 0xFFFFFE00 + 700 - 2^32
}

// --- FIN -------------------------------------------------------------------------------------

TEST(TcpReassembly, AnOutOfOrderFinIsReachedOnceTheHoleFills) {
  const Bytes stream = make_stream(300);
  Receiver r(Seq(0xFFFFFFFFU));
  (void)r.add(stream, 200, 100);
  EXPECT_TRUE(r.queue.note_fin(r.at(300)));  // the FIN came with [200, 300)
  EXPECT_EQ(r.queue.fin(), r.at(300));
  EXPECT_FALSE(r.queue.fin_reached(r.rcv_nxt));
  const AddResult past = r.add(stream, 250, 50);  // fine: before the FIN
  EXPECT_EQ(past.already_held, 50U);
  const std::byte beyond[20]{};
  EXPECT_EQ(r.queue.add(r.at(290), beyond, r.rcv_nxt).beyond_fin_or_reach, 10U);
  EXPECT_EQ(r.queue.stats().octets_beyond_fin, 10U);
  (void)r.add_and_take(stream, 0, 200);
  EXPECT_EQ(r.rcv_nxt, r.at(300));
  EXPECT_TRUE(r.queue.fin_reached(r.rcv_nxt));
  EXPECT_EQ(r.received, stream);
}

TEST(TcpReassembly, AFinDropsHeldOctetsBeyondItAndTheFirstFinStands) {
  const Bytes stream = make_stream(600);
  Receiver r(Seq(9));
  (void)r.add(stream, 100, 100);
  (void)r.add(stream, 300, 200);
  EXPECT_TRUE(r.queue.note_fin(r.at(350)));
  EXPECT_EQ(r.queue.ranges(), (std::vector<Block>{r.block(100, 200), r.block(300, 350)}));
  EXPECT_EQ(r.queue.stats().octets_beyond_fin, 150U);
  EXPECT_TRUE(r.queue.note_fin(r.at(350)));  // the same FIN again
  EXPECT_FALSE(r.queue.note_fin(r.at(400)));
  EXPECT_EQ(r.queue.stats().conflicting_fins, 1U);
  EXPECT_EQ(r.queue.fin(), r.at(350));
  expect_consistent(r.queue);
}

// --- a 1 MiB stream, shuffled, duplicated ----------------------------------------------------

struct Segment {
  std::size_t offset;
  std::size_t length;
};

// The stream cut into segments of 1..1460 octets, plus overlapping retransmissions of random
// extent, all shuffled.
std::vector<Segment> shuffled_segments(std::size_t size, std::mt19937& rng) {
  std::uniform_int_distribution<std::size_t> length(1, 1460);
  std::vector<Segment> out;
  for (std::size_t offset = 0; offset < size;) {
    const std::size_t n = std::min(length(rng), size - offset);
    out.push_back({offset, n});
    offset += n;
  }
  const std::size_t originals = out.size();
  std::uniform_int_distribution<std::size_t> where(0, size - 1);
  for (std::size_t i = 0; i < originals / 3; ++i) {
    const std::size_t offset = where(rng);
    out.push_back({offset, std::min(length(rng), size - offset)});
  }
  std::shuffle(out.begin(), out.end(), rng);
  return out;
}

// Leaves the queue's counters in stats.
void reassemble_shuffled(std::uint32_t seed, Seq initial, std::size_t limit,
                         ReassemblyStats& stats) {
  SCOPED_TRACE(::testing::Message() << "seed " << seed << " initial " << initial.value()
                                    << " limit " << limit);
  constexpr std::size_t kSize = 1U << 20;
  std::mt19937 rng(seed);
  const Bytes stream = make_stream(kSize, seed);
  const std::vector<Segment> segments = shuffled_segments(kSize, rng);
  Receiver r(initial, limit);
  std::uint64_t offered = 0;
  // Rounds: the sender retransmits, in a new order, whatever is not acknowledged yet.
  for (int round = 0; round < 1000 && r.received.size() < kSize; ++round) {
    SCOPED_TRACE(::testing::Message() << "round " << round);
    std::vector<Segment> pending;
    for (const Segment& s : segments) {
      if (r.at(s.offset + s.length) > r.rcv_nxt) pending.push_back(s);
    }
    std::shuffle(pending.begin(), pending.end(), rng);
    for (const Segment& s : pending) {
      const AddResult added = r.add(stream, s.offset, s.length);
      ASSERT_EQ(sum(added), s.length);
      offered += s.length;
      r.take();
    }
    expect_consistent(r.queue);
  }
  ASSERT_EQ(r.received.size(), kSize);
  ASSERT_TRUE(r.received == stream) << "first difference at offset "
                                    << (std::mismatch(r.received.begin(), r.received.end(),
                                                      stream.begin())
                                            .first -
                                        r.received.begin());
  const ReassemblyStats& s = r.queue.stats();
  EXPECT_TRUE(r.queue.empty());
  EXPECT_EQ(s.octets_delivered + s.octets_superseded + s.octets_evicted_for_memory,
            s.octets_stored);
  EXPECT_EQ(s.octets_stored + s.octets_before_rcv_nxt + s.octets_already_held +
                s.octets_refused_for_memory + s.octets_beyond_fin + s.octets_beyond_reach,
            offered);
  EXPECT_EQ(s.octets_delivered, kSize);
  stats = s;
}

TEST(TcpReassemblyRandom, AMebibyteShuffledWithDuplicates) {
  ReassemblyStats s;
  reassemble_shuffled(20240611U, Seq(0x12345678U), 64U << 20, s);
  EXPECT_GT(s.octets_already_held, 0U);
  EXPECT_GT(s.octets_before_rcv_nxt, 0U);
}

TEST(TcpReassemblyRandom, AcrossTheWrapFixedSeeds) {
  ReassemblyStats s;
  for (std::uint32_t seed : {1U, 2U, 3U}) reassemble_shuffled(seed, Seq(0xFFF80000U), 64U << 20, s);
}

TEST(TcpReassemblyRandom, UnderATightMemoryLimit) {
  for (std::uint32_t seed : {4U, 5U}) {
    ReassemblyStats s;
    reassemble_shuffled(seed, Seq(0xFFFF0000U), 64U << 10, s);
    EXPECT_GT(s.octets_evicted_for_memory, 0U);
    EXPECT_GT(s.octets_refused_for_memory, 0U);
  }
}

}  // namespace
}  // namespace pktd::tcp
