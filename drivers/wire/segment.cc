// Memory ordering of the rings (the classic SPSC ring, plus virtio-style event suppression):
// - the producer fills a slot, then stores head with release; the consumer loads head with
//   acquire before reading the slot, so it sees the frame whole;
// - the consumer copies the frame out, then stores tail with release; the producer loads tail
//   with acquire before reusing the slot, so it never overwrites what is being read;
// - sleeping: the consumer stores armed = 1 then loads head; the producer stores head then
//   loads armed. Both pairs are seq_cst, so at least one side sees the other's store (Dekker):
//   either the consumer sees the new frame and does not sleep, or the producer sees armed and
//   writes the eventfd. No wake-up is lost, and none is sent while the consumer is awake.
#include "segment.h"

#include <cstring>

namespace devnp_wire {
namespace {

template <typename T>
std::atomic_ref<T> atomic(T& field) {
  return std::atomic_ref<T>(field);
}

RingControl* control(std::byte* base, int ring) {
  return reinterpret_cast<RingControl*>(base + SegmentLayout::kControl) + ring;
}

std::byte* ring_slots(std::byte* base, int ring) {
  return base + SegmentLayout::kSlots + static_cast<size_t>(ring) * SegmentLayout::kRingBytes;
}

size_t slot_offset(uint64_t index) { return (index & (kRingSlots - 1)) * kSlotBytes; }

}  // namespace

void format_segment(std::byte* base) {
  SegmentHeader h{};
  h.magic = kSegmentMagic;
  h.version = kSegmentVersion;
  h.slots = kRingSlots;
  h.slot_bytes = kSlotBytes;
  h.size = SegmentLayout::kSize;
  std::memcpy(base, &h, sizeof h);
}

bool segment_compatible(const std::byte* base) {
  SegmentHeader h{};
  std::memcpy(&h, base, sizeof h);
  return h.magic == kSegmentMagic && h.version == kSegmentVersion && h.slots == kRingSlots &&
         h.slot_bytes == kSlotBytes && h.size == SegmentLayout::kSize;
}

// --- Producer ---

Producer::Producer(std::byte* base, int ring)
    : ctl_(control(base, ring)), slots_(ring_slots(base, ring)) {}

std::span<std::byte> Producer::next_slot() {
  uint64_t head = atomic(ctl_->head).load(std::memory_order_relaxed);  // ours alone
  uint64_t tail = atomic(ctl_->tail).load(std::memory_order_acquire);
  uint64_t used = head - tail;
  // The consumer can only trail the producer, by at most a ring: anything else is a corrupt
  // (or hostile) peer, and the slot index below would still be in range, but frames would not.
  broken_ = used > kRingSlots;
  if (broken_ || used == kRingSlots) return {};
  return {slots_ + slot_offset(head) + sizeof(SlotHeader), kMaxFrame};
}

void Producer::publish(size_t len) {
  uint64_t head = atomic(ctl_->head).load(std::memory_order_relaxed);
  SlotHeader sh{static_cast<uint32_t>(len), 0};
  std::memcpy(slots_ + slot_offset(head), &sh, sizeof sh);
  atomic(ctl_->head).store(head + 1, std::memory_order_seq_cst);
}

bool Producer::consumer_needs_wake() {
  if (atomic(ctl_->armed).load(std::memory_order_seq_cst) == 0) return false;
  return atomic(ctl_->armed).exchange(0, std::memory_order_seq_cst) != 0;
}

uint64_t Producer::in_use() const {
  if (ctl_ == nullptr) return 0;  // not mapped yet
  return atomic(ctl_->head).load(std::memory_order_relaxed) -
         atomic(ctl_->tail).load(std::memory_order_acquire);
}

// --- Consumer ---

Consumer::Consumer(std::byte* base, int ring)
    : ctl_(control(base, ring)), slots_(ring_slots(base, ring)) {}

Consumer::Peek Consumer::peek(uint32_t& len, std::span<const std::byte>& data) {
  uint64_t tail = atomic(ctl_->tail).load(std::memory_order_relaxed);  // ours alone
  uint64_t head = atomic(ctl_->head).load(std::memory_order_acquire);
  if (head == tail) return Peek::empty;
  if (head - tail > kRingSlots) return Peek::broken;
  const std::byte* slot = slots_ + slot_offset(tail);
  SlotHeader sh{};
  std::memcpy(&sh, slot, sizeof sh);
  len = sh.len;
  data = {slot + sizeof(SlotHeader), kMaxFrame};
  return Peek::frame;
}

void Consumer::release() {
  uint64_t tail = atomic(ctl_->tail).load(std::memory_order_relaxed);
  atomic(ctl_->tail).store(tail + 1, std::memory_order_release);
}

bool Consumer::arm_and_check_empty() {
  atomic(ctl_->armed).store(1, std::memory_order_seq_cst);
  uint64_t head = atomic(ctl_->head).load(std::memory_order_seq_cst);
  return head == atomic(ctl_->tail).load(std::memory_order_relaxed);
}

void Consumer::discard_all() {
  uint64_t head = atomic(ctl_->head).load(std::memory_order_acquire);
  atomic(ctl_->tail).store(head, std::memory_order_release);
}

uint64_t Consumer::in_use() const {
  if (ctl_ == nullptr) return 0;
  return atomic(ctl_->head).load(std::memory_order_acquire) -
         atomic(ctl_->tail).load(std::memory_order_relaxed);
}

}  // namespace devnp_wire
