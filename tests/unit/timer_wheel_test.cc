// The timing wheel, driven by a ManualClock: no test sleeps.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <memory>
#include <random>
#include <vector>

#include "time/clock.h"
#include "time/timer_wheel.h"

namespace pktd::time {
namespace {

using std::chrono::milliseconds;
using std::chrono::microseconds;
using std::chrono::hours;

// Counts its firings and remembers the clock at the last one.
struct Probe {
  const Clock* clock = nullptr;
  int fired = 0;
  TimePoint last{};

  static void on_fire(void* arg) {
    auto* p = static_cast<Probe*>(arg);
    ++p->fired;
    p->last = p->clock->now();
  }
};

TimePoint at(Duration d) { return TimePoint{d}; }

class TimerWheelTest : public ::testing::Test {
 protected:
  ManualClock clock_;
  TimerWheel wheel_{clock_};

  Probe probe() { return Probe{&clock_, 0, {}}; }
  void arm(Callout& c, uint32_t ms, Probe& p) { wheel_.arm(c, ms, &Probe::on_fire, &p); }
};

TEST_F(TimerWheelTest, FiresAtDeadlineAndNotBefore) {
  Callout c;
  Probe p = probe();
  arm(c, 10, p);

  clock_.advance(milliseconds(10) - Duration{1});
  EXPECT_EQ(wheel_.run_expired(), 0u);
  EXPECT_EQ(p.fired, 0);
  EXPECT_TRUE(c.pending());

  clock_.advance(Duration{1});
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(p.fired, 1);
  EXPECT_EQ(p.last, at(milliseconds(10)));
  EXPECT_FALSE(c.pending());

  clock_.advance(milliseconds(100));
  EXPECT_EQ(wheel_.run_expired(), 0u);
  EXPECT_EQ(p.fired, 1) << "runs at most once per arm";
}

TEST_F(TimerWheelTest, FiresWhenRunLateToo) {
  Callout c;
  Probe p = probe();
  arm(c, 3, p);
  clock_.advance(milliseconds(7));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(p.fired, 1);
}

TEST(TimerWheel, DeadlineRoundsUpToWholeTick) {
  ManualClock clock;
  TimerWheel wheel(clock, milliseconds(10), 64);
  Probe p{&clock, 0, {}};
  Callout c;
  clock.set(at(milliseconds(3)));
  wheel.arm(c, 5, &Probe::on_fire, &p);  // due at 8 ms, rounded up to the 10 ms tick
  ASSERT_TRUE(wheel.next_deadline());
  EXPECT_EQ(*wheel.next_deadline(), at(milliseconds(10)));

  clock.set(at(milliseconds(8)));
  EXPECT_EQ(wheel.run_expired(), 0u) << "at the deadline but mid-tick: not yet";
  clock.set(at(milliseconds(10) - Duration{1}));
  EXPECT_EQ(wheel.run_expired(), 0u);
  clock.set(at(milliseconds(10)));
  EXPECT_EQ(wheel.run_expired(), 1u);
  EXPECT_GE(p.last, at(milliseconds(8)));
}

TEST(TimerWheel, TicksCountFromTheWheelsOriginNotTheEpoch) {
  // The wheel starts at 0.5 ms, so its tick boundaries are at 0.5 + k ms.
  ManualClock clock(at(microseconds(500)));
  TimerWheel wheel(clock);
  Probe p{&clock, 0, {}};
  Callout c;
  clock.set(at(microseconds(1200)));
  wheel.arm(c, 1, &Probe::on_fire, &p);  // due at 2.2 ms: rounded up to the 2.5 ms boundary
  EXPECT_EQ(*wheel.next_deadline(), at(microseconds(2500)));
  clock.set(at(microseconds(2200)));
  EXPECT_EQ(wheel.run_expired(), 0u);
  clock.set(at(microseconds(2499)));
  EXPECT_EQ(wheel.run_expired(), 0u);
  clock.set(at(microseconds(2500)));
  EXPECT_EQ(wheel.run_expired(), 1u);
}

TEST_F(TimerWheelTest, ZeroDelayFiresAtNextRunEvenWithoutTimePassing) {
  Callout c;
  Probe p = probe();
  clock_.advance(microseconds(1500));  // mid-tick
  arm(c, 0, p);
  ASSERT_TRUE(wheel_.next_deadline());
  EXPECT_LE(*wheel_.next_deadline(), clock_.now()) << "due now: the runtime must not sleep";
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(p.fired, 1);
  EXPECT_FALSE(wheel_.next_deadline());
}

TEST_F(TimerWheelTest, StopBeforeExpiryNeverFires) {
  Callout c;
  Probe p = probe();
  arm(c, 5, p);
  clock_.advance(milliseconds(4));
  EXPECT_EQ(wheel_.run_expired(), 0u);
  EXPECT_TRUE(wheel_.stop(c));
  EXPECT_FALSE(c.pending());
  EXPECT_FALSE(wheel_.stop(c)) << "no longer pending";
  clock_.advance(milliseconds(100));
  EXPECT_EQ(wheel_.run_expired(), 0u);
  EXPECT_EQ(p.fired, 0);
}

TEST_F(TimerWheelTest, StopOfUnarmedCalloutReturnsFalse) {
  Callout c;
  EXPECT_FALSE(wheel_.stop(c));
  EXPECT_FALSE(TimerWheel::pending(c));
}

// The first callout, when it fires, stops the one named in `victim`.
struct Stopper {
  TimerWheel* wheel;
  Callout* victim;
  bool stopped = false;
  static void on_fire(void* arg) {
    auto* s = static_cast<Stopper*>(arg);
    s->stopped = s->wheel->stop(*s->victim);
  }
};

TEST_F(TimerWheelTest, CalloutStoppedByEarlierCallbackInSamePassNeverRuns) {
  Callout first, second;
  Probe p = probe();
  Stopper s{&wheel_, &second};
  wheel_.arm(first, 5, &Stopper::on_fire, &s);
  arm(second, 5, p);  // same tick, armed later: runs after `first`
  clock_.advance(milliseconds(5));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_TRUE(s.stopped) << "it was pending (queued to run) when stopped";
  EXPECT_EQ(p.fired, 0);
  EXPECT_EQ(wheel_.pending_count(), 0u);
}

TEST_F(TimerWheelTest, CalloutStoppedByEarlierTickCallbackInSamePassNeverRuns) {
  Callout first, second;
  Probe p = probe();
  Stopper s{&wheel_, &second};
  wheel_.arm(first, 3, &Stopper::on_fire, &s);
  arm(second, 7, p);
  clock_.advance(milliseconds(10));  // both due in one pass
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_TRUE(s.stopped);
  EXPECT_EQ(p.fired, 0);
}

// Re-arms its own callout from the callback, `remaining` more times.
struct Rearmer {
  TimerWheel* wheel;
  Callout* self;
  uint32_t ms;
  int remaining;
  int fired = 0;
  bool pending_in_callback = true;
  static void on_fire(void* arg) {
    auto* r = static_cast<Rearmer*>(arg);
    ++r->fired;
    r->pending_in_callback = r->self->pending();
    if (r->remaining-- > 0) r->wheel->arm(*r->self, r->ms, &Rearmer::on_fire, r);
  }
};

TEST_F(TimerWheelTest, ReArmFromOwnCallbackFiresAgain) {
  Callout c;
  Rearmer r{&wheel_, &c, 4, 1};
  wheel_.arm(c, 4, &Rearmer::on_fire, &r);
  clock_.advance(milliseconds(4));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_FALSE(r.pending_in_callback) << "a callout is not pending while its callback runs";
  EXPECT_TRUE(c.pending());
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(8)));
  clock_.advance(milliseconds(3));
  EXPECT_EQ(wheel_.run_expired(), 0u);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(r.fired, 2);
  EXPECT_FALSE(c.pending());
}

TEST_F(TimerWheelTest, ZeroDelayReArmRunsOncePerPass) {
  Callout c;
  Rearmer r{&wheel_, &c, 0, 1000};
  wheel_.arm(c, 0, &Rearmer::on_fire, &r);
  EXPECT_EQ(wheel_.run_expired(), 1u) << "the re-arm must wait for the next pass";
  EXPECT_EQ(r.fired, 1);
  EXPECT_TRUE(c.pending());
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(r.fired, 2);
  clock_.advance(milliseconds(50));
  EXPECT_EQ(wheel_.run_expired(), 1u) << "still once per pass after time passed";
  EXPECT_EQ(r.fired, 3);
}

TEST_F(TimerWheelTest, ArmOfPendingCalloutMovesIt) {
  Callout c;
  Probe p = probe();
  arm(c, 10, p);
  arm(c, 20, p);  // later
  EXPECT_EQ(wheel_.pending_count(), 1u);
  clock_.advance(milliseconds(10));
  EXPECT_EQ(wheel_.run_expired(), 0u);
  clock_.advance(milliseconds(10));
  EXPECT_EQ(wheel_.run_expired(), 1u);

  arm(c, 30, p);
  arm(c, 2, p);  // earlier
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(22)));
  clock_.advance(milliseconds(2));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  clock_.advance(milliseconds(100));
  EXPECT_EQ(wheel_.run_expired(), 0u);
  EXPECT_EQ(p.fired, 2);
}

TEST_F(TimerWheelTest, ArmMayReplaceFunctionAndArgument) {
  Callout c;
  Probe a = probe(), b = probe();
  arm(c, 1, a);
  arm(c, 1, b);
  EXPECT_EQ(c.argument(), &b);
  EXPECT_EQ(c.function(), &Probe::on_fire);
  clock_.advance(milliseconds(1));
  wheel_.run_expired();
  EXPECT_EQ(a.fired, 0);
  EXPECT_EQ(b.fired, 1);
}

// A callback re-arms a callout that is queued in the same pass: it moves, and does not run now.
TEST_F(TimerWheelTest, CallbackReArmingAQueuedCalloutDefersIt) {
  struct Mover {
    TimerWheel* wheel;
    Callout* other;
    Probe* probe;
    static void on_fire(void* arg) {
      auto* m = static_cast<Mover*>(arg);
      m->wheel->arm(*m->other, 10, &Probe::on_fire, m->probe);
    }
  };
  Callout first, second;
  Probe p = probe();
  Mover m{&wheel_, &second, &p};
  wheel_.arm(first, 1, &Mover::on_fire, &m);
  arm(second, 1, p);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(p.fired, 0);
  clock_.advance(milliseconds(10));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(p.fired, 1);
}

// Records the order and the time of each firing.
struct Order {
  const Clock* clock;
  std::vector<std::pair<int, TimePoint>> fired;
};
struct Tagged {
  Order* order;
  int id;
  static void on_fire(void* arg) {
    auto* t = static_cast<Tagged*>(arg);
    t->order->fired.emplace_back(t->id, t->order->clock->now());
  }
};

TEST(TimerWheel, ManyCalloutsOverSeveralRevolutionsFireInDeadlineOrder) {
  ManualClock clock;
  TimerWheel wheel(clock, milliseconds(1), 8);  // a small wheel: deadlines span ~25 revolutions
  constexpr int kCount = 300;
  std::mt19937 rng(42);
  std::uniform_int_distribution<uint32_t> delay(1, 200);
  Order order{&clock, {}};
  std::vector<uint32_t> deadline_ms(kCount);
  std::vector<Tagged> tags(kCount);
  auto callouts = std::make_unique<Callout[]>(kCount);
  for (int i = 0; i < kCount; ++i) {
    const auto idx = static_cast<size_t>(i);
    deadline_ms[idx] = delay(rng);
    tags[idx] = Tagged{&order, i};
    wheel.arm(callouts[idx], deadline_ms[idx], &Tagged::on_fire, &tags[idx]);
  }
  EXPECT_EQ(wheel.pending_count(), static_cast<size_t>(kCount));

  for (int ms = 0; ms <= 200; ++ms) {
    clock.set(at(milliseconds(ms)));
    wheel.run_expired();
  }
  ASSERT_EQ(order.fired.size(), static_cast<size_t>(kCount));
  for (size_t k = 0; k < order.fired.size(); ++k) {
    const auto [id, when] = order.fired[k];
    const uint32_t due = deadline_ms[static_cast<size_t>(id)];
    EXPECT_EQ(when, at(milliseconds(due))) << "exactly at its tick: not early, not late";
    if (k > 0) {
      const uint32_t prev_due = deadline_ms[static_cast<size_t>(order.fired[k - 1].first)];
      EXPECT_LE(prev_due, due);
      if (prev_due == due) {
        EXPECT_LT(order.fired[k - 1].first, id) << "ties run in arm order";
      }
    }
  }
  EXPECT_EQ(wheel.pending_count(), 0u);
}

TEST(TimerWheel, CalloutAFullRevolutionAwayWaitsInItsSlot) {
  ManualClock clock;
  TimerWheel wheel(clock, milliseconds(1), 8);
  Probe near{&clock, 0, {}}, far{&clock, 0, {}};
  Callout a, b;
  wheel.arm(a, 3, &Probe::on_fire, &near);
  wheel.arm(b, 19, &Probe::on_fire, &far);  // same slot (19 % 8 == 3), two revolutions later
  clock.set(at(milliseconds(3)));
  EXPECT_EQ(wheel.run_expired(), 1u);
  EXPECT_EQ(near.fired, 1);
  EXPECT_EQ(far.fired, 0);
  EXPECT_EQ(*wheel.next_deadline(), at(milliseconds(19)));
  clock.set(at(milliseconds(11)));
  EXPECT_EQ(wheel.run_expired(), 0u);
  clock.set(at(milliseconds(19)));
  EXPECT_EQ(wheel.run_expired(), 1u);
  EXPECT_EQ(far.fired, 1);
}

TEST(TimerWheel, NonPowerOfTwoSlotCountWorks) {
  ManualClock clock;
  TimerWheel wheel(clock, milliseconds(1), 7);
  Order order{&clock, {}};
  std::vector<Tagged> tags(30);
  auto callouts = std::make_unique<Callout[]>(30);
  for (size_t i = 0; i < 30; ++i) {
    tags[i] = Tagged{&order, static_cast<int>(i)};
    wheel.arm(callouts[i], static_cast<uint32_t>(30 - i), &Tagged::on_fire, &tags[i]);
  }
  for (int ms = 1; ms <= 30; ++ms) {
    clock.set(at(milliseconds(ms)));
    EXPECT_EQ(wheel.run_expired(), 1u);
    EXPECT_EQ(order.fired.back().first, 30 - ms);
  }
}

TEST(TimerWheel, BigClockJumpRunsEveryDueCalloutOnceInDeadlineOrder) {
  ManualClock clock;
  TimerWheel wheel(clock, milliseconds(1), 512);
  Order order{&clock, {}};
  const std::vector<uint32_t> delays = {5000, 1, 700, 513, 512, 3'600'000, 90'000, 2};
  std::vector<Tagged> tags(delays.size());
  auto callouts = std::make_unique<Callout[]>(delays.size());
  for (size_t i = 0; i < delays.size(); ++i) {
    tags[i] = Tagged{&order, static_cast<int>(i)};
    wheel.arm(callouts[i], delays[i], &Tagged::on_fire, &tags[i]);
  }
  // Ten thousand hours of ticks: a tick-by-tick loop would not finish in this test's lifetime.
  clock.advance(hours(10'000));
  EXPECT_EQ(wheel.run_expired(), delays.size());
  std::vector<int> ids;
  for (const auto& f : order.fired) ids.push_back(f.first);
  EXPECT_EQ(ids, (std::vector<int>{1, 7, 4, 3, 2, 0, 6, 5}));

  // The wheel carries on normally from the new time.
  Probe p{&clock, 0, {}};
  Callout c;
  wheel.arm(c, 3, &Probe::on_fire, &p);
  EXPECT_EQ(*wheel.next_deadline(), clock.now() + milliseconds(3));
  clock.advance(milliseconds(2));
  EXPECT_EQ(wheel.run_expired(), 0u);
  clock.advance(milliseconds(1));
  EXPECT_EQ(wheel.run_expired(), 1u);
}

TEST(TimerWheel, JumpLeavesCalloutsNotYetDuePending) {
  ManualClock clock;
  TimerWheel wheel(clock, milliseconds(1), 16);
  Probe due{&clock, 0, {}}, later{&clock, 0, {}};
  Callout a, b;
  wheel.arm(a, 100, &Probe::on_fire, &due);
  wheel.arm(b, 1000, &Probe::on_fire, &later);
  clock.set(at(milliseconds(500)));  // 31 revolutions in one step
  EXPECT_EQ(wheel.run_expired(), 1u);
  EXPECT_EQ(due.fired, 1);
  EXPECT_TRUE(b.pending());
  EXPECT_EQ(*wheel.next_deadline(), at(milliseconds(1000)));
  clock.set(at(milliseconds(999)));
  EXPECT_EQ(wheel.run_expired(), 0u);
  clock.set(at(milliseconds(1000)));
  EXPECT_EQ(wheel.run_expired(), 1u);
}

TEST_F(TimerWheelTest, NextDeadlineIsEarliestAndNeverLate) {
  EXPECT_FALSE(wheel_.next_deadline());
  Callout a, b, c;
  Probe p = probe();
  arm(a, 50, p);
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(50)));
  arm(b, 20, p);
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(20)));
  arm(c, 700, p);  // beyond one revolution of the 512-slot wheel
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(20)));

  wheel_.stop(b);
  ASSERT_TRUE(wheel_.next_deadline());
  EXPECT_LE(*wheel_.next_deadline(), at(milliseconds(50))) << "may be early after a stop";

  clock_.set(at(milliseconds(20)));  // the runtime wakes for nothing and asks again
  EXPECT_EQ(wheel_.run_expired(), 0u);
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(50)));

  clock_.set(at(milliseconds(50)));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(700))) << "found past one revolution";

  wheel_.stop(c);
  EXPECT_FALSE(wheel_.next_deadline()) << "an empty wheel has no deadline";
}

TEST_F(TimerWheelTest, NextDeadlineCoversCalloutsArmedByCallbacks) {
  Callout c;
  Rearmer r{&wheel_, &c, 7, 1};
  wheel_.arm(c, 1, &Rearmer::on_fire, &r);
  clock_.advance(milliseconds(1));
  wheel_.run_expired();
  EXPECT_EQ(*wheel_.next_deadline(), at(milliseconds(8)));
}

TEST_F(TimerWheelTest, PendingAndPendingCount) {
  Callout a, b;
  Probe p = probe();
  EXPECT_FALSE(TimerWheel::pending(a));
  EXPECT_EQ(wheel_.pending_count(), 0u);
  arm(a, 1, p);
  arm(b, 2, p);
  arm(b, 3, p);  // a move does not count twice
  EXPECT_TRUE(TimerWheel::pending(a));
  EXPECT_TRUE(b.pending());
  EXPECT_EQ(wheel_.pending_count(), 2u);
  clock_.advance(milliseconds(1));
  wheel_.run_expired();
  EXPECT_FALSE(a.pending());
  EXPECT_EQ(wheel_.pending_count(), 1u);
  wheel_.stop(b);
  EXPECT_EQ(wheel_.pending_count(), 0u);
}

TEST_F(TimerWheelTest, InitStopsAndClears) {
  Callout c;
  Probe p = probe();
  arm(c, 1, p);
  wheel_.init(c);
  EXPECT_FALSE(c.pending());
  EXPECT_EQ(c.function(), nullptr);
  EXPECT_EQ(c.argument(), nullptr);
  EXPECT_EQ(wheel_.pending_count(), 0u);
  clock_.advance(milliseconds(5));
  EXPECT_EQ(wheel_.run_expired(), 0u);
  EXPECT_EQ(p.fired, 0);
}

TEST_F(TimerWheelTest, DestroyingAPendingCalloutUnlinksIt) {
  Probe p = probe();
  Callout survivor;
  {
    Callout doomed;
    arm(doomed, 5, p);
    arm(survivor, 5, p);  // a neighbour in the same slot list
    EXPECT_EQ(wheel_.pending_count(), 2u);
  }
  EXPECT_EQ(wheel_.pending_count(), 1u);
  clock_.advance(milliseconds(5));
  EXPECT_EQ(wheel_.run_expired(), 1u);  // would touch freed memory if still linked (ASan)
  EXPECT_EQ(p.fired, 1);
}

// A callback frees another callout that is queued to run in the same pass.
TEST_F(TimerWheelTest, CalloutFreedByEarlierCallbackInSamePassNeverRuns) {
  struct Freer {
    std::unique_ptr<Callout>* victim;
    static void on_fire(void* arg) { static_cast<Freer*>(arg)->victim->reset(); }
  };
  Callout first;
  auto second = std::make_unique<Callout>();
  Probe p = probe();
  Freer f{&second};
  wheel_.arm(first, 2, &Freer::on_fire, &f);
  arm(*second, 2, p);
  clock_.advance(milliseconds(2));
  EXPECT_EQ(wheel_.run_expired(), 1u);
  EXPECT_EQ(p.fired, 0);
  EXPECT_EQ(wheel_.pending_count(), 0u);
}

// The owner frees its own callout from the callback, as io-pkt code does on teardown.
TEST_F(TimerWheelTest, CallbackMayFreeItsOwnCallout) {
  struct Owner {
    Callout c;
    static void on_fire(void* arg) { delete static_cast<Owner*>(arg); }
  };
  auto* o = new Owner;
  wheel_.arm(o->c, 1, &Owner::on_fire, o);
  clock_.advance(milliseconds(1));
  EXPECT_EQ(wheel_.run_expired(), 1u);  // ASan: no use after the free
}

TEST(TimerWheel, DestroyingTheWheelLeavesCalloutsNotPending) {
  ManualClock clock;
  Callout slot_entry, ready_entry, far_entry;
  Probe p{&clock, 0, {}};
  {
    TimerWheel wheel(clock, milliseconds(1), 8);
    wheel.arm(slot_entry, 3, &Probe::on_fire, &p);
    wheel.arm(ready_entry, 0, &Probe::on_fire, &p);
    wheel.arm(far_entry, 100, &Probe::on_fire, &p);
  }
  EXPECT_FALSE(slot_entry.pending());
  EXPECT_FALSE(ready_entry.pending());
  EXPECT_FALSE(far_entry.pending());
  // Their destructors now run after the wheel's: nothing to unlink, nothing freed touched.
}

TEST(TimerWheel, NestedRunExpiredFromACallbackDoesNothing) {
  struct Nester {
    TimerWheel* wheel;
    size_t nested = 99;
    static void on_fire(void* arg) {
      auto* n = static_cast<Nester*>(arg);
      n->nested = n->wheel->run_expired();
    }
  };
  ManualClock clock;
  TimerWheel wheel(clock);
  Nester n{&wheel};
  Callout a, b;
  Probe p{&clock, 0, {}};
  wheel.arm(a, 1, &Nester::on_fire, &n);
  wheel.arm(b, 1, &Probe::on_fire, &p);
  clock.advance(milliseconds(1));
  EXPECT_EQ(wheel.run_expired(), 2u);
  EXPECT_EQ(n.nested, 0u);
  EXPECT_EQ(p.fired, 1);
}

TEST(TimerWheel, CalloutMovesBetweenWheels) {
  ManualClock clock;
  TimerWheel first(clock), second(clock);
  Callout c;
  Probe p{&clock, 0, {}};
  first.arm(c, 1, &Probe::on_fire, &p);
  second.arm(c, 1, &Probe::on_fire, &p);
  EXPECT_EQ(first.pending_count(), 0u);
  EXPECT_EQ(second.pending_count(), 1u);
  EXPECT_TRUE(first.stop(c)) << "stopped on the wheel that holds it";
  EXPECT_EQ(second.pending_count(), 0u);
}

TEST(TimerWheel, ClockSetBackwardsNeverFiresEarly) {
  ManualClock clock(at(milliseconds(100)));
  TimerWheel wheel(clock);
  Probe p{&clock, 0, {}};
  Callout c;
  clock.advance(milliseconds(10));
  wheel.run_expired();  // ticks up to 110 ms processed
  clock.set(at(milliseconds(105)));
  wheel.arm(c, 2, &Probe::on_fire, &p);  // due at 107 ms, a tick already processed
  clock.set(at(milliseconds(107)));
  wheel.run_expired();
  clock.set(at(milliseconds(111)));
  EXPECT_EQ(wheel.run_expired(), 1u);
  EXPECT_GE(p.last, at(milliseconds(107)));
}

TEST(SteadyClock, InstanceIsMonotonicSingleton) {
  const SteadyClock& a = SteadyClock::instance();
  EXPECT_EQ(&a, &SteadyClock::instance());
  const TimePoint t0 = a.now();
  EXPECT_LE(t0, a.now());
}

TEST(ManualClock, MovesOnlyWhenTold) {
  ManualClock clock(at(milliseconds(5)));
  EXPECT_EQ(clock.now(), at(milliseconds(5)));
  clock.advance(milliseconds(2));
  EXPECT_EQ(clock.now(), at(milliseconds(7)));
  clock.set(at(milliseconds(1)));
  EXPECT_EQ(clock.now(), at(milliseconds(1)));
}

}  // namespace
}  // namespace pktd::time
