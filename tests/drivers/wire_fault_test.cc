// The wire driver's fault injector (drivers/wire/fault_injector.h) with a fake clock: rates of
// loss, duplication, corruption and reordering within binomial bounds, timing of delay, jitter
// and the rate limit, determinism by seed, and the option syntax shared by mount options and
// pkt nicinfo requests. Also the shared-memory rings (drivers/wire/segment.h) between two
// threads, with real eventfd wake-ups: what ThreadSanitizer checks the memory ordering on.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "drivers/wire/fault_injector.h"
#include "drivers/wire/fault_settings.h"
#include "drivers/wire/segment.h"

namespace devnp_wire {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;

constexpr uint64_t kSeed = 42;
constexpr int kFrames = 100'000;
constexpr size_t kFrameLen = 98;  // a 56-byte ping in Ethernet

// A frame whose bytes 14..17 carry its sequence number; the rest a pattern.
Frame make_frame(uint32_t seq, size_t len = kFrameLen) {
  Frame f(len);
  for (size_t i = 0; i < len; ++i) f[i] = static_cast<std::byte>(i * 7 + 3);
  std::memcpy(f.data() + 14, &seq, sizeof seq);
  return f;
}

uint32_t seq_of(const Frame& f) {
  uint32_t seq = 0;
  std::memcpy(&seq, f.data() + 14, sizeof seq);
  return seq;
}

std::vector<Frame> take_ready(FaultInjector& inj) {
  std::vector<Frame> out;
  while (Frame* f = inj.front()) {
    out.push_back(std::move(*f));
    inj.pop();
  }
  return out;
}

// Submits n frames one microsecond apart and delivers everything; returns what came out.
std::vector<Frame> run(FaultInjector& inj, int n) {
  std::vector<Frame> out;
  Nanos t{0};
  for (int i = 0; i < n; ++i, t += microseconds(1)) {
    inj.submit(make_frame(static_cast<uint32_t>(i)), t);
    inj.advance(t);
    for (Frame& f : take_ready(inj)) out.push_back(std::move(f));
  }
  inj.advance(t + std::chrono::seconds(10));  // whatever still waits for a follower
  for (Frame& f : take_ready(inj)) out.push_back(std::move(f));
  return out;
}

// |observed - n p| within 5 standard deviations of a binomial (n, p).
void expect_binomial(uint64_t observed, uint64_t n, double percent, const char* what) {
  double p = percent / 100.0;
  double mean = static_cast<double>(n) * p;
  double sigma = std::sqrt(static_cast<double>(n) * p * (1 - p));
  EXPECT_NEAR(static_cast<double>(observed), mean, 5 * sigma)
      << what << ": " << observed << " of " << n << " at " << percent << "%";
}

FaultSettings with(double FaultSettings::*field, double value) {
  FaultSettings s;
  s.*field = value;
  return s;
}

// --- nothing set ---

TEST(WireFaults, ZeroSettingsPassEverythingUntouchedAndInOrder) {
  FaultInjector inj(kSeed, FaultSettings{});
  EXPECT_TRUE(inj.passthrough());
  std::vector<Frame> out = run(inj, 10'000);
  ASSERT_EQ(out.size(), 10'000u);
  for (uint32_t i = 0; i < out.size(); ++i) ASSERT_EQ(out[i], make_frame(i)) << i;
  const FaultCounts& c = inj.counts();
  EXPECT_EQ(c.frames, 10'000u);
  EXPECT_EQ(c.delivered, 10'000u);
  EXPECT_EQ(c.dropped + c.duplicated + c.reordered + c.delayed + c.corrupted + c.rate_dropped +
                c.overflow,
            0u);
  EXPECT_TRUE(inj.passthrough());
  EXPECT_FALSE(inj.next_deadline());
}

TEST(WireFaults, AFrameWithNoFaultIsReadyAtOnce) {
  FaultInjector inj(kSeed, FaultSettings{});
  inj.submit(make_frame(7), Nanos{5});
  inj.advance(Nanos{5});
  ASSERT_NE(inj.front(), nullptr);
  EXPECT_EQ(seq_of(*inj.front()), 7u);
}

// --- rates ---

TEST(WireFaults, LossRateIsWithinBinomialBounds) {
  FaultInjector inj(kSeed, with(&FaultSettings::loss_pct, 5));
  std::vector<Frame> out = run(inj, kFrames);
  expect_binomial(inj.counts().dropped, kFrames, 5, "dropped");
  EXPECT_EQ(out.size(), kFrames - inj.counts().dropped);
  for (size_t i = 1; i < out.size(); ++i) ASSERT_LT(seq_of(out[i - 1]), seq_of(out[i]));
}

TEST(WireFaults, DecimalPercentagesWork) {
  FaultInjector inj(kSeed, with(&FaultSettings::loss_pct, 0.5));
  run(inj, kFrames);
  expect_binomial(inj.counts().dropped, kFrames, 0.5, "dropped");
}

TEST(WireFaults, LossOfAHundredPercentDropsEverything) {
  FaultInjector inj(kSeed, with(&FaultSettings::loss_pct, 100));
  EXPECT_TRUE(run(inj, 1000).empty());
  EXPECT_EQ(inj.counts().dropped, 1000u);
}

TEST(WireFaults, DuplicationRateIsWithinBoundsAndCopiesFollowTheOriginal) {
  FaultInjector inj(kSeed, with(&FaultSettings::dup_pct, 3));
  std::vector<Frame> out = run(inj, kFrames);
  uint64_t dups = inj.counts().duplicated;
  expect_binomial(dups, kFrames, 3, "duplicated");
  ASSERT_EQ(out.size(), kFrames + dups);
  uint64_t seen_twice = 0;
  for (size_t i = 1; i < out.size(); ++i) {
    ASSERT_LE(seq_of(out[i - 1]), seq_of(out[i]));
    if (seq_of(out[i - 1]) == seq_of(out[i])) {
      ++seen_twice;
      EXPECT_EQ(out[i - 1], out[i]);
    }
  }
  EXPECT_EQ(seen_twice, dups);
}

TEST(WireFaults, CorruptionRateIsWithinBoundsAndFlipsOneBitPastTheEthernetHeader) {
  FaultInjector inj(kSeed, with(&FaultSettings::corrupt_pct, 2));
  std::vector<Frame> out = run(inj, kFrames);
  expect_binomial(inj.counts().corrupted, kFrames, 2, "corrupted");
  ASSERT_EQ(out.size(), static_cast<size_t>(kFrames));
  uint64_t changed = 0;
  for (uint32_t i = 0; i < out.size(); ++i) {
    Frame want = make_frame(i);
    // The sequence number itself may be hit: find the frame's original through the rest.
    int bits = 0;
    for (size_t b = 0; b < want.size(); ++b) {
      auto diff = std::to_integer<unsigned>(out[i][b] ^ want[b]);
      bits += __builtin_popcount(diff);
      if (diff != 0) {
        EXPECT_GE(b, kCorruptFrom) << "frame " << i;
      }
    }
    ASSERT_LE(bits, 1) << "frame " << i;
    changed += static_cast<uint64_t>(bits);
  }
  EXPECT_EQ(changed, inj.counts().corrupted);
}

TEST(WireFaults, CorruptionOfAShortFrameStaysInside) {
  FaultSettings s;
  s.corrupt_pct = 100;
  FaultInjector inj(kSeed, s);
  for (size_t len : {1u, 2u, 13u, 14u, 15u}) {
    Frame f(len, std::byte{0});
    inj.submit(f, Nanos{0});
    inj.advance(Nanos{0});
    std::vector<Frame> out = take_ready(inj);
    ASSERT_EQ(out.size(), 1u);
    EXPECT_EQ(out[0].size(), len);
    EXPECT_NE(out[0], f);
  }
}

TEST(WireFaults, ReorderRateIsWithinBoundsAndHeldFramesComeAfterTheNext) {
  FaultInjector inj(kSeed, with(&FaultSettings::reorder_pct, 4));
  std::vector<Frame> out = run(inj, kFrames);
  expect_binomial(inj.counts().reordered, kFrames, 4, "reordered");
  ASSERT_EQ(out.size(), static_cast<size_t>(kFrames));
  // Every frame arrives exactly once, and a frame out of place arrived after a later one.
  std::vector<bool> seen(kFrames, false);
  uint64_t late = 0;
  uint32_t highest = 0;
  for (const Frame& f : out) {
    uint32_t s = seq_of(f);
    ASSERT_FALSE(seen[s]);
    seen[s] = true;
    if (s < highest) ++late;
    highest = std::max(highest, s);
  }
  EXPECT_EQ(late, inj.counts().reordered);
}

TEST(WireFaults, AllFaultsTogetherKeepTheirRates) {
  FaultSettings s;
  s.loss_pct = 10;
  s.dup_pct = 5;
  s.corrupt_pct = 5;
  s.reorder_pct = 5;
  FaultInjector inj(kSeed, s);
  run(inj, kFrames);
  const FaultCounts& c = inj.counts();
  uint64_t survivors = kFrames - c.dropped;
  expect_binomial(c.dropped, kFrames, 10, "dropped");
  expect_binomial(c.duplicated, survivors, 5, "duplicated");
  expect_binomial(c.corrupted, survivors, 5, "corrupted");
  expect_binomial(c.reordered, survivors, 5, "reordered");
  EXPECT_EQ(c.delivered, survivors + c.duplicated);
}

// --- determinism ---

TEST(WireFaults, TheSameSeedGivesTheSameDecisions) {
  FaultSettings s;
  s.loss_pct = 20;
  s.dup_pct = 10;
  s.corrupt_pct = 10;
  s.reorder_pct = 10;
  s.delay_ms = 1;
  s.jitter_ms = 1;
  FaultInjector a(7, s);
  FaultInjector b(7, s);
  FaultInjector other(8, s);
  std::vector<Frame> out_a = run(a, 5000);
  EXPECT_EQ(out_a, run(b, 5000));
  EXPECT_NE(out_a, run(other, 5000));
  EXPECT_EQ(a.counts().dropped, b.counts().dropped);
}

TEST(WireFaults, ReseedReplaysTheSequence) {
  FaultInjector inj(9, with(&FaultSettings::loss_pct, 50));
  std::vector<Frame> first = run(inj, 1000);
  inj.reseed(9);
  EXPECT_EQ(run(inj, 1000), first);
  EXPECT_EQ(inj.seed(), 9u);
}

TEST(WireFaults, ChangingOneSettingKeepsTheOthersDecisions) {
  // The same frames are lost with or without duplication set: every frame draws the same
  // numbers whatever the settings.
  FaultSettings lossy;
  lossy.loss_pct = 30;
  FaultSettings lossy_dup = lossy;
  lossy_dup.dup_pct = 50;
  FaultInjector a(kSeed, lossy);
  FaultInjector b(kSeed, lossy_dup);
  std::vector<Frame> out_a = run(a, 2000);
  std::vector<Frame> out_b = run(b, 2000);
  std::vector<uint32_t> kept_a, kept_b;
  for (const Frame& f : out_a) kept_a.push_back(seq_of(f));
  for (const Frame& f : out_b)
    if (kept_b.empty() || kept_b.back() != seq_of(f)) kept_b.push_back(seq_of(f));
  EXPECT_EQ(kept_a, kept_b);
}

// --- time ---

TEST(WireFaults, DelayHoldsAFrameUntilItIsDue) {
  FaultSettings s;
  s.delay_ms = 10;
  FaultInjector inj(kSeed, s);
  EXPECT_FALSE(inj.passthrough());
  inj.submit(make_frame(1), Nanos{0});
  ASSERT_TRUE(inj.next_deadline());
  EXPECT_EQ(*inj.next_deadline(), milliseconds(10));
  inj.advance(milliseconds(10) - Nanos{1});
  EXPECT_EQ(inj.front(), nullptr);
  inj.advance(milliseconds(10));
  ASSERT_NE(inj.front(), nullptr);
  EXPECT_EQ(seq_of(*inj.front()), 1u);
  inj.pop();
  EXPECT_EQ(inj.counts().delayed, 1u);
  EXPECT_FALSE(inj.next_deadline());
}

// Frames sent every `gap`, delivered by a clock that advances in 100 us steps: each frame's
// flight time, and the order they arrived in.
struct Flights {
  std::vector<Nanos> flight;
  std::vector<uint32_t> order;
};
Flights fly(FaultInjector& inj, int n, Nanos gap) {
  const Nanos step = microseconds(100);
  std::vector<Nanos> sent;
  Flights out;
  out.flight.resize(static_cast<size_t>(n));
  for (Nanos t{0}; out.order.size() < static_cast<size_t>(n); t += step) {
    if (sent.size() < static_cast<size_t>(n) && t >= gap * static_cast<int64_t>(sent.size())) {
      inj.submit(make_frame(static_cast<uint32_t>(sent.size())), t);
      sent.push_back(t);
    }
    inj.advance(t);
    for (Frame& f : take_ready(inj)) {
      out.flight[seq_of(f)] = t - sent[seq_of(f)];
      out.order.push_back(seq_of(f));
    }
  }
  return out;
}

TEST(WireFaults, JitterSpreadsFlightsOverItsBounds) {
  FaultSettings s;
  s.delay_ms = 10;
  s.jitter_ms = 5;
  FaultInjector inj(kSeed, s);
  // Sent further apart than the jitter's spread, so keeping order holds no frame back.
  Flights f = fly(inj, 1000, milliseconds(20));
  Nanos earliest = *std::min_element(f.flight.begin(), f.flight.end());
  Nanos latest = *std::max_element(f.flight.begin(), f.flight.end());
  EXPECT_GE(earliest, milliseconds(5));
  EXPECT_LE(latest, milliseconds(15) + microseconds(100));
  EXPECT_LT(earliest, milliseconds(6));
  EXPECT_GT(latest, milliseconds(14));
  EXPECT_EQ(inj.counts().delayed, 1000u);
}

TEST(WireFaults, JitterKeepsOrderWhenFramesAreClose) {
  FaultSettings s;
  s.delay_ms = 10;
  s.jitter_ms = 5;
  FaultInjector inj(kSeed, s);
  Flights f = fly(inj, 2000, milliseconds(1));
  for (size_t i = 1; i < f.order.size(); ++i) ASSERT_LT(f.order[i - 1], f.order[i]);
  for (Nanos flight : f.flight) {
    EXPECT_GE(flight, milliseconds(5));
    EXPECT_LE(flight, milliseconds(15) + microseconds(100));
  }
}

TEST(WireFaults, RateLimitSerialisesFramesAndDropsBeyondItsQueue) {
  FaultSettings s;
  s.rate_bps = 8000;  // 1000 bytes/s: a 100-byte frame takes 100 ms
  s.rate_queue = 3;
  FaultInjector inj(kSeed, s);
  for (uint32_t i = 0; i < 5; ++i) inj.submit(make_frame(i, 100), Nanos{0});
  EXPECT_EQ(inj.counts().rate_dropped, 2u);
  for (int k = 1; k <= 3; ++k) {
    inj.advance(milliseconds(100 * k) - Nanos{1});
    EXPECT_EQ(inj.front(), nullptr) << k;
    inj.advance(milliseconds(100 * k));
    ASSERT_NE(inj.front(), nullptr) << k;
    EXPECT_EQ(seq_of(*inj.front()), static_cast<uint32_t>(k - 1));
    inj.pop();
  }
  // The link is idle again: a frame sent now takes its own 100 ms only.
  inj.submit(make_frame(9, 100), milliseconds(1000));
  inj.advance(milliseconds(1100));
  ASSERT_NE(inj.front(), nullptr);
  EXPECT_EQ(seq_of(*inj.front()), 9u);
}

TEST(WireFaults, RateLimitAveragesToTheRate) {
  FaultSettings s;
  s.rate_bps = 1'000'000;  // 1 Mbit/s; 1000-byte frames: 125 a second
  s.rate_queue = 10;
  FaultInjector inj(kSeed, s);
  uint64_t delivered = 0;
  for (Nanos t{0}; t < std::chrono::seconds(2); t += milliseconds(1)) {
    inj.submit(make_frame(0, 1000), t);  // offered: 8 Mbit/s
    inj.advance(t);
    delivered += take_ready(inj).size();
  }
  EXPECT_NEAR(static_cast<double>(delivered), 250, 2);
  EXPECT_EQ(inj.counts().rate_dropped + delivered + inj.held(), 2000u);
}

TEST(WireFaults, AHeldBackFrameWithNoFollowerGoesOnAlone) {
  FaultInjector inj(kSeed, with(&FaultSettings::reorder_pct, 100));
  inj.submit(make_frame(1), Nanos{0});
  ASSERT_TRUE(inj.next_deadline());
  EXPECT_EQ(*inj.next_deadline(), kReorderWait);
  inj.advance(kReorderWait - Nanos{1});
  EXPECT_EQ(inj.front(), nullptr);
  inj.advance(kReorderWait);
  ASSERT_NE(inj.front(), nullptr);
  EXPECT_EQ(inj.counts().reordered, 0u);  // nothing overtook it
}

TEST(WireFaults, AHeldBackFrameComesRightAfterTheNextOne) {
  FaultInjector inj(kSeed, FaultSettings{});
  inj.set_settings(with(&FaultSettings::reorder_pct, 100));
  inj.submit(make_frame(1), Nanos{0});
  inj.set_settings(FaultSettings{});
  inj.submit(make_frame(2), Nanos{0});
  inj.submit(make_frame(3), Nanos{0});
  inj.advance(Nanos{0});
  std::vector<uint32_t> order;
  for (const Frame& f : take_ready(inj)) order.push_back(seq_of(f));
  EXPECT_EQ(order, (std::vector<uint32_t>{2, 1, 3}));
  EXPECT_EQ(inj.counts().reordered, 1u);
}

TEST(WireFaults, HoldingIsBoundedAndClearForgetsEverything) {
  FaultSettings s;
  s.delay_ms = 1000;
  FaultInjector inj(kSeed, s);
  for (uint32_t i = 0; i < kMaxHeldFrames + 10; ++i) inj.submit(make_frame(i), Nanos{0});
  EXPECT_EQ(inj.held(), kMaxHeldFrames);
  EXPECT_EQ(inj.counts().overflow, 10u);
  inj.clear();
  EXPECT_EQ(inj.held(), 0u);
  EXPECT_FALSE(inj.next_deadline());
  inj.set_settings(FaultSettings{});
  EXPECT_TRUE(inj.passthrough());
}

// --- the option syntax ---

FaultConfig parsed(std::initializer_list<std::pair<const char*, const char*>> options) {
  FaultConfig cfg;
  for (auto [k, v] : options) EXPECT_EQ(apply_fault_option(k, v, cfg), "") << k << "=" << v;
  return cfg;
}

TEST(WireFaultOptions, GoodValuesAreTaken) {
  FaultConfig cfg = parsed({{"loss", "5"},
                            {"dup", "0.5"},
                            {"reorder", "2%"},
                            {"corrupt", "1"},
                            {"delay", "10"},
                            {"jitter", "2ms"},
                            {"rate", "10M"},
                            {"ratequeue", "100"},
                            {"seed", "42"}});
  EXPECT_EQ(cfg.settings.loss_pct, 5);
  EXPECT_EQ(cfg.settings.dup_pct, 0.5);
  EXPECT_EQ(cfg.settings.reorder_pct, 2);
  EXPECT_EQ(cfg.settings.corrupt_pct, 1);
  EXPECT_EQ(cfg.settings.delay_ms, 10u);
  EXPECT_EQ(cfg.settings.jitter_ms, 2u);
  EXPECT_EQ(cfg.settings.rate_bps, 10'000'000u);
  EXPECT_EQ(cfg.settings.rate_queue, 100u);
  ASSERT_TRUE(cfg.seed);
  EXPECT_EQ(*cfg.seed, 42u);
  EXPECT_EQ(parsed({{"rate", "1.5k"}}).settings.rate_bps, 1500u);
  EXPECT_EQ(parsed({{"rate", "64000"}}).settings.rate_bps, 64000u);
  EXPECT_EQ(parsed({{"rate", "2Gbit"}}).settings.rate_bps, 2'000'000'000u);
  EXPECT_EQ(parsed({{"rate", "0"}}).settings.rate_bps, 0u);
  EXPECT_EQ(parsed({{"loss", "100"}}).settings.loss_pct, 100);
}

TEST(WireFaultOptions, BadValuesAreRejectedWithTheReasonAndChangeNothing) {
  const std::pair<const char*, const char*> bad[] = {{"loss", "101"},
                                                     {"loss", "-1"},
                                                     {"loss", "abc"},
                                                     {"loss", ""},
                                                     {"loss", "nan"},
                                                     {"loss", "inf"},
                                                     {"loss", "5x"},
                                                     {"loss", "1e1"},
                                                     {"dup", "200"},
                                                     {"reorder", "-0.1"},
                                                     {"corrupt", "%"},
                                                     {"delay", "1.5"},
                                                     {"delay", "-1"},
                                                     {"delay", "60001"},
                                                     {"jitter", "abc"},
                                                     {"rate", "500"},
                                                     {"rate", "1T"},
                                                     {"rate", "fast"},
                                                     {"rate", "-10M"},
                                                     {"rate", "200G"},
                                                     {"ratequeue", "0"},
                                                     {"ratequeue", "10001"},
                                                     {"seed", "-1"},
                                                     {"seed", "abc"},
                                                     {"seed", "99999999999999999999"},
                                                     {"speed", "1"}};
  for (auto [key, value] : bad) {
    FaultConfig cfg = parsed({{"loss", "7"}});
    std::string error = apply_fault_option(key, value, cfg);
    EXPECT_NE(error, "") << key << "=" << value;
    EXPECT_NE(error.find(key), std::string::npos) << error;
    EXPECT_EQ(cfg.settings.loss_pct, 7) << key << "=" << value;
    EXPECT_FALSE(cfg.seed) << key << "=" << value;
  }
}

TEST(WireFaultOptions, OnlyFaultKeysAreFaultOptions) {
  for (const char* k :
       {"loss", "dup", "reorder", "corrupt", "delay", "jitter", "rate", "ratequeue", "seed"})
    EXPECT_TRUE(is_fault_option(k)) << k;
  for (const char* k : {"link", "mtu", "", "Loss", "losses"}) EXPECT_FALSE(is_fault_option(k));
}

TEST(WireFaultOptions, FormattedSettingsReadBackTheSame) {
  FaultConfig cfg = parsed({{"loss", "5.25"},
                            {"dup", "1"},
                            {"reorder", "0.125"},
                            {"corrupt", "3"},
                            {"delay", "10"},
                            {"jitter", "2"},
                            {"rate", "1500000"},
                            {"ratequeue", "7"}});
  std::string text = format_settings(cfg.settings);
  EXPECT_EQ(text,
            "loss=5.25 dup=1 reorder=0.125 corrupt=3 delay=10 jitter=2 rate=1500k ratequeue=7");
  FaultConfig back;
  size_t pos = 0;
  while (pos < text.size()) {
    size_t space = text.find(' ', pos);
    std::string word =
        text.substr(pos, space == std::string::npos ? std::string::npos : space - pos);
    size_t eq = word.find('=');
    EXPECT_EQ(apply_fault_option(word.substr(0, eq), word.substr(eq + 1), back), "") << word;
    pos = space == std::string::npos ? text.size() : space + 1;
  }
  EXPECT_EQ(back.settings, cfg.settings);
  EXPECT_FALSE(FaultSettings{}.any());
  EXPECT_TRUE(cfg.settings.any());
}

// --- the rings ---

// A zeroed, formatted segment on the heap (the driver maps it from shared memory).
struct HeapSegment {
  HeapSegment() : mem(new (std::align_val_t{kCacheLine}) std::byte[SegmentLayout::kSize]{}) {
    format_segment(mem.get());
  }
  struct Free {
    void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t{kCacheLine}); }
  };
  std::unique_ptr<std::byte[], Free> mem;
};

TEST(WireRing, AFreshSegmentIsCompatibleAndEmpty) {
  HeapSegment seg;
  EXPECT_TRUE(segment_compatible(seg.mem.get()));
  Consumer c(seg.mem.get(), 1);
  uint32_t len = 0;
  std::span<const std::byte> data;
  EXPECT_EQ(c.peek(len, data), Consumer::Peek::empty);
  seg.mem[0] ^= std::byte{1};
  EXPECT_FALSE(segment_compatible(seg.mem.get()));
}

TEST(WireRing, FillsUpThenTakesNoMoreUntilTheConsumerFreesASlot) {
  HeapSegment seg;
  Producer p(seg.mem.get(), 0);
  Consumer c(seg.mem.get(), 0);
  for (uint32_t i = 0; i < kRingSlots; ++i) {
    std::span<std::byte> slot = p.next_slot();
    ASSERT_EQ(slot.size(), kMaxFrame) << i;
    std::memcpy(slot.data(), &i, sizeof i);
    p.publish(sizeof i);
  }
  EXPECT_TRUE(p.next_slot().empty());
  EXPECT_FALSE(p.broken());
  EXPECT_EQ(p.in_use(), kRingSlots);
  uint32_t len = 0;
  std::span<const std::byte> data;
  ASSERT_EQ(c.peek(len, data), Consumer::Peek::frame);
  EXPECT_EQ(len, sizeof(uint32_t));
  c.release();
  EXPECT_FALSE(p.next_slot().empty());
  c.discard_all();
  EXPECT_EQ(c.in_use(), 0u);
  EXPECT_EQ(c.peek(len, data), Consumer::Peek::empty);
}

TEST(WireRing, IndicesThatMakeNoSenseAreReportedNotFollowed) {
  HeapSegment seg;
  Producer p(seg.mem.get(), 1);
  Consumer c(seg.mem.get(), 1);
  // A peer writing garbage: the consumer ahead of the producer.
  auto* control = reinterpret_cast<RingControl*>(seg.mem.get() + SegmentLayout::kControl) + 1;
  control->tail = 1000;
  EXPECT_TRUE(p.next_slot().empty());
  EXPECT_TRUE(p.broken());
  control->tail = 0;
  control->head = kRingSlots + 1;
  uint32_t len = 0;
  std::span<const std::byte> data;
  EXPECT_EQ(c.peek(len, data), Consumer::Peek::broken);
  c.discard_all();
  EXPECT_EQ(c.peek(len, data), Consumer::Peek::empty);
}

// Waits for the eventfd, failing rather than hanging if a wake-up was lost.
bool wait_for(int efd) {
  pollfd pfd{efd, POLLIN, 0};
  if (::poll(&pfd, 1, 10'000) != 1) return false;
  uint64_t count = 0;
  return ::read(efd, &count, sizeof count) == sizeof count;
}

TEST(WireRing, TwoThreadsPassEveryFrameInOrderWithoutLosingAWakeUp) {
  HeapSegment seg;
  int efd = ::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  ASSERT_GE(efd, 0);
  constexpr uint32_t kCount = 200'000;
  std::thread producer([&] {
    Producer p(seg.mem.get(), 0);
    for (uint32_t i = 0; i < kCount; ++i) {
      std::span<std::byte> slot;
      while ((slot = p.next_slot()).empty()) std::this_thread::yield();
      size_t len = 4 + i % 200;
      std::memset(slot.data(), static_cast<int>(i & 0xff), len);
      std::memcpy(slot.data(), &i, sizeof i);
      p.publish(len);
      uint64_t one = 1;
      if (p.consumer_needs_wake()) {
        ASSERT_EQ(::write(efd, &one, sizeof one), 8);
      }
    }
  });
  Consumer c(seg.mem.get(), 0);
  uint32_t next = 0;
  bool woke = true;
  while (next < kCount && woke) {
    uint32_t len = 0;
    std::span<const std::byte> data;
    Consumer::Peek r = c.peek(len, data);
    if (r == Consumer::Peek::empty) {
      if (c.arm_and_check_empty()) woke = wait_for(efd);
      continue;
    }
    ASSERT_EQ(r, Consumer::Peek::frame);
    uint32_t seq = 0;
    std::memcpy(&seq, data.data(), sizeof seq);
    ASSERT_EQ(seq, next);
    ASSERT_EQ(len, 4 + next % 200);
    if (len > 4) {
      ASSERT_EQ(data[len - 1], static_cast<std::byte>(next & 0xff));
    }
    c.release();
    ++next;
  }
  producer.join();
  ::close(efd);
  EXPECT_TRUE(woke) << "a wake-up was lost at frame " << next;
  EXPECT_EQ(next, kCount);
}

}  // namespace
}  // namespace devnp_wire
