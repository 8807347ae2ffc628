// The stack's frame: interfaces, addresses, routes, the input queue and the slow timer.
#include "inet/stack.h"

#include <algorithm>
#include <cerrno>

#include "base/log.h"
#include "inet/stack_internal.h"

namespace pktd::inet {

namespace {
constexpr uint32_t kSlowTimerMs = 100;
constexpr IfAddress kLoopbackAddress{Ipv4Address::from_octets(127, 0, 0, 1), 8};

void slow_timer_callout(void* arg) { static_cast<Stack*>(arg)->slow_timer(); }
}  // namespace

std::span<const std::byte> contiguous(const buf::Mbuf& m, std::vector<std::byte>& scratch) {
  size_t len = m.has_pkthdr ? m.pkthdr.len : buf::chain_length(&m);
  if (m.len >= len) return {m.data, len};
  scratch.resize(len);
  (void)buf::copy_data(m, 0, scratch);
  return scratch;
}

Stack::Stack(Env& env, net::Interfaces& interfaces, StackConfig config)
    : env_(env),
      interfaces_(interfaces),
      config_(config),
      arp_(config.arp),
      reassembly_(config.reassembly),
      self_(std::make_shared<Stack*>(this)) {
  icmp_tokens_ = config_.icmp_error_burst;
  icmp_refilled_ = env_.clock().now();
  env_.timer_init(slow_callout_);
  Private::tcp_init(*this);
  interfaces_.set_observer(this);
  for (net::Ifnet* ifp : interfaces_.list()) attach(*ifp);
}

Stack::~Stack() {
  shutdown();
  for (auto& [ifindex, list] : addresses_) list.clear();
  std::vector<buf::MbufPtr> held;
  for (net::Ifnet* ifp : interfaces_.list()) arp_.erase_interface(ifp->index(), &held);
  reassembly_.clear();
}

void Stack::shutdown() {
  if (shutting_down_.exchange(true)) return;
  interfaces_.set_observer(nullptr);
  env_.timer_stop(slow_callout_);
  env_.timer_stop(tcp_callout_);
  *self_ = nullptr;
  for (net::Ifnet* ifp : interfaces_.list()) ifp->set_input_handler(nullptr);
  std::lock_guard lock(input_mutex_);
  while (input_head_ != nullptr) {
    buf::Mbuf* m = input_head_;
    input_head_ = m->nextpkt;
    m->nextpkt = nullptr;
    buf::MbufPtr free_it(m);
  }
  input_tail_ = nullptr;
  input_len_ = 0;
}

std::map<std::string, std::map<std::string, uint64_t>> Stack::statistics() const {
  auto out = counters_.named();
  const ReassemblyStats& r = reassembly_.stats();
  auto& ip = out["ip"];
  ip["reassembly_timeouts"] = r.timeouts;
  ip["reassembly_overlaps"] = r.overlaps;
  ip["reassembly_over_limit"] = r.over_limit;
  ip["reassembly_bad"] = r.bad_fragment;
  ip["reassembly_duplicates"] = r.duplicates;
  ip["reassembly_queues"] = reassembly_.queues();
  ip["reassembly_bytes"] = reassembly_.bytes();
  out["tcp"] = tcp_->stats().named();
  out["tcp"]["connections"] = tcp_->connection_count();
  out["arp"]["entries"] = arp_.size();
  out["arp"]["held_packets"] = arp_.held_total();
  out["ether"]["input_queue_full"] += input_dropped_full_.load(std::memory_order_relaxed);
  return out;
}

// --- interfaces ---

void Stack::attach(net::Ifnet& ifp) {
  ifp.set_input_handler([this](net::Ifnet& in, buf::MbufPtr m) {
    // Any worker. Queue it; the first frame of a batch posts one drain.
    if (m->has_pkthdr) m->pkthdr.rcvif = in.index();
    bool post = false;
    {
      std::lock_guard lock(input_mutex_);
      if (shutting_down_.load(std::memory_order_relaxed)) return;  // freed by m's destructor
      if (input_len_ >= config_.input_queue_max) {
        input_dropped_full_.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      buf::Mbuf* raw = m.release();
      raw->nextpkt = nullptr;
      if (input_tail_ != nullptr) input_tail_->nextpkt = raw;
      else input_head_ = raw;
      input_tail_ = raw;
      ++input_len_;
      if (!drain_posted_) post = drain_posted_ = true;
    }
    if (post) {
      env_.post([self = self_] {
        if (*self != nullptr) (*self)->drain_input();
      });
    }
  });
  if ((ifp.flags() & PKTD_IFF_LOOPBACK) != 0)
    lo_has_loopback_net_ = add_address(ifp.index(), kLoopbackAddress, false) == 0;
}

void Stack::detach(net::Ifnet& ifp) {
  uint32_t index = ifp.index();
  // The input handler stays: the driver may still deliver on a worker until it is stopped, and
  // what it delivers is counted as ether.interface_gone once the interface is no longer listed.
  for (const IfAddress& a : addresses(index)) delete_address(index, a.address);
  addresses_.erase(index);
  routes_.remove_interface(index);
  std::vector<buf::MbufPtr> held;
  arp_.erase_interface(index, &held);
  counters_.arp.held_packets_dropped += held.size();
  captures_.interface_gone(index);
}

net::Ifnet* Stack::Private::interface(Stack& s, uint32_t ifindex) {
  return s.interfaces_.find(ifindex);
}

// --- the input queue ---

size_t Stack::input_queue_length() {
  std::lock_guard lock(input_mutex_);
  return input_len_;
}

void Stack::drain_input() {
  buf::Mbuf* batch;
  {
    std::lock_guard lock(input_mutex_);
    batch = input_head_;
    input_head_ = input_tail_ = nullptr;
    input_len_ = 0;
    drain_posted_ = false;
  }
  counters_.ether.input_queue_full += input_dropped_full_.exchange(0, std::memory_order_relaxed);
  tcp_->begin_input_batch();
  while (batch != nullptr) {
    buf::MbufPtr m(batch);
    batch = batch->nextpkt;
    m->nextpkt = nullptr;
    net::Ifnet* ifp = Private::interface(*this, m->pkthdr.rcvif);
    if (ifp == nullptr) {
      ++counters_.ether.interface_gone;
      continue;
    }
    Private::frame_input(*this, *ifp, std::move(m));
  }
  tcp_->end_input_batch(env_.clock().now());
}

// --- addresses ---

std::vector<IfAddress> Stack::addresses(uint32_t ifindex) const {
  auto it = addresses_.find(ifindex);
  return it == addresses_.end() ? std::vector<IfAddress>{} : it->second;
}

bool Stack::is_local_address(Ipv4Address a) const {
  for (const auto& [index, list] : addresses_)
    for (const IfAddress& ia : list)
      if (ia.address == a) return true;
  // All of 127/8 is this host once lo0 has 127.0.0.1/8 (RFC 1122 3.2.1.3 (g); Linux answers
  // 127.0.0.2 too).
  return is_loopback_net(a) && lo_has_loopback_net_;
}

const IfAddress* Stack::Private::address_for(Stack& s, uint32_t ifindex, Ipv4Address peer) {
  auto it = s.addresses_.find(ifindex);
  if (it == s.addresses_.end() || it->second.empty()) return nullptr;
  for (const IfAddress& a : it->second)
    if (in_prefix(peer, a.address, a.prefix_len)) return &a;
  return &it->second.front();
}

bool Stack::Private::is_broadcast_for(Stack& s, uint32_t ifindex, Ipv4Address a) {
  if (is_limited_broadcast(a)) return true;
  auto it = s.addresses_.find(ifindex);
  if (it == s.addresses_.end()) return false;
  return std::any_of(it->second.begin(), it->second.end(), [&](const IfAddress& ia) {
    auto b = ia.broadcast();
    return b && *b == a;
  });
}

bool Stack::is_broadcast_address(Ipv4Address a) { return Private::is_our_broadcast(*this, a); }

bool Stack::Private::is_our_broadcast(Stack& s, Ipv4Address a) {
  for (const auto& [index, list] : s.addresses_)
    if (is_broadcast_for(s, index, a)) return true;
  return is_limited_broadcast(a);
}

Ipv4Address Stack::Private::source_for(Stack& s, const Route& route, Ipv4Address destination) {
  if (route.source.value != 0) return route.source;
  const IfAddress* a = address_for(s, route.ifindex, route.gateway.value_or(destination));
  return a != nullptr ? a->address : Ipv4Address{};
}

int Stack::add_address(uint32_t ifindex, IfAddress a, bool alias) {
  net::Ifnet* ifp = Private::interface(*this, ifindex);
  if (ifp == nullptr) return ENXIO;
  if (a.prefix_len > 32 || a.address.value == 0 || is_multicast(a.address) ||
      is_limited_broadcast(a.address) || is_reserved_class_e(a.address))
    return EINVAL;
  if (auto b = a.broadcast(); b && *b == a.address) return EINVAL;
  if (a.network() == a.address && a.prefix_len < 31) return EINVAL;  // the network's own address
  auto& list = addresses_[ifindex];
  bool on_this = std::any_of(list.begin(), list.end(), [&](const IfAddress& x) { return x.address == a.address; });
  if (is_local_address(a.address) && !on_this) return EEXIST;  // another interface has it
  // Given again (the same configuration twice, or a new prefix length): it replaces itself, as
  // BSD's ifconfig does.
  bool was_primary = on_this && list.front().address == a.address;
  if (on_this) delete_address(ifindex, a.address);
  if (!alias && !was_primary && !list.empty()) delete_address(ifindex, list.front().address);
  list.insert(list.begin(), a);
  if (alias) std::rotate(list.begin(), list.begin() + 1, list.end());  // an alias goes last
  bool loopback = (ifp->flags() & PKTD_IFF_LOOPBACK) != 0;
  // The connected route (unless another address already made one for this prefix).
  Route connected{a.network(), a.prefix_len, std::nullopt, ifindex, kRouteUp | kRouteConnected, a.address};
  // A /32 has no network beside itself: its only route is the local one through lo0 below.
  if (loopback || a.prefix_len < 32) (void)routes_.add(connected);
  // Local delivery goes through lo0, as BSD's local host routes do.
  net::Ifnet* lo = nullptr;
  for (net::Ifnet* i : interfaces_.list())
    if ((i->flags() & PKTD_IFF_LOOPBACK) != 0) lo = i;
  if (lo != nullptr && !(loopback && a.prefix_len == 32)) {
    Route local{a.address, 32, std::nullopt, lo->index(), kRouteUp | kRouteHost | kRouteLocal, a.address};
    (void)routes_.add(local);
  }
  PKTD_LOG_INFO("%s: inet %s/%u", ifp->name().c_str(), address_text(a.address).c_str(), a.prefix_len);
  if (!loopback && ifp->up()) announce_one(*ifp, a.address);
  return 0;
}

// RFC 5227 2.3: an announcement is an ARP request with sender and target both the address; peers
// that knew another MAC for it update their caches.
void Stack::announce_one(net::Ifnet& ifp, Ipv4Address a) {
  Private::arp_request(*this, ifp, a, a);
  ++counters_.arp.gratuitous_sent;
}

void Stack::announce(uint32_t ifindex) {
  net::Ifnet* ifp = Private::interface(*this, ifindex);
  if (ifp == nullptr || (ifp->flags() & PKTD_IFF_LOOPBACK) != 0) return;
  for (const IfAddress& a : addresses(ifindex)) announce_one(*ifp, a.address);
}

int Stack::delete_address(uint32_t ifindex, Ipv4Address address) {
  auto it = addresses_.find(ifindex);
  if (it == addresses_.end()) return EADDRNOTAVAIL;
  auto& list = it->second;
  auto pos = std::find_if(list.begin(), list.end(), [&](const IfAddress& a) { return a.address == address; });
  if (pos == list.end()) return EADDRNOTAVAIL;
  IfAddress gone = *pos;
  list.erase(pos);
  // The local route, and the connected route unless another address on the interface needs it.
  if (const Route* r = routes_.find(gone.address, 32); r && (r->flags & kRouteLocal) != 0)
    (void)routes_.remove(gone.address, 32);
  auto heir = std::find_if(list.begin(), list.end(), [&](const IfAddress& a) {
    return a.network() == gone.network() && a.prefix_len == gone.prefix_len;
  });
  if (heir == list.end()) {
    routes_.remove_connected(ifindex, gone.network(), gone.prefix_len);
  } else if (const Route* c = routes_.find(gone.network(), gone.prefix_len);
             c != nullptr && c->ifindex == ifindex && (c->flags & kRouteConnected) != 0 &&
             c->source == gone.address) {
    // The connected route stays for the other address, and names it as the source from now on
    // (Linux promotes a secondary address the same way).
    Route kept = *c;
    kept.source = heir->address;
    (void)routes_.remove(kept.destination, kept.prefix_len);
    (void)routes_.add(kept);
  }
  return 0;
}

// --- routes ---

int Stack::add_route(Ipv4Address destination, uint8_t prefix_len, std::optional<Ipv4Address> gateway,
                     uint32_t ifindex) {
  Route r{destination, prefix_len, gateway, ifindex, kRouteUp | kRouteStatic, {}};
  if (gateway) {
    const Route* via = routes_.lookup(*gateway);
    // The gateway must be on a directly connected network (RFC 1122 3.3.1.1).
    if (via == nullptr || via->gateway || (via->flags & kRouteLocal) != 0) return ENETUNREACH;
    r.ifindex = via->ifindex;
    r.flags |= kRouteGateway;
  } else if (Private::interface(*this, ifindex) == nullptr) {
    return ENXIO;
  }
  return routes_.add(r);
}

int Stack::delete_route(Ipv4Address destination, uint8_t prefix_len) {
  return routes_.remove(destination, prefix_len);
}

// --- ARP administration ---

int Stack::arp_set_permanent(Ipv4Address a, MacAddress mac) {
  const Route* r = routes_.lookup(a);
  if (r == nullptr || r->gateway || (r->flags & kRouteLocal) != 0) return ENETUNREACH;
  if (mac.is_multicast() || mac == MacAddress{}) return EINVAL;
  ArpEntry* e = arp_.find(r->ifindex, a);
  std::vector<buf::MbufPtr> evicted;
  if (e == nullptr) e = arp_.create(r->ifindex, a, env_.clock().now(), &evicted);
  counters_.arp.held_packets_dropped += evicted.size();
  if (e == nullptr) return ENOSPC;
  e->mac = mac;
  e->state = ArpState::permanent;
  net::Ifnet* ifp = Private::interface(*this, r->ifindex);
  for (buf::MbufPtr& m : arp_.take_held(*e))
    if (ifp != nullptr) (void)Private::ether_output(*this, *ifp, std::move(m), mac, wire::kEthertypeIpv4);
  return 0;
}

int Stack::arp_delete(Ipv4Address a) {
  bool found = false;
  for (net::Ifnet* ifp : interfaces_.list()) {
    if (arp_.find(ifp->index(), a) == nullptr) continue;
    found = true;
    counters_.arp.held_packets_dropped += arp_.erase(ifp->index(), a).size();
  }
  return found ? 0 : ESRCH;
}

// --- echo listeners ---

int Stack::listen_echo(uint16_t id, std::function<void(const EchoEvent&)> fn) {
  if (echo_listeners_.count(id) != 0) return EBUSY;
  echo_listeners_[id] = std::move(fn);
  return 0;
}

void Stack::unlisten_echo(uint16_t id) { echo_listeners_.erase(id); }

// --- capture ---

uint64_t Stack::capture_start(uint32_t ifindex, uint32_t snaplen) {
  net::Ifnet* ifp = Private::interface(*this, ifindex);
  if (ifp == nullptr) return 0;
  // LINKTYPE_ETHERNET (1); lo0 carries bare IPv4, LINKTYPE_RAW (101).
  uint32_t link_type = (ifp->flags() & PKTD_IFF_LOOPBACK) != 0 ? 101 : 1;
  uint64_t id = captures_.start(ifindex, snaplen, link_type, env_.clock().now());
  Private::arm_slow_timer(*this);
  return id;
}

void Stack::Private::tap(Stack& s, net::Ifnet& ifp, const buf::Mbuf& m, bool outgoing) {
  if (s.captures_.watching(ifp.index()))
    s.captures_.record(ifp.index(), m, outgoing, s.env_.wall_clock_ns());
}

// --- the slow timer ---

void Stack::Private::arm_slow_timer(Stack& s) {
  if (s.slow_armed_ || s.shutting_down_) return;
  s.slow_armed_ = true;
  s.env_.timer_arm(s.slow_callout_, kSlowTimerMs, slow_timer_callout, &s);
}

void Stack::slow_timer() {
  slow_armed_ = false;
  time::TimePoint now = env_.clock().now();
  Private::arp_timer(*this, now);
  std::vector<buf::MbufPtr> first_fragments;
  reassembly_.expire(now, &first_fragments);  // counted by the reassembler (statistics())
  for (const buf::MbufPtr& m : first_fragments)
    Private::icmp_error(*this, *m, kIcmpTimeExceeded, kTimeExceededReassembly, 0,
                        (m->pkthdr.flags & buf::kPktLinkGroup) != 0);
  captures_.expire_idle(now, config_.capture_idle_timeout);
  if (arp_.size() != 0 || reassembly_.queues() != 0 || !captures_.empty())
    Private::arm_slow_timer(*this);
}

}  // namespace pktd::inet
