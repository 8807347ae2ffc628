// Pool internals shared by buf/*.cc; not part of the public API (drivers include buf/mbuf.h).
//
// An mbuf lives in an MbufSlot together with its inline buffer (BSD's m_dat), so an mbuf and its
// small-packet storage are one allocation. A cluster (BSD's M_EXT storage) is a header followed by
// mclbytes of data in one allocation; its reference count lets m_copym-style sharing point several
// mbufs at the same bytes.
#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "buf/mbuf.h"

namespace pktd::buf {

// Declared (as an incomplete type) by Mbuf::cluster in mbuf.h.
struct Cluster {
  std::atomic<uint32_t> refs{0};  // mbufs pointing into data; 0 while the cluster is free
  uint32_t generation = 0;        // pool configuration it was made under
  size_t size = 0;                // bytes at data (mclbytes of that configuration)
  std::byte* data = nullptr;      // right after this header, in the same allocation
  Cluster* next_free = nullptr;   // free-list link, meaningful only while free
};

namespace detail {

struct MbufSlot {
  Mbuf mbuf;            // first member: &slot->mbuf and slot are pointer-interconvertible
  uint64_t state = 0;   // kSlotLive / kSlotFree, to catch double frees (BSD panics on them)
  std::array<std::byte, kMbufInlineBytes> inline_buf;
};
static_assert(std::is_standard_layout_v<MbufSlot>);
static_assert(offsetof(MbufSlot, mbuf) == 0);

// Every Mbuf is created as the first member of an MbufSlot by the pool, so this is the one cast
// the allocator needs (standard layout makes the two addresses interchangeable).
inline MbufSlot* slot_of(Mbuf* m) { return reinterpret_cast<MbufSlot*>(m); }
inline const MbufSlot* slot_of(const Mbuf* m) { return reinterpret_cast<const MbufSlot*>(m); }

// The current configuration's cluster size (cheaper than Pool::config()).
size_t current_mclbytes();

// m_copym's core: points dst at src's cluster, taking a reference. dst must have no cluster.
void attach_shared_cluster(Mbuf& dst, const Mbuf& src);

}  // namespace detail
}  // namespace pktd::buf
