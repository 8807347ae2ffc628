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

bool UdpTable::in_use(UdpEndpoint e) const {
  return std::any_of(sockets_.begin(), sockets_.end(), [&](const auto& s) {
    return s->local.port == e.port &&
           (s->local.address.value == 0 || e.address.value == 0 || s->local.address == e.address);
  });
}

int UdpTable::bind(const std::shared_ptr<UdpSocket>& s, UdpEndpoint local) {
  if (local.port == 0) {
    constexpr unsigned kRange = kEphemeralLast - kEphemeralFirst + 1;
    for (unsigned tries = 0; tries < kRange; ++tries) {
      UdpEndpoint candidate{local.address, next_ephemeral_};
      next_ephemeral_ = next_ephemeral_ == kEphemeralLast ? kEphemeralFirst : next_ephemeral_ + 1;
      if (in_use(candidate)) continue;
      local = candidate;
      break;
    }
    if (local.port == 0) return EAGAIN;
  } else if (in_use(local)) {
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
  std::shared_ptr<UdpSocket> exact, wildcard;
  for (const auto& s : sockets_) {
    if (s->local.port != to.port) continue;
    if (s->remote.port != 0) {
      if (s->remote.port == from.port && s->remote.address == from.address &&
          (s->local.address.value == 0 || s->local.address == to.address))
        return s;
      continue;
    }
    if (s->local.address == to.address) exact = s;
    else if (s->local.address.value == 0) wildcard = s;
  }
  return exact ? exact : wildcard;
}

}  // namespace pktd::inet
