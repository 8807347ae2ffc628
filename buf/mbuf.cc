// Mbuf accessors and the MbufPtr deleter. The allocator is in pool.cc, chain operations in
// chain.cc.
#include "buf/mbuf.h"

#include <atomic>

#include "buf/mbuf_internal.h"

namespace pktd::buf {

std::byte* Mbuf::buf_start() const {
  if (cluster != nullptr) return cluster->data;
  // The inline buffer belongs to this mbuf's slot; a const mbuf still hands out a mutable
  // pointer, as data does.
  return const_cast<detail::MbufSlot*>(detail::slot_of(this))->inline_buf.data();
}

size_t Mbuf::buf_size() const { return cluster != nullptr ? cluster->size : kMbufInlineBytes; }

bool Mbuf::has_cluster() const { return cluster != nullptr; }

bool Mbuf::writable() const {
  // BSD's M_WRITABLE for external storage: only when no other mbuf refers to the cluster.
  // acquire pairs with the release of a sharer's decrement, so its last reads happened before
  // our writes.
  return cluster == nullptr || cluster->refs.load(std::memory_order_acquire) == 1;
}

void MbufDeleter::operator()(Mbuf* m) const noexcept { Pool::instance().free_chain(m); }

}  // namespace pktd::buf
