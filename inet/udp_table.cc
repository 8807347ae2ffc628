#include "inet/udp_table.h"

#include <algorithm>
#include <cerrno>

namespace pktd::inet {

bool UdpSocket::deliver(ReceivedDatagram d) {
  // Charged with its bookkeeping, as Linux charges truesize: empty datagrams fill a queue too.
  size_t charge = d.data.size() + kDatagramOverhead;
  if (queued_bytes_ + charge > receive_limit) return false;
  queued_bytes_ += charge;
  queue_.push_back(std::move(d));
  if (on_readable) on_readable();
  return true;
}

bool UdpSocket::pop(ReceivedDatagram* out) {
  if (queue_.empty()) return false;
  *out = std::move(queue_.front());
  queue_.pop_front();
  queued_bytes_ -= out->data.size() + kDatagramOverhead;
  return true;
}

namespace {

bool overlaps(const UdpEndpoint& a, const UdpEndpoint& b) {
  return a.port == b.port &&
         (a.address.value == 0 || b.address.value == 0 || a.address == b.address);
}

bool may_share(const UdpSocket& a, const UdpSocket& b) {
  if (a.reuse_address && b.reuse_address) return true;
  return a.reuse_port && b.reuse_port && a.owner == b.owner;
}

// How well socket s matches a datagram to `to` from `from`: 0 not at all, 1 the wildcard
// address, 2 its exact address, 3 connected to the sender.
int match_rank(const UdpSocket& s, UdpEndpoint to, UdpEndpoint from) {
  if (s.local.port != to.port) return 0;
  if (s.local.address.value != 0 && s.local.address != to.address) return 0;
  if (s.remote.port != 0)
    return s.remote.port == from.port && s.remote.address == from.address ? 3 : 0;
  return s.local.address.value != 0 ? 2 : 1;
}

}  // namespace

bool UdpTable::conflicts(const UdpSocket& s, UdpEndpoint e) const {
  return std::any_of(sockets_.begin(), sockets_.end(), [&](const auto& other) {
    return other.get() != &s && overlaps(other->local, e) && !may_share(s, *other);
  });
}

int UdpTable::bind(const std::shared_ptr<UdpSocket>& s, UdpEndpoint local) {
  if (local.port == 0) {
    constexpr unsigned kRange = kEphemeralLast - kEphemeralFirst + 1;
    for (unsigned tries = 0; tries < kRange; ++tries) {
      UdpEndpoint candidate{local.address, next_ephemeral_};
      next_ephemeral_ = next_ephemeral_ == kEphemeralLast ? kEphemeralFirst : next_ephemeral_ + 1;
      // An ephemeral port is never shared, whatever the options say.
      bool taken = std::any_of(sockets_.begin(), sockets_.end(),
                               [&](const auto& o) { return overlaps(o->local, candidate); });
      if (taken) continue;
      local = candidate;
      break;
    }
    if (local.port == 0) return EAGAIN;
  } else if (conflicts(*s, local)) {
    return EADDRINUSE;
  }
  s->local = local;
  sockets_.push_back(s);
  return 0;
}

void UdpTable::unbind(const std::shared_ptr<UdpSocket>& s) {
  std::erase(sockets_, s);
}

std::shared_ptr<UdpSocket> UdpTable::lookup(UdpEndpoint to, UdpEndpoint from) const {
  int best = 0;
  std::vector<const std::shared_ptr<UdpSocket>*> equals;
  for (const auto& s : sockets_) {
    int rank = match_rank(*s, to, from);
    if (rank == 0 || rank < best) continue;
    if (rank > best) equals.clear();
    best = rank;
    equals.push_back(&s);
  }
  if (equals.empty()) return nullptr;
  bool group = equals.size() > 1 && std::all_of(equals.begin(), equals.end(),
                                                [](auto* s) { return (*s)->reuse_port; });
  if (!group) return *equals.back();
  uint32_t hash = (from.address.value * 2654435761U) ^ (from.port * 40503U);
  return *equals[hash % equals.size()];
}

std::vector<std::shared_ptr<UdpSocket>> UdpTable::lookup_all(UdpEndpoint to, UdpEndpoint from) const {
  std::vector<std::shared_ptr<UdpSocket>> all;
  for (const auto& s : sockets_)
    if (match_rank(*s, to, from) > 0) all.push_back(s);
  return all;
}

std::shared_ptr<UdpSocket> UdpTable::lookup_connected(UdpEndpoint local, UdpEndpoint remote) const {
  for (const auto& s : sockets_)
    if (s->remote.port != 0 && match_rank(*s, local, remote) == 3) return s;
  return nullptr;
}

}  // namespace pktd::inet
