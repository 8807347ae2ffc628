// Hashed timing wheel (Varghese & Lauck, scheme 6): a callout lives in slot
// deadline_tick % slots; entries more than one revolution away share the slot with nearer ones
// and are skipped, by their deadline, until the revolution in which they are due.
#include "time/timer_wheel.h"

#include <algorithm>
#include <bit>
#include <cassert>

namespace pktd::time {

Callout::~Callout() {
  // Stopping (rather than asserting) keeps an owner that forgot callout_stop from leaving a
  // dangling node in the wheel.
  if (wheel_ != nullptr) wheel_->stop(*this);
}

namespace {

// Zero would divide by zero in the tick arithmetic; clamp so a release build stays defined.
Duration valid_tick(Duration tick) {
  assert(tick > Duration::zero());
  return std::max(tick, Duration{1});
}

size_t valid_slot_count(size_t slots) {
  assert(slots > 0);
  return std::max<size_t>(slots, 1);
}

}  // namespace

TimerWheel::TimerWheel(const Clock& clock, Duration tick, size_t slots)
    : clock_(clock),
      tick_(valid_tick(tick)),
      origin_(clock.now()),
      slots_(valid_slot_count(slots)) {
  // A power-of-two slot count turns the hash into a mask, keeping a division off arm().
  if (slots_.size() > 1 && std::has_single_bit(slots_.size())) slot_mask_ = slots_.size() - 1;
}

TimerWheel::~TimerWheel() {
  // Owners may outlive the wheel: leave their callouts not pending so ~Callout has nothing to do.
  for (Link& slot : slots_) forget_list(slot);
  forget_list(ready_);
  forget_list(expiring_);
}

// --- tick arithmetic ---

uint64_t TimerWheel::tick_of(TimePoint t) const {
  // Times before the origin only come from a clock set backwards; they belong to tick 0.
  if (t <= origin_) return 0;
  return static_cast<uint64_t>((t - origin_) / tick_);
}

uint64_t TimerWheel::tick_at_or_after(TimePoint t) const {
  if (t <= origin_) return 0;
  const auto since = static_cast<uint64_t>((t - origin_).count());
  const auto per_tick = static_cast<uint64_t>(tick_.count());
  // Quotient plus remainder test rather than (since + per_tick - 1): that sum could overflow.
  return since / per_tick + (since % per_tick != 0 ? 1 : 0);
}

TimePoint TimerWheel::time_of(uint64_t tick) const {
  return origin_ + tick_ * static_cast<Duration::rep>(tick);
}

size_t TimerWheel::slot_index(uint64_t tick) const {
  const uint64_t index = slot_mask_ != 0 ? (tick & slot_mask_) : tick % slots_.size();
  return static_cast<size_t>(index);
}

// --- intrusive lists ---

Callout& TimerWheel::callout_of(Link& node) { return static_cast<Callout&>(node); }

const Callout& TimerWheel::callout_of(const Link& node) {
  return static_cast<const Callout&>(node);
}

void TimerWheel::append(Link& list, Callout& c) {
  Link& node = c;
  node.prev = list.prev;
  node.next = &list;
  list.prev->next = &node;
  list.prev = &node;
}

void TimerWheel::unlink(Callout& c) {
  Link& node = c;
  node.prev->next = node.next;
  node.next->prev = node.prev;
  // Self-linked, so an unlinked node never points into a list it has left.
  node.prev = &node;
  node.next = &node;
}

void TimerWheel::splice_back(Link& to, Link& from) {
  if (from.next == &from) return;
  from.next->prev = to.prev;
  to.prev->next = from.next;
  from.prev->next = &to;
  to.prev = from.prev;
  from.prev = &from;
  from.next = &from;
}

void TimerWheel::detach(Callout& c) {
  unlink(c);
  c.wheel_ = nullptr;
  --pending_count_;
}

void TimerWheel::forget_list(Link& list) {
  while (list.next != &list) detach(callout_of(*list.next));
}

// --- public operations ---

void TimerWheel::init(Callout& c) {
  // A pending callout is linked into some wheel's list; clearing it in place would corrupt
  // that list, so stop it first, on whichever wheel holds it.
  if (c.wheel_ != nullptr) c.wheel_->stop(c);
  c.deadline_tick_ = 0;
  c.fn_ = nullptr;
  c.arg_ = nullptr;
}

void TimerWheel::arm(Callout& c, uint32_t ms, CalloutFn fn, void* arg) {
  // Re-arming moves the callout, from whichever list (or wheel) held it.
  if (c.wheel_ != nullptr) c.wheel_->detach(c);
  c.fn_ = fn;
  c.arg_ = arg;
  c.wheel_ = this;
  ++pending_count_;
  const TimePoint now = clock_.now();
  if (ms == 0) {
    // Due already, but it must not run in a pass in progress (a callback re-arming itself with
    // 0 ms would loop forever): the ready list is only taken at the start of a pass. Its
    // "deadline" is the tick it was armed in, so next_deadline() reports a time already past.
    c.deadline_tick_ = tick_of(now);
    append(ready_, c);
  } else {
    // Rounding up means never early. Ticks below current_tick_ were processed already (only a
    // clock set backwards can produce one); the next unprocessed tick is later still.
    c.deadline_tick_ =
        std::max(tick_at_or_after(now + std::chrono::milliseconds(ms)), current_tick_);
    append(slots_[slot_index(c.deadline_tick_)], c);
  }
  note_deadline(c.deadline_tick_);
}

bool TimerWheel::stop(Callout& c) {
  if (c.wheel_ == nullptr) return false;
  // Stopping through the wrong wheel still unlinks it from the right one: nothing dangles.
  if (c.wheel_ != this) return c.wheel_->stop(c);
  detach(c);
  // The cached earliest deadline may now be early, which the contract allows; an empty wheel
  // is the one case that is free to make exact (and saves the runtime a pointless wake-up).
  if (pending_count_ == 0) earliest_tick_.reset();
  return true;
}

size_t TimerWheel::run_expired() {
  // A nested call from a callback would run callouts armed during this pass; refuse it.
  if (in_pass_) return 0;
  const uint64_t target_tick = tick_of(clock_.now());
  collect_due(target_tick);
  in_pass_ = true;
  size_t ran = 0;
  try {
    ran = run_collected();
  } catch (...) {
    end_pass(target_tick);
    throw;
  }
  end_pass(target_tick);
  return ran;
}

std::optional<TimePoint> TimerWheel::next_deadline() const {
  if (!earliest_tick_) return std::nullopt;
  return time_of(*earliest_tick_);
}

// --- expiry ---

void TimerWheel::note_deadline(uint64_t tick) {
  if (!earliest_tick_ || tick < *earliest_tick_) earliest_tick_ = tick;
}

void TimerWheel::collect_due(uint64_t target_tick) {
  // No new tick (or the clock went backwards): there is nothing to scan in the wheel.
  const uint64_t ticks = target_tick >= current_tick_ ? target_tick - current_tick_ + 1 : 0;
  // After a long stall (suspend, a debugger) one revolution already visits every slot;
  // stepping through millions of ticks would rescan the same slots for nothing.
  const bool jumped = ticks > slots_.size();
  if (jumped) sort_scratch_.reserve(pending_count_);  // before anything moves: may throw
  // Zero-delay callouts go first: they were due when armed, before the current pass began.
  splice_back(expiring_, ready_);
  if (ticks == 0) return;
  const uint64_t scans = jumped ? slots_.size() : ticks;
  for (uint64_t i = 0; i < scans; ++i) {
    collect_from_slot(slots_[slot_index(current_tick_ + i)], target_tick);
  }
  // Tick by tick the collection is already in deadline order; a one-revolution sweep is not.
  if (jumped) sort_expiring_by_deadline();
  current_tick_ = target_tick + 1;
}

void TimerWheel::collect_from_slot(Link& slot, uint64_t target_tick) {
  for (Link* node = slot.next; node != &slot;) {
    Callout& c = callout_of(*node);
    node = node->next;  // read before c moves to the expiring list
    // Entries for a later revolution share the slot; they stay until their own turn.
    if (c.deadline_tick_ <= target_tick) {
      unlink(c);
      append(expiring_, c);
    }
  }
}

void TimerWheel::sort_expiring_by_deadline() {
  sort_scratch_.clear();
  while (expiring_.next != &expiring_) {
    Callout& c = callout_of(*expiring_.next);
    unlink(c);
    sort_scratch_.push_back(&c);  // capacity reserved by collect_due: does not throw
  }
  // Stable: callouts with the same deadline keep the order they were armed in.
  std::stable_sort(sort_scratch_.begin(), sort_scratch_.end(),
                   [](const Callout* a, const Callout* b) {
                     return a->deadline_tick_ < b->deadline_tick_;
                   });
  for (Callout* c : sort_scratch_) append(expiring_, *c);
  sort_scratch_.clear();
}

size_t TimerWheel::run_collected() {
  size_t ran = 0;
  // Always take the head again: an earlier callback may have stopped, re-armed or destroyed
  // any callout further down the list, which unlinks it from here.
  while (expiring_.next != &expiring_) {
    Callout& c = callout_of(*expiring_.next);
    detach(c);  // not pending while it runs, so the callback may re-arm it (or free it)
    const CalloutFn fn = c.fn_;
    void* const arg = c.arg_;
    ++ran;
    if (fn == nullptr) continue;
    // Copied before the call: the callback may free its callout.
    if (observer_ != nullptr) observer_->before_callout(fn, c.armed_by);
    fn(arg);
    if (observer_ != nullptr) observer_->after_callout();
  }
  return ran;
}

void TimerWheel::end_pass(uint64_t target_tick) {
  // Only non-empty if a callback threw: keep the callouts it left unrun due, ahead of any
  // zero-delay callout armed during the pass.
  splice_back(expiring_, ready_);
  splice_back(ready_, expiring_);
  in_pass_ = false;
  if (pending_count_ == 0) {
    earliest_tick_.reset();
  } else if (!earliest_tick_ || *earliest_tick_ <= target_tick) {
    // The cache is still a lower bound of every pending deadline until it is reached, so
    // the rescan is paid only when the earliest callout has actually come due.
    recompute_earliest();
  }
}

void TimerWheel::recompute_earliest() {
  std::optional<uint64_t> best = earliest_in_slots();
  lower_to_list_min(best, ready_);
  earliest_tick_ = best;
}

std::optional<uint64_t> TimerWheel::earliest_in_slots() const {
  std::optional<uint64_t> best;
  // Every deadline in the wheel is >= current_tick_, so a slot visited at tick t (within one
  // revolution) only holds deadlines >= t: once the best is <= t nothing later can beat it.
  for (uint64_t i = 0; i < slots_.size(); ++i) {
    const uint64_t tick = current_tick_ + i;
    if (best && *best <= tick) break;
    lower_to_list_min(best, slots_[slot_index(tick)]);
  }
  return best;
}

void TimerWheel::lower_to_list_min(std::optional<uint64_t>& best, const Link& list) {
  for (const Link* node = list.next; node != &list; node = node->next) {
    const uint64_t tick = callout_of(*node).deadline_tick_;
    if (!best || tick < *best) best = tick;
  }
}

}  // namespace pktd::time
