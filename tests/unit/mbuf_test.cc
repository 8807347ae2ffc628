// Packet buffers: allocation, limits, thread rules, M_WAITOK and every chain operation.
//
// The pool is process-wide, so each test starts from a fresh configuration (which also resets the
// peaks) and ends, in TearDown, with check_no_leaks. Counters that are cumulative (failures,
// sleeps) are compared against the values at SetUp.
#include <gtest/gtest.h>

#include <atomic>
#include <climits>
#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <initializer_list>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/thread_identity.h"
#include "buf/mbuf.h"

namespace pktd::buf {
namespace {

// Bytes seed, seed + 1, ... so that any offset of a packet can be checked.
std::string pattern(size_t n, uint8_t seed = 0) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>(static_cast<uint8_t>(seed + i));
  return s;
}

std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

void write(Mbuf& m, const std::string& s) {  // over the start of m's data
  std::memcpy(m.data, s.data(), s.size());
}

size_t count_mbufs(const Mbuf* m) {
  size_t n = 0;
  for (; m != nullptr; m = m->next) ++n;
  return n;
}

Pool& pool() { return Pool::instance(); }

PoolConfig config_with(size_t max_mbufs, size_t max_clusters, size_t mclbytes = 2048,
                       size_t cache_size = 128) {
  PoolConfig c;
  c.max_mbufs = max_mbufs;
  c.max_clusters = max_clusters;
  c.mclbytes = mclbytes;
  c.cache_size = cache_size;
  return c;
}

// A packet of n mbufs whose i-th mbuf holds parts[i] (inline buffers, no headroom tricks), for
// tests that need a precise chain shape.
MbufPtr chain_of(const std::vector<std::string>& parts) {
  MbufPtr head;
  Mbuf* tail = nullptr;
  size_t total = 0;
  for (const auto& part : parts) {
    Mbuf* m = pool().get(Wait::nowait, tail == nullptr);
    if (m == nullptr) return nullptr;
    write(*m, part);
    m->len = part.size();
    total += part.size();
    if (tail == nullptr) {
      head.reset(m);
    } else {
      tail->next = m;
    }
    tail = m;
  }
  head->pkthdr.len = total;
  return head;
}

class MbufTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // A gtest main thread is untracked until registered.
    register_current_thread(ThreadKind::main, "buf-test");
    pool().set_waiter(nullptr);
    ASSERT_TRUE(pool().configure(PoolConfig{}));
    before_ = pool().stats();
  }

  void TearDown() override {
    pool().set_waiter(nullptr);
    std::string report;
    EXPECT_TRUE(pool().check_no_leaks(&report)) << report;
  }

  PoolStats before_;
};

// --- allocation basics ---

TEST_F(MbufTest, GetReturnsEmptyInlineMbuf) {
  MbufPtr m(pool().get(Wait::nowait, true));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_pkthdr);
  EXPECT_EQ(m->len, 0u);
  EXPECT_EQ(m->pkthdr.len, 0u);
  EXPECT_EQ(m->next, nullptr);
  EXPECT_FALSE(m->has_cluster());
  EXPECT_TRUE(m->writable());
  EXPECT_EQ(m->buf_size(), kMbufInlineBytes);
  EXPECT_EQ(m->headroom(), 0u);
  EXPECT_EQ(m->tailroom(), kMbufInlineBytes);
  EXPECT_EQ(pool().stats().mbufs_in_use, 1u);
  EXPECT_EQ(pool().stats().clusters_in_use, 0u);

  MbufPtr plain(pool().get(Wait::nowait, false));
  ASSERT_TRUE(plain);
  EXPECT_FALSE(plain->has_pkthdr);
}

TEST_F(MbufTest, GetClusterHasClusterOfMclbytes) {
  MbufPtr m(pool().get_cluster(Wait::nowait, true));
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_cluster());
  EXPECT_TRUE(m->writable());
  EXPECT_EQ(m->buf_size(), 2048u);
  EXPECT_EQ(m->data, m->buf_start());
  EXPECT_EQ(m->tailroom(), 2048u);
  EXPECT_EQ(pool().stats().mbufs_in_use, 1u);
  EXPECT_EQ(pool().stats().clusters_in_use, 1u);
  m.reset();
  EXPECT_EQ(pool().stats().clusters_in_use, 0u);
}

TEST_F(MbufTest, ReusedMbufIsReset) {
  Mbuf* m = pool().get_cluster(Wait::nowait, true);
  ASSERT_NE(m, nullptr);
  m->len = 10;
  m->pkthdr.rcvif = 3;
  pool().free_one(m);
  MbufPtr again(pool().get(Wait::nowait, true));  // most likely the same object, from the cache
  ASSERT_TRUE(again);
  EXPECT_EQ(again->len, 0u);
  EXPECT_EQ(again->pkthdr.rcvif, 0u);
  EXPECT_FALSE(again->has_cluster());
  EXPECT_EQ(again->buf_size(), kMbufInlineBytes);
}

TEST_F(MbufTest, MbufDeleterFreesWholeChain) {
  MbufPtr m = chain_of({"a", "b", "c"});
  ASSERT_TRUE(m);
  m->next->next->nextpkt = nullptr;
  EXPECT_EQ(pool().stats().mbufs_in_use, 3u);
  m.reset();
  EXPECT_EQ(pool().stats().mbufs_in_use, 0u);
}

TEST_F(MbufTest, FreeOneLeavesTheRestToTheCaller) {
  MbufPtr m = chain_of({"a", "b"});
  ASSERT_TRUE(m);
  Mbuf* head = m.release();
  MbufPtr rest(head->next);
  pool().free_one(head);
  EXPECT_EQ(pool().stats().mbufs_in_use, 1u);
  EXPECT_EQ(to_string(*rest), "b");
}

TEST_F(MbufTest, FreeOfNullIsHarmless) {
  pool().free_one(nullptr);
  pool().free_chain(nullptr);
  MbufPtr none;
}

// --- get_packet / packet_from / chain_length / to_string ---

TEST_F(MbufTest, GetPacketSmallIsInlineWithHeadroom) {
  MbufPtr m = get_packet(Wait::nowait, 100);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_pkthdr);
  EXPECT_FALSE(m->has_cluster());
  EXPECT_EQ(m->headroom(), kDefaultHeadroom);
  EXPECT_EQ(m->tailroom(), kMbufInlineBytes - kDefaultHeadroom);
  EXPECT_EQ(m->len, 0u);
  EXPECT_EQ(m->pkthdr.len, 0u);
}

TEST_F(MbufTest, GetPacketLargerThanInlineUsesOneCluster) {
  MbufPtr m = get_packet(Wait::nowait, 1500, 32);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_cluster());
  EXPECT_EQ(m->headroom(), 32u);
  EXPECT_GE(m->tailroom(), 1500u);
  EXPECT_EQ(count_mbufs(m.get()), 1u);
}

TEST_F(MbufTest, GetPacketBeyondAClusterIsAChain) {
  MbufPtr m = get_packet(Wait::nowait, 5000);
  ASSERT_TRUE(m);
  size_t room = 0;
  for (Mbuf* p = m.get(); p != nullptr; p = p->next) room += p->tailroom();
  EXPECT_GE(room, 5000u);
  EXPECT_EQ(count_mbufs(m.get()), 3u);  // 1984 + 2048 + 968
  EXPECT_EQ(m->headroom(), kDefaultHeadroom);
  EXPECT_EQ(chain_length(m.get()), 0u);
}

TEST_F(MbufTest, GetPacketRejectsImpossibleSizes) {
  EXPECT_FALSE(get_packet(Wait::nowait, SIZE_MAX, 1));
  EXPECT_FALSE(get_packet(Wait::nowait, SIZE_MAX - 10, 64));
  EXPECT_FALSE(get_packet(Wait::nowait, 10, 2048));  // headroom fills the whole cluster
  EXPECT_FALSE(get_packet(Wait::waitok, 2048 * 40000));  // more clusters than the limit
}

TEST_F(MbufTest, PacketFromCopiesBytesOfAnySize) {
  for (size_t n : std::initializer_list<size_t>{0, 1, 160, 161, 1500, 1984, 1985, 4000, 9000}) {
    SCOPED_TRACE(n);
    const std::string data = pattern(n, static_cast<uint8_t>(n));
    MbufPtr m = packet_from(bytes_of(data));
    ASSERT_TRUE(m);
    EXPECT_EQ(to_string(*m), data);
    EXPECT_EQ(chain_length(m.get()), n);
    EXPECT_EQ(m->pkthdr.len, n);
    EXPECT_EQ(m->headroom(), kDefaultHeadroom);
  }
}

TEST_F(MbufTest, PacketFromHonoursHeadroom) {
  MbufPtr m = packet_from(bytes_of(pattern(50)), Wait::nowait, 0);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->headroom(), 0u);
  EXPECT_EQ(to_string(*m), pattern(50));
}

TEST_F(MbufTest, ChainLengthAndToStringWalkTheChain) {
  EXPECT_EQ(chain_length(nullptr), 0u);
  MbufPtr m = chain_of({"hello", "", " ", "world"});
  ASSERT_TRUE(m);
  EXPECT_EQ(chain_length(m.get()), 11u);
  EXPECT_EQ(to_string(*m), "hello world");
}

// --- prepend ---

TEST_F(MbufTest, PrependUsesHeadroomWhenWritable) {
  MbufPtr m = packet_from(bytes_of(std::string("payload")));
  ASSERT_TRUE(m);
  Mbuf* before = m.get();
  m = prepend(std::move(m), 14);
  ASSERT_TRUE(m);
  EXPECT_EQ(m.get(), before);
  EXPECT_EQ(m->headroom(), kDefaultHeadroom - 14);
  EXPECT_EQ(m->len, 21u);
  EXPECT_EQ(m->pkthdr.len, 21u);
  write(*m, "ethernet-hdr14");
  EXPECT_EQ(to_string(*m), "ethernet-hdr14payload");
}

TEST_F(MbufTest, PrependWithoutHeadroomAddsMbufAndMovesPkthdr) {
  MbufPtr m = packet_from(bytes_of(std::string("payload")), Wait::nowait, 0);
  ASSERT_TRUE(m);
  m->pkthdr.rcvif = 5;
  Mbuf* old_head = m.get();
  m = prepend(std::move(m), 20);
  ASSERT_TRUE(m);
  EXPECT_NE(m.get(), old_head);
  EXPECT_EQ(m->next, old_head);
  EXPECT_TRUE(m->has_pkthdr);
  EXPECT_FALSE(old_head->has_pkthdr);
  EXPECT_EQ(m->pkthdr.rcvif, 5u);
  EXPECT_EQ(m->pkthdr.len, 27u);
  EXPECT_EQ(m->len, 20u);
  EXPECT_EQ(m->headroom(), kMbufInlineBytes - 20);  // placed at the end, room for more
  write(*m, "0123456789abcdefghij");
  EXPECT_EQ(to_string(*m), "0123456789abcdefghijpayload");

  // A second, small prepend now fits the new head's headroom.
  Mbuf* head = m.get();
  m = prepend(std::move(m), 4);
  ASSERT_TRUE(m);
  EXPECT_EQ(m.get(), head);
  EXPECT_EQ(m->pkthdr.len, 31u);
}

TEST_F(MbufTest, PrependLargerThanInlineUsesCluster) {
  MbufPtr m = packet_from(bytes_of(std::string("x")), Wait::nowait, 0);
  ASSERT_TRUE(m);
  m = prepend(std::move(m), 1000);
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->has_cluster());
  EXPECT_EQ(m->len, 1000u);
  EXPECT_EQ(chain_length(m.get()), 1001u);
  EXPECT_EQ(m->pkthdr.len, 1001u);
}

TEST_F(MbufTest, PrependOnSharedClusterDoesNotWriteIntoIt) {
  const std::string data = pattern(1000);
  MbufPtr original = packet_from(bytes_of(data));
  ASSERT_TRUE(original);
  ASSERT_TRUE(original->has_cluster());
  MbufPtr copy = share(*original, 0, 1000);
  ASSERT_TRUE(copy);
  ASSERT_GE(copy->headroom(), 14u);  // the room is there, but it belongs to both
  copy = prepend(std::move(copy), 14);
  ASSERT_TRUE(copy);
  EXPECT_EQ(count_mbufs(copy.get()), 2u);
  write(*copy, std::string(14, 'H'));
  EXPECT_EQ(to_string(*copy), std::string(14, 'H') + data);
  EXPECT_EQ(to_string(*original), data);
}

TEST_F(MbufTest, PrependTooLargeFailsAndFreesTheChain) {
  MbufPtr m = packet_from(bytes_of(pattern(3000)));
  ASSERT_TRUE(m);
  EXPECT_FALSE(prepend(std::move(m), 4096));  // larger than a cluster; TearDown sees no leak
  EXPECT_FALSE(prepend(MbufPtr(), 10));
}

TEST_F(MbufTest, PrependZeroIsANoop) {
  MbufPtr m = packet_from(bytes_of(std::string("abc")), Wait::nowait, 0);
  Mbuf* before = m.get();
  m = prepend(std::move(m), 0);
  EXPECT_EQ(m.get(), before);
  EXPECT_EQ(to_string(*m), "abc");
}

TEST_F(MbufTest, PrependFailureWhenExhaustedFreesTheChain) {
  ASSERT_TRUE(pool().configure(config_with(1, 8)));
  MbufPtr m = packet_from(bytes_of(std::string("abc")), Wait::nowait, 0);
  ASSERT_TRUE(m);
  EXPECT_FALSE(prepend(std::move(m), 8));
  EXPECT_EQ(pool().stats().fail_nowait_exhausted, before_.fail_nowait_exhausted + 1);
}

// --- append ---

TEST_F(MbufTest, AppendFillsTailroomThenAddsMbufs) {
  MbufPtr m(pool().get(Wait::nowait, true));
  ASSERT_TRUE(m);
  const std::string a = pattern(100, 1);
  const std::string b = pattern(300, 2);
  ASSERT_TRUE(append(*m, bytes_of(a)));
  EXPECT_EQ(count_mbufs(m.get()), 1u);
  ASSERT_TRUE(append(*m, bytes_of(b)));
  EXPECT_EQ(m->len, kMbufInlineBytes);  // filled before a new mbuf was added
  EXPECT_EQ(count_mbufs(m.get()), 2u);
  EXPECT_EQ(to_string(*m), a + b);
  EXPECT_EQ(m->pkthdr.len, 400u);
  ASSERT_TRUE(append(*m, bytes_of(pattern(5000, 3))));
  EXPECT_EQ(to_string(*m), a + b + pattern(5000, 3));
  EXPECT_EQ(m->pkthdr.len, 5400u);
  ASSERT_TRUE(append(*m, {}));
  EXPECT_EQ(m->pkthdr.len, 5400u);
}

TEST_F(MbufTest, AppendFillsAPreallocatedChainInOrder) {
  MbufPtr m = get_packet(Wait::nowait, 5000);
  ASSERT_TRUE(m);
  const size_t mbufs = count_mbufs(m.get());
  const size_t in_use = pool().stats().mbufs_in_use;
  ASSERT_TRUE(append(*m, bytes_of(pattern(5000))));
  EXPECT_EQ(count_mbufs(m.get()), mbufs);
  EXPECT_EQ(pool().stats().mbufs_in_use, in_use);
  EXPECT_EQ(to_string(*m), pattern(5000));
}

TEST_F(MbufTest, AppendDoesNotWriteIntoASharedCluster) {
  MbufPtr original = get_packet(Wait::nowait, 1000);
  ASSERT_TRUE(original);
  ASSERT_TRUE(append(*original, bytes_of(pattern(100))));
  MbufPtr copy = share(*original, 0, 100);
  ASSERT_TRUE(copy);
  ASSERT_GT(copy->tailroom(), 0u);
  ASSERT_TRUE(append(*copy, bytes_of(std::string("xyz"))));
  EXPECT_EQ(count_mbufs(copy.get()), 2u);
  EXPECT_EQ(to_string(*copy), pattern(100) + "xyz");
  EXPECT_EQ(copy->pkthdr.len, 103u);
  // The original may still append into its own (now unshared again?) cluster: no, still shared.
  EXPECT_FALSE(original->writable());
  ASSERT_TRUE(append(*original, bytes_of(std::string("123"))));
  EXPECT_EQ(to_string(*original), pattern(100) + "123");
  EXPECT_EQ(to_string(*copy), pattern(100) + "xyz");
}

TEST_F(MbufTest, AppendFailureKeepsWhatWasAppendedConsistent) {
  ASSERT_TRUE(pool().configure(config_with(2, 8)));
  MbufPtr m(pool().get(Wait::nowait, true));
  ASSERT_TRUE(m);
  EXPECT_FALSE(append(*m, bytes_of(pattern(5000))));
  // Inline buffer plus one cluster were filled before the third mbuf was refused.
  EXPECT_EQ(chain_length(m.get()), kMbufInlineBytes + 2048);
  EXPECT_EQ(m->pkthdr.len, chain_length(m.get()));
  EXPECT_EQ(to_string(*m), pattern(kMbufInlineBytes + 2048));
  EXPECT_EQ(pool().stats().fail_nowait_exhausted, before_.fail_nowait_exhausted + 1);
}

// --- adjust (m_adj) ---

TEST_F(MbufTest, AdjustFrontWithinFirstMbuf) {
  MbufPtr m = packet_from(bytes_of(pattern(100)));
  adjust(*m, 10);
  EXPECT_EQ(to_string(*m), pattern(100).substr(10));
  EXPECT_EQ(m->pkthdr.len, 90u);
  EXPECT_EQ(m->headroom(), kDefaultHeadroom + 10);
}

TEST_F(MbufTest, AdjustFrontAcrossMbufs) {
  MbufPtr m = packet_from(bytes_of(pattern(5000)));
  ASSERT_EQ(count_mbufs(m.get()), 3u);
  adjust(*m, 3000);
  EXPECT_EQ(to_string(*m), pattern(5000).substr(3000));
  EXPECT_EQ(m->pkthdr.len, 2000u);
  EXPECT_EQ(m->len, 0u);  // emptied mbufs stay, as in BSD
}

TEST_F(MbufTest, AdjustBackWithinLastMbuf) {
  MbufPtr m = packet_from(bytes_of(pattern(5000)));
  adjust(*m, -10);
  EXPECT_EQ(to_string(*m), pattern(4990));
  EXPECT_EQ(m->pkthdr.len, 4990u);
}

TEST_F(MbufTest, AdjustBackAcrossMbufs) {
  MbufPtr m = packet_from(bytes_of(pattern(5000)));
  adjust(*m, -3500);
  EXPECT_EQ(to_string(*m), pattern(1500));
  EXPECT_EQ(m->pkthdr.len, 1500u);
  EXPECT_EQ(m->next->len, 0u);
}

TEST_F(MbufTest, AdjustMoreThanTheChainEmptiesIt) {
  MbufPtr front = packet_from(bytes_of(pattern(3000)));
  adjust(*front, 100000);
  EXPECT_EQ(chain_length(front.get()), 0u);
  EXPECT_EQ(front->pkthdr.len, 0u);
  MbufPtr back = packet_from(bytes_of(pattern(3000)));
  adjust(*back, -100000);
  EXPECT_EQ(chain_length(back.get()), 0u);
  EXPECT_EQ(back->pkthdr.len, 0u);
}

TEST_F(MbufTest, AdjustExtremesAndZero) {
  MbufPtr m = packet_from(bytes_of(pattern(10)));
  adjust(*m, 0);
  EXPECT_EQ(to_string(*m), pattern(10));
  adjust(*m, LONG_MIN);  // |LONG_MIN| does not fit a long: must not overflow
  EXPECT_EQ(chain_length(m.get()), 0u);
  MbufPtr n = packet_from(bytes_of(pattern(10)));
  adjust(*n, LONG_MAX);
  EXPECT_EQ(chain_length(n.get()), 0u);
  EXPECT_EQ(n->pkthdr.len, 0u);
}

TEST_F(MbufTest, AdjustOnSharedDataLeavesTheOtherSharerAlone) {
  MbufPtr original = packet_from(bytes_of(pattern(1000)));
  MbufPtr copy = share(*original, 0, 1000);
  ASSERT_TRUE(copy);
  adjust(*copy, 100);
  adjust(*copy, -100);
  EXPECT_EQ(to_string(*copy), pattern(1000).substr(100, 800));
  EXPECT_EQ(to_string(*original), pattern(1000));
}

// --- pullup (m_pullup) ---

TEST_F(MbufTest, PullupIsANoopWhenTheFirstMbufHoldsEnough) {
  MbufPtr m = packet_from(bytes_of(pattern(100)));
  Mbuf* before = m.get();
  m = pullup(std::move(m), 100);
  ASSERT_TRUE(m);
  EXPECT_EQ(m.get(), before);
  m = pullup(std::move(m), 0);
  EXPECT_EQ(m.get(), before);
}

TEST_F(MbufTest, PullupMovesBytesIntoTheHeadsTailroom) {
  const std::string a = pattern(10, 1), b = pattern(100, 2), c = pattern(30, 3);
  MbufPtr m = chain_of({a, b, c});
  ASSERT_TRUE(m);
  Mbuf* head = m.get();
  m = pullup(std::move(m), 60);
  ASSERT_TRUE(m);
  EXPECT_EQ(m.get(), head);
  EXPECT_EQ(m->len, 60u);
  EXPECT_EQ(count_mbufs(m.get()), 3u);
  EXPECT_EQ(to_string(*m), a + b + c);
  m = pullup(std::move(m), 120);  // empties the second mbuf: it is freed
  ASSERT_TRUE(m);
  EXPECT_EQ(m->len, 120u);
  EXPECT_EQ(count_mbufs(m.get()), 2u);
  EXPECT_EQ(pool().stats().mbufs_in_use, 2u);
  EXPECT_EQ(to_string(*m), a + b + c);
  EXPECT_EQ(m->pkthdr.len, 140u);
}

TEST_F(MbufTest, PullupSlidesDataWhenTailroomIsShort) {
  MbufPtr m = chain_of({pattern(20), pattern(100, 20)});
  ASSERT_TRUE(m);
  // Put the first mbuf's 20 bytes at the very end of its buffer.
  std::byte* end = m->buf_start() + m->buf_size() - 20;
  std::memmove(end, m->data, 20);
  m->data = end;
  Mbuf* head = m.get();
  m = pullup(std::move(m), 60);
  ASSERT_TRUE(m);
  EXPECT_EQ(m.get(), head);
  EXPECT_EQ(m->len, 60u);
  EXPECT_EQ(m->headroom(), kMbufInlineBytes - 60);
  EXPECT_EQ(to_string(*m), pattern(120));
}

TEST_F(MbufTest, PullupUpToAClusterAcrossClusters) {
  MbufPtr m = packet_from(bytes_of(pattern(5000)));
  ASSERT_EQ(m->len, 2048 - kDefaultHeadroom);
  m = pullup(std::move(m), 2048);
  ASSERT_TRUE(m);
  EXPECT_EQ(m->len, 2048u);
  EXPECT_EQ(to_string(*m), pattern(5000));
}

TEST_F(MbufTest, PullupWithASharedHeadMakesANewHead) {
  // A cluster mbuf with 100 bytes followed by an inline one with 100 bytes.
  MbufPtr source = get_packet(Wait::nowait, 1000);
  ASSERT_TRUE(append(*source, bytes_of(pattern(100))));
  Mbuf* inline_part = pool().get(Wait::nowait, false);
  ASSERT_NE(inline_part, nullptr);
  write(*inline_part, pattern(100, 100));
  inline_part->len = 100;
  source->next = inline_part;
  source->pkthdr.len = 200;
  source->pkthdr.rcvif = 9;

  MbufPtr copy = share(*source, 0, 200);
  ASSERT_TRUE(copy);
  ASSERT_FALSE(copy->writable());
  copy = pullup(std::move(copy), 150);
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->len, 150u);
  EXPECT_TRUE(copy->writable());
  EXPECT_TRUE(copy->has_pkthdr);
  EXPECT_EQ(copy->pkthdr.rcvif, 9u);
  EXPECT_EQ(copy->pkthdr.len, 200u);
  EXPECT_EQ(to_string(*copy), pattern(200));
  // The shared mbuf was emptied and freed: the source's cluster is its own again.
  EXPECT_TRUE(source->writable());
  EXPECT_EQ(to_string(*source), pattern(200));
}

TEST_F(MbufTest, PullupThatCannotBeMetFailsAndFreesTheChain) {
  EXPECT_FALSE(pullup(packet_from(bytes_of(pattern(100))), 101));    // longer than the chain
  EXPECT_FALSE(pullup(packet_from(bytes_of(pattern(5000))), 2049));  // larger than a cluster
  EXPECT_FALSE(pullup(MbufPtr(), 1));
}

// --- copy_data (m_copydata) ---

TEST_F(MbufTest, CopyDataReadsAnyRangeOfTheChain) {
  const std::string data = pattern(5000);
  MbufPtr m = packet_from(bytes_of(data));
  std::string out(300, '\0');
  ASSERT_TRUE(copy_data(*m, 1900, std::as_writable_bytes(std::span(out))));
  EXPECT_EQ(out, data.substr(1900, 300));
  std::string all(5000, '\0');
  ASSERT_TRUE(copy_data(*m, 0, std::as_writable_bytes(std::span(all))));
  EXPECT_EQ(all, data);
  EXPECT_TRUE(copy_data(*m, 5000, {}));
}

TEST_F(MbufTest, CopyDataRefusesRangesBeyondTheChain) {
  MbufPtr m = packet_from(bytes_of(pattern(5000)));
  std::string out(200, 'z');
  auto span = std::as_writable_bytes(std::span(out));
  EXPECT_FALSE(copy_data(*m, 4900, span));
  EXPECT_FALSE(copy_data(*m, 5001, span.first(0)));
  EXPECT_FALSE(copy_data(*m, SIZE_MAX, span.first(2)));
  EXPECT_EQ(out, std::string(200, 'z'));  // untouched on failure
}

// --- share (m_copym) ---

TEST_F(MbufTest, ShareCountsReferencesAndWritable) {
  const std::string data = pattern(1500);
  MbufPtr original = packet_from(bytes_of(data));
  ASSERT_TRUE(original->writable());
  MbufPtr copy = share(*original, 0, 1500);
  ASSERT_TRUE(copy);
  EXPECT_EQ(copy->data, original->data);  // same bytes, not copied
  EXPECT_FALSE(original->writable());
  EXPECT_FALSE(copy->writable());
  EXPECT_EQ(pool().stats().mbufs_in_use, 2u);
  EXPECT_EQ(pool().stats().clusters_in_use, 1u);
  EXPECT_EQ(to_string(*copy), data);
  original.reset();  // the original goes first
  EXPECT_TRUE(copy->writable());
  EXPECT_EQ(pool().stats().clusters_in_use, 1u);
  EXPECT_EQ(to_string(*copy), data);
  copy.reset();
  EXPECT_EQ(pool().stats().clusters_in_use, 0u);
}

TEST_F(MbufTest, SharedClusterSurvivesFreesInAnyOrder) {
  const std::string data = pattern(1000);
  for (int order = 0; order < 6; ++order) {
    SCOPED_TRACE(order);
    std::vector<MbufPtr> sharers;
    sharers.push_back(packet_from(bytes_of(data)));
    sharers.push_back(share(*sharers[0], 0, 1000));
    sharers.push_back(share(*sharers[1], 10, 500));  // a share of a share
    ASSERT_TRUE(sharers[1] && sharers[2]);
    static constexpr int kOrders[6][3] = {{0, 1, 2}, {0, 2, 1}, {1, 0, 2},
                                          {1, 2, 0}, {2, 0, 1}, {2, 1, 0}};
    for (int i = 0; i < 3; ++i) {
      EXPECT_EQ(pool().stats().clusters_in_use, 1u);
      sharers[static_cast<size_t>(kOrders[order][i])].reset();
      int left = 0;
      for (auto& s : sharers) left += s ? 1 : 0;
      for (auto& s : sharers) {
        if (s) {
          EXPECT_EQ(s->writable(), left == 1);
        }
      }
    }
    for (auto& s : sharers) EXPECT_FALSE(s);
    EXPECT_EQ(pool().stats().clusters_in_use, 0u);
  }
}

TEST_F(MbufTest, ShareCopiesInlineData) {
  MbufPtr original = packet_from(bytes_of(pattern(100)));
  ASSERT_FALSE(original->has_cluster());
  MbufPtr copy = share(*original, 0, 100);
  ASSERT_TRUE(copy);
  EXPECT_NE(copy->data, original->data);
  EXPECT_TRUE(copy->writable());
  EXPECT_TRUE(original->writable());
  EXPECT_EQ(to_string(*copy), pattern(100));
}

TEST_F(MbufTest, ShareOfARangeAcrossMbufs) {
  const std::string data = pattern(5000);
  MbufPtr original = packet_from(bytes_of(data));
  original->pkthdr.rcvif = 4;
  MbufPtr copy = share(*original, 1000, 3000);
  ASSERT_TRUE(copy);
  EXPECT_EQ(to_string(*copy), data.substr(1000, 3000));
  EXPECT_FALSE(copy->has_pkthdr);  // as m_copym: a header only when copying from offset 0
  EXPECT_EQ(count_mbufs(copy.get()), 2u);
  EXPECT_EQ(pool().stats().clusters_in_use, 3u);  // nothing new: shared

  MbufPtr front = share(*original, 0, 10);
  ASSERT_TRUE(front);
  EXPECT_TRUE(front->has_pkthdr);
  EXPECT_EQ(front->pkthdr.rcvif, 4u);
  EXPECT_EQ(front->pkthdr.len, 10u);
}

TEST_F(MbufTest, ShareRefusesRangesBeyondTheChain) {
  MbufPtr m = packet_from(bytes_of(pattern(1500)));
  EXPECT_FALSE(share(*m, 0, 1501));
  EXPECT_FALSE(share(*m, 1501, 0));
  EXPECT_FALSE(share(*m, 1000, 501));
  EXPECT_FALSE(share(*m, SIZE_MAX, 2));
  EXPECT_TRUE(m->writable());
}

TEST_F(MbufTest, ShareOfNothingIsAnEmptyPacket) {
  MbufPtr m = packet_from(bytes_of(pattern(1500)));
  MbufPtr empty = share(*m, 1500, 0);
  ASSERT_TRUE(empty);
  EXPECT_EQ(chain_length(empty.get()), 0u);
  EXPECT_TRUE(m->writable());
}

TEST_F(MbufTest, ShareFailureWhenExhaustedLeavesNothingBehind) {
  ASSERT_TRUE(pool().configure(config_with(4, 8)));
  MbufPtr m = packet_from(bytes_of(pattern(5000)));  // 3 mbufs
  ASSERT_TRUE(m);
  EXPECT_FALSE(share(*m, 0, 5000));  // needs 3 more
  EXPECT_EQ(pool().stats().mbufs_in_use, 3u);
  EXPECT_TRUE(m->writable());
  EXPECT_TRUE(m->next->writable());
}

// --- dup (m_dup) ---

TEST_F(MbufTest, DupIsADeepWritableCopy) {
  const std::string data = pattern(3000);
  MbufPtr original = packet_from(bytes_of(data));
  original->pkthdr.rcvif = 3;
  original->pkthdr.csum_flags = 0x10;
  MbufPtr shared = share(*original, 0, 3000);
  MbufPtr copy = dup(*shared);
  ASSERT_TRUE(copy);
  EXPECT_EQ(to_string(*copy), data);
  EXPECT_EQ(copy->pkthdr.len, 3000u);
  EXPECT_EQ(copy->pkthdr.rcvif, 3u);
  EXPECT_EQ(copy->pkthdr.csum_flags, 0x10u);
  for (Mbuf* p = copy.get(); p != nullptr; p = p->next) EXPECT_TRUE(p->writable());
  copy->data[0] = std::byte{0xff};
  EXPECT_EQ(to_string(*original), data);
}

TEST_F(MbufTest, DupOfASmallPacketIsOneInlineMbuf) {
  MbufPtr original = packet_from(bytes_of(pattern(200)), Wait::nowait, 0);
  MbufPtr copy = dup(*original);
  ASSERT_TRUE(copy);
  EXPECT_EQ(count_mbufs(copy.get()), 1u);
  EXPECT_FALSE(copy->has_cluster());
  EXPECT_EQ(to_string(*copy), pattern(200));
}

TEST_F(MbufTest, DupWithoutPkthdrStaysWithout) {
  MbufPtr original = packet_from(bytes_of(pattern(3000)));
  MbufPtr tail = share(*original, 100, 100);
  ASSERT_FALSE(tail->has_pkthdr);
  MbufPtr copy = dup(*tail);
  ASSERT_TRUE(copy);
  EXPECT_FALSE(copy->has_pkthdr);
  EXPECT_EQ(to_string(*copy), pattern(3000).substr(100, 100));
}

// --- limits and statistics ---

TEST_F(MbufTest, NowaitExhaustionOfMbufsThenRecovery) {
  ASSERT_TRUE(pool().configure(config_with(4, 8)));
  std::vector<MbufPtr> held;
  for (int i = 0; i < 4; ++i) held.emplace_back(pool().get(Wait::nowait, true));
  for (auto& m : held) ASSERT_TRUE(m);
  EXPECT_EQ(pool().get(Wait::nowait, true), nullptr);
  EXPECT_EQ(pool().get_cluster(Wait::nowait, true), nullptr);
  EXPECT_FALSE(packet_from(bytes_of(pattern(10))));
  PoolStats s = pool().stats();
  EXPECT_EQ(s.fail_nowait_exhausted, before_.fail_nowait_exhausted + 3);
  EXPECT_EQ(s.mbufs_in_use, 4u);
  EXPECT_EQ(s.clusters_in_use, 0u);

  held.pop_back();
  MbufPtr again(pool().get_cluster(Wait::nowait, true));
  EXPECT_TRUE(again);
}

TEST_F(MbufTest, NowaitExhaustionOfClustersThenRecovery) {
  ASSERT_TRUE(pool().configure(config_with(16, 2)));
  MbufPtr a(pool().get_cluster(Wait::nowait, true));
  MbufPtr b(pool().get_cluster(Wait::nowait, true));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(pool().get_cluster(Wait::nowait, true), nullptr);
  // The refused cluster allocation gave its mbuf back.
  EXPECT_EQ(pool().stats().mbufs_in_use, 2u);
  MbufPtr small(pool().get(Wait::nowait, true));  // mbufs are still available
  EXPECT_TRUE(small);
  EXPECT_EQ(pool().stats().fail_nowait_exhausted, before_.fail_nowait_exhausted + 1);
  a.reset();
  MbufPtr c(pool().get_cluster(Wait::nowait, true));
  EXPECT_TRUE(c);
}

TEST_F(MbufTest, PacketFromFailsCleanlyWhenClustersRunOut) {
  ASSERT_TRUE(pool().configure(config_with(16, 2)));
  EXPECT_FALSE(packet_from(bytes_of(pattern(5000))));  // needs 3 clusters
  EXPECT_EQ(pool().stats().mbufs_in_use, 0u);
  EXPECT_EQ(pool().stats().clusters_in_use, 0u);
  EXPECT_TRUE(packet_from(bytes_of(pattern(4000))));
}

TEST_F(MbufTest, StatsTrackInUsePeakAndLimits) {
  ASSERT_TRUE(pool().configure(config_with(100, 50, 4096)));
  PoolStats s = pool().stats();
  EXPECT_EQ(s.mbufs_limit, 100u);
  EXPECT_EQ(s.clusters_limit, 50u);
  EXPECT_EQ(s.mclbytes, 4096u);
  EXPECT_EQ(s.mbufs_peak, 0u);
  {
    std::vector<MbufPtr> held;
    for (int i = 0; i < 5; ++i) held.emplace_back(pool().get(Wait::nowait, false));
    for (int i = 0; i < 2; ++i) held.emplace_back(pool().get_cluster(Wait::nowait, false));
    held.resize(3);
    held.emplace_back(pool().get(Wait::nowait, false));
    s = pool().stats();
    EXPECT_EQ(s.mbufs_in_use, 4u);
    EXPECT_EQ(s.mbufs_peak, 7u);
    EXPECT_EQ(s.clusters_in_use, 0u);
    EXPECT_EQ(s.clusters_peak, 2u);
  }
  s = pool().stats();
  EXPECT_EQ(s.mbufs_in_use, 0u);
  EXPECT_EQ(s.mbufs_peak, 7u);
  ASSERT_TRUE(pool().configure(PoolConfig{}));
  EXPECT_EQ(pool().stats().mbufs_peak, 0u);  // a new configuration starts a new high-water mark
}

TEST_F(MbufTest, CheckNoLeaksDescribesWhatIsInUse) {
  std::string report;
  EXPECT_TRUE(pool().check_no_leaks(&report));
  EXPECT_NE(report.find("mbufs in use: 0"), std::string::npos) << report;
  MbufPtr m(pool().get_cluster(Wait::nowait, true));
  EXPECT_FALSE(pool().check_no_leaks(&report));
  EXPECT_NE(report.find("mbufs in use: 1"), std::string::npos) << report;
  EXPECT_NE(report.find("clusters in use: 1"), std::string::npos) << report;
  EXPECT_FALSE(pool().check_no_leaks());
}

// --- configuration ---

TEST_F(MbufTest, ConfigureIsRefusedWhileBuffersAreInUse) {
  MbufPtr m(pool().get(Wait::nowait, true));
  {
    log::Capture capture;
    EXPECT_FALSE(pool().configure(config_with(10, 10)));
    EXPECT_TRUE(capture.contains({"configuration refused", "1 mbufs"})) << capture.text();
  }
  EXPECT_EQ(pool().config().max_mbufs, PoolConfig{}.max_mbufs);
  MbufPtr more(pool().get(Wait::nowait, true));  // the refused configure left the pool usable
  EXPECT_TRUE(more);
  m.reset();
  more.reset();
  EXPECT_TRUE(pool().configure(config_with(10, 10)));
  EXPECT_EQ(pool().config().max_mbufs, 10u);
}

TEST_F(MbufTest, ConfigureRejectsInvalidValues) {
  log::Capture capture;
  for (size_t mcl : std::initializer_list<size_t>{0, 1000, 1024, 3000, 131072}) {
    EXPECT_FALSE(pool().configure(config_with(10, 10, mcl))) << mcl;
  }
  EXPECT_FALSE(pool().configure(config_with(0, 10)));
  EXPECT_FALSE(pool().configure(config_with(10, 0)));
  EXPECT_TRUE(capture.contains({"mclbytes must be a power of two"}));
  EXPECT_EQ(pool().config().mclbytes, 2048u);
}

TEST_F(MbufTest, ReconfiguredClustersHaveTheNewSize) {
  // Leave 2048-byte clusters in this thread's cache and the global list.
  {
    std::vector<MbufPtr> held;
    for (int i = 0; i < 300; ++i) held.emplace_back(pool().get_cluster(Wait::nowait, true));
  }
  for (size_t mcl : std::initializer_list<size_t>{8192, 65536, 2048, 4096}) {
    SCOPED_TRACE(mcl);
    ASSERT_TRUE(pool().configure(config_with(1000, 1000, mcl)));
    std::vector<MbufPtr> held;
    for (int i = 0; i < 300; ++i) {
      held.emplace_back(pool().get_cluster(Wait::nowait, true));
      ASSERT_TRUE(held.back());
      ASSERT_EQ(held.back()->buf_size(), mcl);
    }
    MbufPtr big = packet_from(bytes_of(pattern(3000)));
    EXPECT_EQ(count_mbufs(big.get()), mcl >= 4096 ? 1u : 2u);
    EXPECT_EQ(pool().stats().mclbytes, mcl);
  }
}

TEST_F(MbufTest, ReconfigureDiscardsClustersCachedByAnotherThread) {
  std::mutex mu;
  std::condition_variable cv;
  int phase = 0;
  size_t size_seen = 0;
  std::thread worker([&] {
    register_current_thread(ThreadKind::worker, "buf-cacher");
    {
      std::vector<MbufPtr> held;
      for (int i = 0; i < 8; ++i) held.emplace_back(pool().get_cluster(Wait::nowait, true));
    }  // now in this thread's cache, still 2048 bytes
    std::unique_lock lock(mu);
    phase = 1;
    cv.notify_all();
    cv.wait(lock, [&] { return phase == 2; });
    MbufPtr m(pool().get_cluster(Wait::nowait, true));
    size_seen = m ? m->buf_size() : 0;
  });
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return phase == 1; });
    EXPECT_TRUE(pool().configure(config_with(100, 100, 4096)));
    phase = 2;
    cv.notify_all();
  }
  worker.join();
  EXPECT_EQ(size_seen, 4096u);
}

TEST_F(MbufTest, SmallOrNoCacheStillWorks) {
  for (size_t cache : std::initializer_list<size_t>{0, 1, 2, 3}) {
    SCOPED_TRACE(cache);
    ASSERT_TRUE(pool().configure(config_with(64, 64, 2048, cache)));
    std::vector<MbufPtr> held;
    for (int round = 0; round < 3; ++round) {
      for (int i = 0; i < 20; ++i) held.push_back(packet_from(bytes_of(pattern(300))));
      for (auto& m : held) ASSERT_TRUE(m) << round;
      held.clear();
    }
  }
}

TEST_F(MbufTest, ThreadExitReturnsItsCacheToTheGlobalList) {
  ASSERT_TRUE(pool().configure(config_with(64, 64)));  // empties this thread's cache lazily
  Mbuf* seen = nullptr;
  std::thread t([&] {
    register_current_thread(ThreadKind::worker, "buf-exiting");
    Mbuf* m = pool().get(Wait::nowait, true);
    seen = m;
    pool().free_one(m);  // into this thread's cache, flushed when the thread exits
  });
  t.join();
  MbufPtr mine(pool().get(Wait::nowait, true));  // refills from the global list
  EXPECT_EQ(mine.get(), seen);
}

// --- thread rules ---

TEST_F(MbufTest, UntrackedThreadAllocationIsRefusedAndLogged) {
  log::Capture capture;
  bool all_refused = false;
  std::thread t([&] {
    register_current_thread(ThreadKind::untracked, "rogue-alloc");
    Mbuf* a = pool().get(Wait::nowait, true);
    Mbuf* b = pool().get_cluster(Wait::waitok, true);
    MbufPtr c = packet_from(bytes_of(pattern(100)));
    all_refused = a == nullptr && b == nullptr && !c;
  });
  t.join();
  EXPECT_TRUE(all_refused);
  EXPECT_EQ(pool().stats().fail_untracked_thread, before_.fail_untracked_thread + 3);
  EXPECT_EQ(pool().stats().fail_nowait_exhausted, before_.fail_nowait_exhausted);
  EXPECT_TRUE(capture.contains({"error", "untracked", "rogue-alloc"})) << capture.text();
}

TEST_F(MbufTest, UntrackedThreadFreeIsCountedLoggedAndNotLeaked) {
  log::Capture capture;
  MbufPtr chain = packet_from(bytes_of(pattern(5000)));
  MbufPtr copy = share(*chain, 0, 5000);
  Mbuf* single = pool().get(Wait::nowait, false);
  ASSERT_TRUE(chain && copy && single);
  std::thread t([&] {
    register_current_thread(ThreadKind::untracked, "rogue-free");
    chain.reset();
    copy.reset();
    pool().free_one(single);
  });
  t.join();
  PoolStats s = pool().stats();
  EXPECT_EQ(s.untracked_frees, before_.untracked_frees + 3);
  EXPECT_EQ(s.mbufs_in_use, 0u);
  EXPECT_EQ(s.clusters_in_use, 0u);
  EXPECT_TRUE(capture.contains({"error", "untracked", "rogue-free"})) << capture.text();
  // What the untracked thread freed is reusable.
  MbufPtr again = packet_from(bytes_of(pattern(5000)));
  EXPECT_TRUE(again);
}

// --- M_WAITOK ---

// Records calls; sleep() runs an action (e.g. a free on another thread) and returns.
class FakeWaiter : public Waiter {
 public:
  explicit FakeWaiter(bool sleepable) : sleepable_(sleepable) {}
  bool can_sleep() override {
    ++can_sleep_calls;
    return sleepable_;
  }
  int sleep(const void* chan, uint32_t timeout_ms) override {
    slept_on = chan;
    last_timeout = timeout_ms;
    if (++sleeps > 3) {
      ADD_FAILURE() << "slept again although a buffer was freed";
      std::abort();  // the pool would loop forever
    }
    if (on_sleep) on_sleep();
    return 0;
  }
  void wake(const void* chan) override {
    woke_on = chan;
    ++wakes;
  }

  std::function<void()> on_sleep;
  std::atomic<int> can_sleep_calls{0}, sleeps{0}, wakes{0};
  std::atomic<const void*> slept_on{nullptr}, woke_on{nullptr};
  uint32_t last_timeout = 99;

 private:
  bool sleepable_;
};

TEST_F(MbufTest, WaitokWithoutAWaiterIsRefusedWhenFull) {
  ASSERT_TRUE(pool().configure(config_with(1, 1)));
  MbufPtr held(pool().get(Wait::waitok, true));  // room: M_WAITOK behaves like M_NOWAIT
  ASSERT_TRUE(held);
  log::Capture capture;
  EXPECT_EQ(pool().get(Wait::waitok, true), nullptr);
  PoolStats s = pool().stats();
  EXPECT_EQ(s.fail_waitok_refused, before_.fail_waitok_refused + 1);
  EXPECT_EQ(s.fail_nowait_exhausted, before_.fail_nowait_exhausted);
  EXPECT_TRUE(capture.contains({"error", "M_WAITOK", "pseudo-thread", "buf-test"}))
      << capture.text();
}

TEST_F(MbufTest, WaitokIsRefusedWhenTheWaiterCannotSleep) {
  ASSERT_TRUE(pool().configure(config_with(4, 1)));
  FakeWaiter waiter(false);
  pool().set_waiter(&waiter);
  log::Capture capture;
  // Refused even with room: the caller is not a pseudo-thread, so the misuse shows every time.
  EXPECT_EQ(pool().get(Wait::waitok, true), nullptr);
  MbufPtr held(pool().get_cluster(Wait::nowait, true));
  ASSERT_TRUE(held);
  // And at the limit, where it would have had to sleep.
  EXPECT_EQ(pool().get_cluster(Wait::waitok, true), nullptr);
  EXPECT_FALSE(get_packet(Wait::waitok, 1500));
  EXPECT_EQ(waiter.sleeps, 0);
  EXPECT_GE(waiter.can_sleep_calls, 3);
  PoolStats s = pool().stats();
  EXPECT_EQ(s.fail_waitok_refused, before_.fail_waitok_refused + 3);
  EXPECT_EQ(s.fail_nowait_exhausted, before_.fail_nowait_exhausted);
  EXPECT_EQ(s.mbufs_in_use, 1u);
  EXPECT_TRUE(capture.contains({"error", "M_WAITOK",
                                "only allowed on a pseudo-thread in the stack context",
                                "buf-test"}))
      << capture.text();
}

TEST_F(MbufTest, FreesDoNotWakeWhenNobodyWaits) {
  FakeWaiter waiter(true);
  pool().set_waiter(&waiter);
  for (int i = 0; i < 10; ++i) {
    MbufPtr m = packet_from(bytes_of(pattern(3000)), Wait::waitok);
    ASSERT_TRUE(m);
  }
  EXPECT_EQ(waiter.wakes, 0);
  EXPECT_EQ(waiter.sleeps, 0);
  EXPECT_EQ(pool().stats().waitok_sleeps, before_.waitok_sleeps);
}

// The fake's sleep() frees a held buffer on another thread and returns, as the runtime would
// resume the pseudo-thread after the wake.
void expect_waitok_sleeps_until_freed(bool cluster, const PoolStats& before) {
  ASSERT_TRUE(pool().configure(config_with(2, 1)));
  MbufPtr held(cluster ? pool().get_cluster(Wait::nowait, true) : pool().get(Wait::nowait, true));
  MbufPtr other(pool().get(Wait::nowait, true));
  ASSERT_TRUE(held && other);
  FakeWaiter waiter(true);
  waiter.on_sleep = [&] {
    std::thread t([&] {
      register_current_thread(ThreadKind::worker, "buf-freer");
      held.reset();
    });
    t.join();
  };
  pool().set_waiter(&waiter);
  MbufPtr got(cluster ? pool().get_cluster(Wait::waitok, true) : pool().get(Wait::waitok, true));
  pool().set_waiter(nullptr);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->has_cluster(), cluster);
  EXPECT_EQ(waiter.sleeps, 1);
  EXPECT_EQ(waiter.last_timeout, 0u);
  EXPECT_GE(waiter.wakes, 1);
  EXPECT_NE(waiter.slept_on.load(), nullptr);
  EXPECT_EQ(waiter.woke_on.load(), waiter.slept_on.load());
  PoolStats s = pool().stats();
  EXPECT_EQ(s.waitok_sleeps, before.waitok_sleeps + 1);
  EXPECT_EQ(s.fail_waitok_refused, before.fail_waitok_refused);
  EXPECT_EQ(s.fail_nowait_exhausted, before.fail_nowait_exhausted);
}

TEST_F(MbufTest, WaitokSleepsUntilAnotherThreadFreesAnMbuf) {
  expect_waitok_sleeps_until_freed(false, before_);
}

TEST_F(MbufTest, WaitokSleepsUntilAnotherThreadFreesACluster) {
  expect_waitok_sleeps_until_freed(true, before_);
}

TEST_F(MbufTest, ABurstOfFreesWakesOncePerSleep) {
  ASSERT_TRUE(pool().configure(config_with(4, 4)));
  std::vector<MbufPtr> held;
  for (int i = 0; i < 4; ++i) held.emplace_back(pool().get(Wait::nowait, true));
  FakeWaiter waiter(true);
  waiter.on_sleep = [&] {
    std::thread t([&] {
      register_current_thread(ThreadKind::worker, "buf-freer");
      held.resize(1);  // three frees while one caller sleeps
    });
    t.join();
  };
  pool().set_waiter(&waiter);
  MbufPtr got(pool().get(Wait::waitok, true));
  ASSERT_TRUE(got);
  EXPECT_EQ(waiter.sleeps, 1);
  EXPECT_EQ(waiter.wakes, 1);
  got.reset();
  held.clear();
  EXPECT_EQ(waiter.wakes, 1);  // nobody waits any more
}

TEST_F(MbufTest, DoubleFreeIsCaughtBeforeTheBufferHasTwoOwners) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Mbuf* m = pool().get_cluster(Wait::nowait, true);
  ASSERT_NE(m, nullptr);
  EXPECT_DEATH(
      {
        pool().free_one(m);
        pool().free_one(m);
      },
      "mbuf freed twice");
  pool().free_one(m);  // only the child freed it
}

// --- threads ---

// Packets handed between threads, with what each should contain.
struct Item {
  MbufPtr m;
  uint8_t seed;
  size_t len;
};

class ItemQueue {
 public:
  void push(Item item) {
    std::lock_guard lock(mu_);
    items_.push_back(std::move(item));
  }
  bool pop(Item* out) {
    std::lock_guard lock(mu_);
    if (items_.empty()) return false;
    *out = std::move(items_.front());
    items_.pop_front();
    return true;
  }

 private:
  std::mutex mu_;
  std::deque<Item> items_;
};

bool holds_pattern(const Item& item) {
  return chain_length(item.m.get()) == item.len && to_string(*item.m) == pattern(item.len, item.seed);
}

// One stress thread: makes packets, shares, dups, trims and frees packets made by any thread.
void stress(int id, ItemQueue& queue, std::atomic<int>& bad) {
  register_current_thread(ThreadKind::worker, "buf-stress-" + std::to_string(id));
  std::mt19937 rng(static_cast<unsigned>(id) * 7919u + 1u);
  constexpr int kOps = 20000;
  for (int op = 0; op < kOps; ++op) {
    const unsigned what = rng() % 8;
    if (what < 3) {
      const size_t len = rng() % 4500;
      const auto seed = static_cast<uint8_t>(rng());
      MbufPtr m = packet_from(bytes_of(pattern(len, seed)));
      if (m) queue.push({std::move(m), seed, len});  // may fail at the limit: fine
      continue;
    }
    Item item;
    if (!queue.pop(&item)) continue;
    if (!holds_pattern(item)) ++bad;
    if (what == 3 && item.len > 0) {  // share a piece; both go back
      const size_t off = rng() % item.len;
      const size_t len = rng() % (item.len - off + 1);
      MbufPtr s = share(*item.m, off, len);
      if (s) queue.push({std::move(s), static_cast<uint8_t>(item.seed + off), len});
      queue.push(std::move(item));
    } else if (what == 4) {  // deep copy
      MbufPtr d = dup(*item.m);
      if (d) queue.push({std::move(d), item.seed, item.len});
      queue.push(std::move(item));
    } else if (what == 5 && item.len > 2) {  // trim both ends, then make the front contiguous
      adjust(*item.m, 1);
      adjust(*item.m, -1);
      item.m = pullup(std::move(item.m), std::min<size_t>(item.len - 2, 100));
      if (item.m) queue.push({std::move(item.m), static_cast<uint8_t>(item.seed + 1), item.len - 2});
    }
    // else: item (and its buffers) freed here, on this thread
  }
}

TEST_F(MbufTest, MultiThreadStressSharingAcrossThreads) {
  // Small limits and caches: exhaustion, refills and flushes all happen often.
  ASSERT_TRUE(pool().configure(config_with(512, 128, 2048, 16)));
  ItemQueue queue;
  std::atomic<int> bad{0};
  std::vector<std::thread> threads;
  for (int id = 0; id < 4; ++id) threads.emplace_back(stress, id, std::ref(queue), std::ref(bad));
  for (auto& t : threads) t.join();
  Item item;
  while (queue.pop(&item)) {
    if (!holds_pattern(item)) ++bad;
  }
  item.m.reset();
  EXPECT_EQ(bad.load(), 0);
  PoolStats s = pool().stats();
  EXPECT_LE(s.mbufs_peak, 512u);
  EXPECT_LE(s.clusters_peak, 128u);
}

}  // namespace
}  // namespace pktd::buf
