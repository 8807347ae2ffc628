// Chain operations on mbufs, after the BSD functions named in mbuf.h.
//
// Invariants kept here: bytes are written only where the mbuf is writable() (a shared cluster is
// read-only to every sharer); a chain head with has_pkthdr keeps pkthdr.len equal to the bytes it
// gained or lost; bad arguments fail (false / nullptr) instead of reading or writing past a buffer.
#include <algorithm>
#include <cstring>
#include <limits>

#include "buf/mbuf.h"
#include "buf/mbuf_internal.h"

namespace pktd::buf {
namespace {

Pool& pool() { return Pool::instance(); }

// An mbuf whose buffer holds at least n bytes: the inline buffer when it fits, else a cluster.
// nullptr when n exceeds a cluster or the pool refuses.
Mbuf* get_buffer(Wait how, bool pkthdr, size_t n) {
  if (n <= kMbufInlineBytes) return pool().get(how, pkthdr);
  if (n <= detail::current_mclbytes()) return pool().get_cluster(how, pkthdr);
  return nullptr;
}

// Room after the data that may be written: none in a shared cluster (BSD M_TRAILINGSPACE).
size_t writable_tailroom(const Mbuf& m) { return m.writable() ? m.tailroom() : 0; }

// M_MOVE_PKTHDR, plus the queue link: both belong to the head of the packet.
void move_pkthdr(Mbuf& to, Mbuf& from) {
  to.has_pkthdr = from.has_pkthdr;
  to.pkthdr = from.pkthdr;
  to.nextpkt = from.nextpkt;
  from.has_pkthdr = false;
  from.pkthdr = PktHdr{};
  from.nextpkt = nullptr;
}

void shrink_pkthdr_len(Mbuf& head, size_t removed) {
  if (head.has_pkthdr) head.pkthdr.len -= std::min(head.pkthdr.len, removed);
}

// Headroom for a copy of total bytes: kDefaultHeadroom, unless that would push the copy out of
// the single buffer it otherwise fits in.
size_t headroom_for_copy(size_t total) {
  const size_t mcl = detail::current_mclbytes();
  if (total <= kMbufInlineBytes) return std::min(kDefaultHeadroom, kMbufInlineBytes - total);
  if (total <= mcl) return std::min(kDefaultHeadroom, mcl - total);
  return kDefaultHeadroom;
}

// Calls f(mbuf, offset in it, bytes) for each non-empty piece of [offset, offset + len), which
// the caller has checked lies within the chain. Stops early when f returns false.
template <class F>
bool for_each_piece(const Mbuf& head, size_t offset, size_t len, F&& f) {
  for (const Mbuf* m = &head; m != nullptr && len > 0; m = m->next) {
    if (offset >= m->len) {
      offset -= m->len;
      continue;
    }
    const size_t take = std::min(m->len - offset, len);
    if (!f(*m, offset, take)) return false;
    offset = 0;
    len -= take;
  }
  return true;
}

bool range_in_chain(const Mbuf& m, size_t offset, size_t len) {
  const size_t total = chain_length(&m);
  return offset <= total && len <= total - offset;
}

// --- get_packet ---

// m_getm2-style: a chain whose first cluster keeps headroom, for capacity beyond one cluster.
MbufPtr get_packet_chain(Wait how, size_t capacity, size_t headroom, size_t mcl) {
  if (headroom >= mcl) return nullptr;
  size_t rest = capacity - (mcl - headroom);  // > 0: the caller found headroom + capacity > mcl
  const size_t clusters_needed = 1 + rest / mcl + (rest % mcl > kMbufInlineBytes ? 1 : 0);
  const size_t mbufs_needed = 1 + rest / mcl + (rest % mcl != 0 ? 1 : 0);
  // More than the limits allow would never succeed; with M_WAITOK it would sleep forever.
  const PoolConfig limits = pool().config();
  if (clusters_needed > limits.max_clusters || mbufs_needed > limits.max_mbufs) return nullptr;

  MbufPtr head(pool().get_cluster(how, true));
  if (!head) return nullptr;
  head->data += headroom;
  Mbuf* tail = head.get();
  while (rest > 0) {
    Mbuf* n = get_buffer(how, false, std::min(rest, mcl));
    if (n == nullptr) return nullptr;  // head frees what was built
    tail->next = n;
    tail = n;
    rest -= std::min(rest, n->buf_size());
  }
  return head;
}

// --- append ---

// Where appended bytes go first: the last mbuf holding data (or the head), since any mbufs after
// it are empty and may be filled in order.
Mbuf* fill_point(Mbuf& head) {
  Mbuf* fill = &head;
  for (Mbuf* m = &head; m != nullptr; m = m->next) {
    if (m->len > 0) fill = m;
  }
  return fill;
}

// --- pullup ---

// Makes room for n contiguous bytes in head's own buffer, sliding its data towards the front if
// needed. False if head is shared or its buffer is too small.
bool make_room_in_head(Mbuf& head, size_t n) {
  if (!head.writable() || head.buf_size() < n) return false;
  if (head.len + head.tailroom() < n) {
    // Keep as much headroom as possible: the data ends up n bytes before the buffer's end.
    std::byte* to = head.buf_start() + (head.buf_size() - n);
    std::memmove(to, head.data, head.len);
    head.data = to;
  }
  return true;
}

// m_pullup's fallback: a new first mbuf with room for n bytes (at the end of its buffer, leaving
// headroom for later prepends), taking over the packet header. nullptr (chain freed) on failure.
MbufPtr new_head_for(MbufPtr m, size_t n) {
  // m_pullup has no wait argument in BSD either: it never sleeps.
  Mbuf* h = get_buffer(Wait::nowait, m->has_pkthdr, n);
  if (h == nullptr) return nullptr;
  move_pkthdr(*h, *m);
  h->data = h->buf_start() + (h->buf_size() - n);
  h->next = m.release();
  return MbufPtr(h);
}

// Moves bytes from the following mbufs into head until it holds n (the chain has that many),
// freeing mbufs that become empty.
void pull_into_head(Mbuf& head, size_t n) {
  while (head.len < n) {
    Mbuf* src = head.next;
    const size_t take = std::min(n - head.len, src->len);
    std::memcpy(head.data + head.len, src->data, take);
    head.len += take;
    src->data += take;  // only the mbuf's view moves: src's cluster may be shared
    src->len -= take;
    if (src->len == 0) {
      head.next = src->next;
      pool().free_one(src);
    }
  }
}

// --- share ---

// One piece of m_copym: a cluster is shared (reference counted); inline data is copied, since an
// inline buffer belongs to its mbuf.
Mbuf* share_piece(const Mbuf& src, size_t offset, size_t len, Wait how, bool pkthdr) {
  Mbuf* n = pool().get(how, pkthdr);
  if (n == nullptr) return nullptr;
  if (src.has_cluster()) {
    detail::attach_shared_cluster(*n, src);
    n->data = src.data + offset;
  } else {
    std::memcpy(n->data, src.data + offset, len);
  }
  n->len = len;
  return n;
}

}  // namespace

MbufPtr get_packet(Wait how, size_t capacity, size_t headroom) {
  if (capacity > std::numeric_limits<size_t>::max() - headroom) return nullptr;
  const size_t mcl = detail::current_mclbytes();
  if (headroom + capacity > mcl) return get_packet_chain(how, capacity, headroom, mcl);
  MbufPtr m(get_buffer(how, true, headroom + capacity));
  if (m) m->data += headroom;
  return m;
}

MbufPtr packet_from(std::span<const std::byte> bytes, Wait how, size_t headroom) {
  MbufPtr m = get_packet(how, bytes.size(), headroom);
  // get_packet made room for every byte, so append only copies.
  if (!m || !append(*m, bytes, how)) return nullptr;
  return m;
}

size_t chain_length(const Mbuf* m) {
  size_t total = 0;
  for (; m != nullptr; m = m->next) total += m->len;
  return total;
}

MbufPtr prepend(MbufPtr m, size_t n, Wait how) {
  if (!m) return nullptr;
  if (n == 0) return m;
  if (n <= m->headroom() && m->writable()) {
    m->data -= n;
    m->len += n;
    if (m->has_pkthdr) m->pkthdr.len += n;
    return m;
  }
  Mbuf* h = get_buffer(how, m->has_pkthdr, n);
  if (h == nullptr) return nullptr;  // m (the whole chain) is freed on return, as M_PREPEND does
  move_pkthdr(*h, *m);
  // Bytes at the end of the buffer (M_ALIGN): room stays in front for the next header.
  h->data = h->buf_start() + (h->buf_size() - n);
  h->len = n;
  if (h->has_pkthdr) h->pkthdr.len += n;
  h->next = m.release();
  return MbufPtr(h);
}

bool append(Mbuf& head, std::span<const std::byte> bytes, Wait how) {
  Mbuf* m = fill_point(head);
  size_t done = 0;
  while (done < bytes.size()) {
    const size_t room = writable_tailroom(*m);
    if (room == 0) {
      if (m->next == nullptr) {
        const size_t want = std::min(bytes.size() - done, detail::current_mclbytes());
        m->next = get_buffer(how, false, want);
        if (m->next == nullptr) return false;
      }
      m = m->next;
      continue;
    }
    const size_t take = std::min(room, bytes.size() - done);
    std::memcpy(m->data + m->len, bytes.data() + done, take);
    m->len += take;
    done += take;
    if (head.has_pkthdr) head.pkthdr.len += take;
  }
  return true;
}

void adjust(Mbuf& head, long n) {
  if (n >= 0) {
    // From the front: emptied mbufs stay in the chain with len 0, as in BSD m_adj.
    size_t left = static_cast<size_t>(n);
    for (Mbuf* m = &head; m != nullptr && left > 0; m = m->next) {
      const size_t cut = std::min(m->len, left);
      m->data += cut;
      m->len -= cut;
      left -= cut;
    }
    shrink_pkthdr_len(head, static_cast<size_t>(n) - left);
    return;
  }
  // From the back. -(n + 1) + 1 is |n| without overflowing for LONG_MIN.
  const size_t cut = static_cast<size_t>(-(n + 1)) + 1;
  const size_t total = chain_length(&head);
  size_t keep = total - std::min(cut, total);
  for (Mbuf* m = &head; m != nullptr; m = m->next) {
    m->len = std::min(m->len, keep);
    keep -= m->len;
  }
  shrink_pkthdr_len(head, std::min(cut, total));
}

MbufPtr pullup(MbufPtr m, size_t n) {
  if (!m) return nullptr;
  if (m->len >= n) return m;
  // Like m_pullup, a request that cannot be met frees the chain.
  if (n > chain_length(m.get()) || n > detail::current_mclbytes()) return nullptr;
  if (!make_room_in_head(*m, n)) {
    m = new_head_for(std::move(m), n);
    if (!m) return nullptr;
  }
  pull_into_head(*m, n);
  return m;
}

bool copy_data(const Mbuf& m, size_t offset, std::span<std::byte> out) {
  if (!range_in_chain(m, offset, out.size())) return false;
  size_t done = 0;
  for_each_piece(m, offset, out.size(), [&](const Mbuf& piece, size_t at, size_t len) {
    std::memcpy(out.data() + done, piece.data + at, len);
    done += len;
    return true;
  });
  return true;
}

MbufPtr share(const Mbuf& m, size_t offset, size_t len, Wait how) {
  if (!range_in_chain(m, offset, len)) return nullptr;
  // As m_copym: the copy is a packet (with m's header) only when it starts at the front.
  const bool pkthdr = m.has_pkthdr && offset == 0;
  MbufPtr head;
  Mbuf* tail = nullptr;
  const bool ok = for_each_piece(m, offset, len, [&](const Mbuf& piece, size_t at, size_t n) {
    Mbuf* copy = share_piece(piece, at, n, how, pkthdr && !head);
    if (copy == nullptr) return false;
    if (tail == nullptr) {
      head.reset(copy);
    } else {
      tail->next = copy;
    }
    tail = copy;
    return true;
  });
  if (!ok) return nullptr;
  if (!head) head.reset(pool().get(how, pkthdr));  // len 0: an empty mbuf, not a failure
  if (head && pkthdr) {
    head->pkthdr = m.pkthdr;
    head->pkthdr.len = len;
  }
  return head;
}

MbufPtr dup(const Mbuf& m, Wait how) {
  const size_t total = chain_length(&m);
  MbufPtr copy = get_packet(how, total, headroom_for_copy(total));
  if (!copy) return nullptr;
  for (const Mbuf* p = &m; p != nullptr; p = p->next) {
    if (!append(*copy, p->bytes(), how)) return nullptr;
  }
  copy->has_pkthdr = m.has_pkthdr;
  copy->pkthdr = m.has_pkthdr ? m.pkthdr : PktHdr{};
  copy->pkthdr.len = m.has_pkthdr ? total : 0;
  return copy;
}

std::string to_string(const Mbuf& m) {
  std::string out(chain_length(&m), '\0');
  copy_data(m, 0, std::as_writable_bytes(std::span(out)));
  return out;
}

}  // namespace pktd::buf
