// The shared-memory segment of a wire link: a header and two single-producer single-consumer
// rings of fixed-size slots, ring s carrying the frames end s sends. Mapped by two processes
// (or twice by one), so every index is read and written with std::atomic_ref on plain integers
// in the segment: lock-free atomics are address-free, which is what makes them work across
// mappings (C++20 [atomics.lockfree]). No SDK here.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

namespace devnp_wire {

inline constexpr uint32_t kMaxMtu = 9000;
inline constexpr size_t kEthHeader = 14;
inline constexpr size_t kVlanTag = 4;
// The largest frame a ring carries: the largest MTU with an Ethernet header and a VLAN tag.
inline constexpr size_t kMaxFrame = kMaxMtu + kEthHeader + kVlanTag;
inline constexpr uint32_t kRingSlots = 256;  // a power of two: an index is a mask away
inline constexpr size_t kCacheLine = 64;

inline constexpr uint64_t kSegmentMagic = 0x31657269'77646b70ULL;  // "pkdwire1" in memory
inline constexpr uint32_t kSegmentVersion = 1;

struct SlotHeader {
  uint32_t len;  // bytes of frame that follow
  uint32_t reserved;
};
inline constexpr size_t kSlotBytes =
    (sizeof(SlotHeader) + kMaxFrame + kCacheLine - 1) / kCacheLine * kCacheLine;

// Each index on its own cache line: the producer writes head, the consumer tail and armed.
struct RingControl {
  alignas(kCacheLine) uint64_t head;   // frames published (producer)
  alignas(kCacheLine) uint64_t tail;   // frames taken (consumer)
  alignas(kCacheLine) uint32_t armed;  // 1: the consumer sleeps on its eventfd; wake it
};

struct alignas(kCacheLine) SegmentHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t slots;
  uint64_t slot_bytes;
  uint64_t size;
};

struct SegmentLayout {
  static constexpr size_t kControl = sizeof(SegmentHeader);
  static constexpr size_t kSlots = kControl + 2 * sizeof(RingControl);
  static constexpr size_t kRingBytes = size_t{kRingSlots} * kSlotBytes;
  static constexpr size_t kSize = kSlots + 2 * kRingBytes;
};

static_assert(std::atomic_ref<uint64_t>::is_always_lock_free);
static_assert(std::atomic_ref<uint32_t>::is_always_lock_free);
static_assert((kRingSlots & (kRingSlots - 1)) == 0);

// Fills a freshly zeroed segment's header.
void format_segment(std::byte* base);
// Whether base holds a segment this driver can use (magic, version, geometry).
bool segment_compatible(const std::byte* base);

// The view of one ring from its only producer.
class Producer {
 public:
  Producer() = default;
  Producer(std::byte* base, int ring);

  // The data area of the next free slot (kMaxFrame bytes), or an empty span when the ring is
  // full or its indices make no sense (broken() then says so).
  std::span<std::byte> next_slot();
  // Makes the frame written into next_slot() visible to the consumer.
  void publish(size_t len);
  // After publishing: whether the consumer is asleep and needs its eventfd written (the flag
  // is cleared, so one write serves one sleep).
  bool consumer_needs_wake();
  bool broken() const { return broken_; }
  uint64_t in_use() const;

 private:
  RingControl* ctl_ = nullptr;
  std::byte* slots_ = nullptr;
  bool broken_ = false;
};

// The view of one ring from its only consumer.
class Consumer {
 public:
  Consumer() = default;
  Consumer(std::byte* base, int ring);

  enum class Peek { frame, empty, broken };
  // The oldest frame not yet taken: its length as the producer wrote it (unchecked) and the
  // slot's data area (kMaxFrame bytes).
  Peek peek(uint32_t& len, std::span<const std::byte>& data);
  void release();
  // Before sleeping: tells the producer to wake us, then looks again. True if still empty
  // (sleep); false if a frame slipped in (keep going).
  bool arm_and_check_empty();
  // Skips every published frame (those of a producer that has gone).
  void discard_all();
  uint64_t in_use() const;

 private:
  RingControl* ctl_ = nullptr;
  const std::byte* slots_ = nullptr;
};

}  // namespace devnp_wire
