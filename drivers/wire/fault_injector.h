// The wire's fault injector: decides, for every frame one end sends, whether it is lost,
// corrupted, duplicated, held for a rate limit or a delay, or held back behind the next frame,
// and hands the frames back in delivery order when their time comes.
//
// Pure and deterministic: no SDK, no clock of its own (every call takes "now"), and its random
// numbers come from a generator seeded by the caller. The same seed, settings and frames at the
// same times give the same decisions, so a failure seen with seed=N can be replayed. Every frame
// draws the same number of random numbers whatever the settings, so changing one setting does
// not change the decisions the others make.
//
// Pipeline per frame: loss, corruption, duplication, then for each copy the rate limit (a
// serialising link with a bounded queue), the delay with jitter (order kept: jitter does not
// reorder), and for the original the reorder decision.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <vector>

#include "fault_settings.h"

namespace devnp_wire {

using Nanos = std::chrono::nanoseconds;  // a steady clock's time since any fixed epoch
using Frame = std::vector<std::byte>;

// What the injector did, since it was made.
struct FaultCounts {
  uint64_t frames = 0;        // submitted
  uint64_t delivered = 0;     // handed back (copies included)
  uint64_t dropped = 0;       // lost (loss=)
  uint64_t duplicated = 0;    // sent twice (dup=)
  uint64_t reordered = 0;     // overtaken by a later frame (reorder=)
  uint64_t delayed = 0;       // given a delay (delay=, jitter=)
  uint64_t corrupted = 0;     // a bit flipped (corrupt=)
  uint64_t rate_dropped = 0;  // the rate limit's queue was full (rate=, ratequeue=)
  uint64_t overflow = 0;      // the injector already held kMaxHeldFrames
};

// The most frames held at once (waiting for a delay, the rate or a follower, or to be taken).
inline constexpr size_t kMaxHeldFrames = 1024;
// A held-back frame waits this long for a later frame to overtake it, then goes on alone.
inline constexpr Nanos kReorderWait = std::chrono::milliseconds(50);
// Corruption spares the Ethernet header, so the frame still reaches the receiver's IP layer
// and its checksums; a one-bit error is always caught by the Internet checksum (RFC 1071).
inline constexpr size_t kCorruptFrom = 14;

// xoshiro256** (Blackman and Vigna), seeded through splitmix64: small, fast, and the same
// sequence on every platform (std:: distributions are not).
class Random {
 public:
  explicit Random(uint64_t seed);
  uint64_t next();
  double uniform();  // [0, 1)

 private:
  uint64_t s_[4];
};

class FaultInjector {
 public:
  FaultInjector(uint64_t seed, const FaultSettings& settings);

  void set_settings(const FaultSettings& s) { settings_ = s; }
  const FaultSettings& settings() const { return settings_; }
  // Restarts the random sequence (the counts go on).
  void reseed(uint64_t seed);
  uint64_t seed() const { return seed_; }

  // Nothing set and nothing held: a frame would come straight back untouched, so the caller
  // may skip the injector (and the copy into a Frame).
  bool passthrough() const { return !settings_.any() && held_.empty() && ready_.empty(); }

  // One frame sent at now.
  void submit(Frame frame, Nanos now);
  // One frame the caller sent itself while passthrough() held: counted as if it went through.
  void count_passthrough() {
    ++counts_.frames;
    ++counts_.delivered;
  }
  // Makes the frames whose time has come (by now) ready, in delivery order.
  void advance(Nanos now);
  // The next frame to deliver, or null; pop() once it has gone.
  Frame* front() { return ready_.empty() ? nullptr : &ready_.front(); }
  void pop() { ready_.pop_front(); }
  // When advance could next make something ready; nothing if nothing is held.
  std::optional<Nanos> next_deadline() const;
  size_t held() const { return held_.size() + ready_.size(); }
  // Forgets every frame held or ready (the interface stopped; the link went down).
  void clear();

  const FaultCounts& counts() const { return counts_; }

 private:
  struct Draws;
  struct Entry {
    Frame frame;
    Nanos due;            // when it arrives
    Nanos wait_until;     // parked only: when it stops waiting for a follower
    bool parked = false;  // held back until a later frame has been delivered
  };

  Draws draw();
  void corrupt(Frame& frame, double where);
  std::optional<Nanos> rate_departure(size_t len, Nanos now);
  Nanos arrival(Nanos departure, double jitter_draw);
  void hold(Frame frame, Nanos due, bool parked);
  void release_front();
  bool release_overtaker(Nanos now);

  FaultSettings settings_;
  uint64_t seed_;
  Random random_;
  std::deque<Entry> held_;             // in the order sent
  std::deque<Frame> ready_;            // in the order delivered
  std::deque<Nanos> rate_departures_;  // of frames still being "serialised" at the rate
  Nanos rate_free_at_{0};              // when the rate-limited link is next idle
  Nanos last_due_{0};                  // arrival times never go back: jitter keeps order
  FaultCounts counts_;
};

}  // namespace devnp_wire
