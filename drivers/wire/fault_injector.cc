#include "fault_injector.h"

#include <algorithm>
#include <cmath>

namespace devnp_wire {
namespace {

uint64_t splitmix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

bool happens(double draw, double percent) { return draw * 100.0 < percent; }

Nanos ms(uint32_t n) { return std::chrono::milliseconds(n); }

}  // namespace

// --- Random ---

Random::Random(uint64_t seed) {
  for (uint64_t& word : s_) word = splitmix64(seed);
}

uint64_t Random::next() {
  uint64_t result = rotl(s_[1] * 5, 7) * 9;
  uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = rotl(s_[3], 45);
  return result;
}

// The top 53 bits: every double in [0, 1) with that spacing, equally likely.
double Random::uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

// --- FaultInjector ---

// One draw per decision, taken for every frame whatever the settings (see the header).
struct FaultInjector::Draws {
  double loss, corrupt, corrupt_at, dup, reorder, jitter;
};

FaultInjector::FaultInjector(uint64_t seed, const FaultSettings& settings)
    : settings_(settings), seed_(seed), random_(seed) {}

void FaultInjector::reseed(uint64_t seed) {
  seed_ = seed;
  random_ = Random(seed);
}

FaultInjector::Draws FaultInjector::draw() {
  Draws d{};
  d.loss = random_.uniform();
  d.corrupt = random_.uniform();
  d.corrupt_at = random_.uniform();
  d.dup = random_.uniform();
  d.reorder = random_.uniform();
  d.jitter = random_.uniform();
  return d;
}

void FaultInjector::submit(Frame frame, Nanos now) {
  ++counts_.frames;
  Draws d = draw();
  if (happens(d.loss, settings_.loss_pct)) {
    ++counts_.dropped;
    return;
  }
  if (happens(d.corrupt, settings_.corrupt_pct) && !frame.empty()) {
    corrupt(frame, d.corrupt_at);
    ++counts_.corrupted;
  }
  bool twice = happens(d.dup, settings_.dup_pct);
  bool held_back = happens(d.reorder, settings_.reorder_pct);
  if (twice) ++counts_.duplicated;
  bool delayed = false;
  for (int copy = 0; copy < (twice ? 2 : 1); ++copy) {
    std::optional<Nanos> departure = rate_departure(frame.size(), now);
    if (!departure) {
      ++counts_.rate_dropped;
      continue;
    }
    Nanos due = arrival(*departure, d.jitter);
    delayed = delayed || due > *departure;
    // The copy is the last use of frame; the original is copied only when a duplicate follows.
    bool last = copy == (twice ? 1 : 0);
    hold(last ? std::move(frame) : frame, due, copy == 0 && held_back);
  }
  if (delayed) ++counts_.delayed;
}

void FaultInjector::corrupt(Frame& frame, double where) {
  size_t from = frame.size() > kCorruptFrom ? kCorruptFrom : 0;
  size_t bits = (frame.size() - from) * 8;
  auto bit = std::min(bits - 1, static_cast<size_t>(where * static_cast<double>(bits)));
  frame[from + bit / 8] ^= static_cast<std::byte>(1u << (bit % 8));
}

// A link of rate_bps that sends one frame after another: the frame leaves when the link has
// finished the frames before it and then this one. Null if rate_queue frames already wait.
std::optional<Nanos> FaultInjector::rate_departure(size_t len, Nanos now) {
  if (settings_.rate_bps == 0) return now;
  while (!rate_departures_.empty() && rate_departures_.front() <= now) rate_departures_.pop_front();
  if (rate_departures_.size() >= settings_.rate_queue) return std::nullopt;
  double seconds = static_cast<double>(len) * 8.0 / static_cast<double>(settings_.rate_bps);
  auto on_the_wire = Nanos(static_cast<int64_t>(std::ceil(seconds * 1e9)));
  rate_free_at_ = std::max(now, rate_free_at_) + on_the_wire;
  rate_departures_.push_back(rate_free_at_);
  return rate_free_at_;
}

// Departure plus delay plus jitter (uniform in [-jitter, +jitter]); never before departure,
// never before a frame sent earlier.
Nanos FaultInjector::arrival(Nanos departure, double jitter_draw) {
  Nanos due = departure;
  if (settings_.delay_ms > 0 || settings_.jitter_ms > 0) {
    double jitter_ns = static_cast<double>(ms(settings_.jitter_ms).count());
    auto offset = Nanos(static_cast<int64_t>((2.0 * jitter_draw - 1.0) * jitter_ns));
    due = std::max(departure, departure + ms(settings_.delay_ms) + offset);
  }
  due = std::max(due, last_due_);
  last_due_ = due;
  return due;
}

void FaultInjector::hold(Frame frame, Nanos due, bool parked) {
  if (held() >= kMaxHeldFrames) {
    ++counts_.overflow;
    return;
  }
  held_.push_back(Entry{std::move(frame), due, due + kReorderWait, parked});
}

void FaultInjector::release_front() {
  ready_.push_back(std::move(held_.front().frame));
  held_.pop_front();
  ++counts_.delivered;
}

// The parked frames at the front wait for the first frame behind them that is not parked: when
// that one is due it goes first, then they follow it. False if it is not due (or not there).
bool FaultInjector::release_overtaker(Nanos now) {
  auto it = std::find_if(held_.begin(), held_.end(), [](const Entry& e) { return !e.parked; });
  if (it == held_.end() || it->due > now) return false;
  ready_.push_back(std::move(it->frame));
  held_.erase(it);
  ++counts_.delivered;
  while (!held_.empty() && held_.front().parked) {
    release_front();
    ++counts_.reordered;
  }
  return true;
}

void FaultInjector::advance(Nanos now) {
  while (!held_.empty()) {
    const Entry& first = held_.front();
    if (!first.parked) {
      if (first.due > now) return;
      release_front();
    } else if (first.wait_until <= now) {
      release_front();  // nothing overtook it in time: it goes on alone, in order
    } else if (!release_overtaker(now)) {
      return;
    }
  }
}

std::optional<Nanos> FaultInjector::next_deadline() const {
  if (held_.empty()) return std::nullopt;
  const Entry& first = held_.front();
  if (!first.parked) return first.due;
  auto it = std::find_if(held_.begin(), held_.end(), [](const Entry& e) { return !e.parked; });
  if (it == held_.end()) return first.wait_until;
  return std::min(first.wait_until, it->due);
}

void FaultInjector::clear() {
  held_.clear();
  ready_.clear();
  rate_departures_.clear();
}

}  // namespace devnp_wire
