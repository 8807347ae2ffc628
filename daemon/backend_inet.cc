// The control socket's IPv4 requests, over inet::Stack. Stack context, on a pseudo-thread: ping,
// udp_receive and capture_read sleep there (tsleep) until their event or timeout.
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>

#include "buf/mbuf.h"
#include "ctl/inet_text.h"
#include "daemon/backend.h"

namespace pktd::daemon {

using inet::Ipv4Address;

namespace {

ctl::Error error(int code, const std::string& message) { return {code, message}; }

// Text forms are ctl/inet_text.h's (the same checks pkt makes before it asks).
std::optional<Ipv4Address> parse_ipv4(const std::string& text) {
  auto a = ctl::parse_ipv4(text);
  if (!a) return std::nullopt;
  return Ipv4Address{*a};
}

std::string text(Ipv4Address a) { return ctl::format_ipv4(a.value); }

std::string text(inet::UdpEndpoint e) {
  return (e.address.value == 0 ? std::string("*") : text(e.address)) + ":" +
         (e.port == 0 ? std::string("*") : std::to_string(e.port));
}

struct Prefix {
  Ipv4Address address;
  uint8_t len = 32;
};

// "A.B.C.D/LEN", "A.B.C.D" (a host: /32) or "default" (0.0.0.0/0).
std::optional<Prefix> parse_prefix(const std::string& word) {
  if (word == "default") return Prefix{{}, 0};
  if (word.find('/') == std::string::npos) {
    auto host = parse_ipv4(word);
    if (!host) return std::nullopt;
    return Prefix{*host, 32};
  }
  auto p = ctl::parse_prefix(word);
  if (!p) return std::nullopt;
  return Prefix{{p->address}, static_cast<uint8_t>(p->length)};
}

std::optional<wire::MacAddress> parse_mac(const std::string& word) {
  auto normal = ctl::normalize_mac(word);  // "02:70:00:00:00:a2"
  if (!normal) return std::nullopt;
  wire::MacAddress mac;
  for (size_t i = 0; i < mac.octets.size(); ++i)
    mac.octets[i] = static_cast<uint8_t>(std::stoul(normal->substr(i * 3, 2), nullptr, 16));
  return mac;
}

std::string prefix_text(Ipv4Address a, uint8_t len) {
  if (len == 0) return "default";
  if (len == 32) return text(a);
  return text(a) + "/" + std::to_string(len);
}

uint32_t remaining_ms(std::chrono::steady_clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() <= 0 ? 0 : static_cast<uint32_t>(left.count());
}

const ctl::Error kNoStack{ENETDOWN, "the IPv4 stack is not running"};

// A reply is one control-socket message and must fit the socket's send buffer (ctl/backend.h):
// reads stop adding data past this much and leave the rest for the next read.
constexpr size_t kMaxReplyData = 64 * 1024;  // base64 makes 4/3 of it; one more item may follow

}  // namespace

void Backend::describe_inet(ctl::InterfaceInfo& info) {
  if (stack_ == nullptr) return;
  for (const inet::IfAddress& a : stack_->addresses(info.index)) {
    ctl::InterfaceInfo::Inet out{text(a.address), a.prefix_len, ""};
    if (auto b = a.broadcast(); b && (info.flags & PKTD_IFF_LOOPBACK) == 0) out.broadcast = text(*b);
    info.inet.push_back(out);
  }
}

ctl::Error Backend::add_address(const std::string& name, const std::string& cidr, bool alias) {
  if (stack_ == nullptr) return kNoStack;
  net::Ifnet* ifp = ifs_.find(name);
  if (ifp == nullptr) return error(ENXIO, name + ": no such interface");
  auto p = parse_prefix(cidr);
  if (!p || cidr == "default" || cidr.find('/') == std::string::npos)
    return error(EINVAL, cidr + ": not an address with a prefix length (A.B.C.D/LEN)");
  int err = stack_->add_address(ifp->index(), {p->address, p->len}, alias);
  if (err == EEXIST) return error(err, cidr + ": address already in use on this instance");
  if (err == EINVAL) return error(err, cidr + ": not a usable host address");
  if (err != 0) return error(err, name + ": " + std::strerror(err));
  return {};
}

ctl::Error Backend::delete_address(const std::string& name, const std::string& address) {
  if (stack_ == nullptr) return kNoStack;
  net::Ifnet* ifp = ifs_.find(name);
  if (ifp == nullptr) return error(ENXIO, name + ": no such interface");
  auto p = parse_prefix(address);
  if (!p) return error(EINVAL, address + ": not an IPv4 address");
  if (stack_->delete_address(ifp->index(), p->address) != 0)
    return error(EADDRNOTAVAIL, name + ": has no address " + text(p->address));
  return {};
}

namespace {
ctl::RouteInfo describe_route(const inet::Route& r, net::Interfaces& ifs) {
  ctl::RouteInfo out;
  out.destination = prefix_text(r.destination, r.prefix_len);
  out.gateway = r.gateway ? text(*r.gateway) : "link#" + std::to_string(r.ifindex);
  out.flags = inet::route_flags_text(r.flags);
  net::Ifnet* ifp = ifs.find(r.ifindex);
  out.interface = ifp != nullptr ? ifp->name() : "?";
  out.mtu = ifp != nullptr ? ifp->mtu() : 0;
  out.use = r.use;
  return out;
}
}  // namespace

ctl::Result<std::vector<ctl::RouteInfo>> Backend::routes() {
  if (stack_ == nullptr) return {{}, kNoStack};
  ctl::Result<std::vector<ctl::RouteInfo>> r;
  for (const inet::Route& route : stack_->routes().routes()) r.value.push_back(describe_route(route, ifs_));
  return r;
}

ctl::Error Backend::add_route(const std::string& destination, const std::string& gateway,
                              const std::string& interface) {
  if (stack_ == nullptr) return kNoStack;
  auto dest = parse_prefix(destination);
  if (!dest) return error(EINVAL, destination + ": not a destination (A.B.C.D/LEN, A.B.C.D or default)");
  if ((dest->address.value & ~inet::prefix_mask(dest->len)) != 0)
    return error(EINVAL, destination + ": host bits set for /" + std::to_string(dest->len));
  std::optional<Ipv4Address> gw;
  if (!gateway.empty()) {
    gw = parse_ipv4(gateway);
    if (!gw) return error(EINVAL, gateway + ": not an IPv4 address");
  }
  uint32_t ifindex = 0;
  if (!interface.empty()) {
    net::Ifnet* ifp = ifs_.find(interface);
    if (ifp == nullptr) return error(ENXIO, interface + ": no such interface");
    ifindex = ifp->index();
  }
  if (!gw && ifindex == 0) return error(EINVAL, "a route needs a gateway or an interface");
  int err = stack_->add_route(dest->address, dest->len, gw, ifindex);
  if (err == EEXIST) return error(err, destination + ": route already in table");
  if (err == ENETUNREACH) return error(err, gateway + ": gateway not on a connected network");
  if (err != 0) return error(err, destination + ": " + std::strerror(err));
  return {};
}

ctl::Error Backend::delete_route(const std::string& destination) {
  if (stack_ == nullptr) return kNoStack;
  auto dest = parse_prefix(destination);
  if (!dest) return error(EINVAL, destination + ": not a destination");
  const inet::Route* r = stack_->routes().find(dest->address, dest->len);
  if (r == nullptr) return error(ESRCH, destination + ": not in table");
  if ((r->flags & inet::kRouteStatic) == 0)
    return error(EPERM, destination + ": made from an interface address; remove the address instead");
  (void)stack_->delete_route(dest->address, dest->len);
  return {};
}

ctl::Result<ctl::RouteInfo> Backend::get_route(const std::string& address) {
  if (stack_ == nullptr) return {{}, kNoStack};
  auto a = parse_ipv4(address);
  if (!a) return {{}, error(EINVAL, address + ": not an IPv4 address")};
  const inet::Route* r = stack_->routes().lookup(*a);
  if (r == nullptr) return {{}, error(ENETUNREACH, address + ": network unreachable (no route)")};
  return {describe_route(*r, ifs_), {}};
}

ctl::Result<std::vector<ctl::ArpInfo>> Backend::arp_entries() {
  if (stack_ == nullptr) return {{}, kNoStack};
  ctl::Result<std::vector<ctl::ArpInfo>> r;
  time::TimePoint now = rt_.clock().now();
  stack_->arp_cache().for_each([&](const inet::ArpEntry& e) {
    ctl::ArpInfo info;
    info.address = text(e.address);
    if (e.state != inet::ArpState::incomplete) info.mac = net::format_mac(e.mac.octets);
    net::Ifnet* ifp = ifs_.find(e.ifindex);
    info.interface = ifp != nullptr ? ifp->name() : "?";
    info.state = inet::to_string(e.state);
    if (e.state == inet::ArpState::permanent) info.expires_in_s = -1;
    else info.expires_in_s = std::max<int64_t>(0, std::chrono::duration_cast<std::chrono::seconds>(e.deadline - now).count());
    r.value.push_back(info);
  });
  return r;
}

ctl::Error Backend::arp_delete(const std::string& address) {
  if (stack_ == nullptr) return kNoStack;
  auto a = parse_ipv4(address);
  if (!a) return error(EINVAL, address + ": not an IPv4 address");
  if (stack_->arp_delete(*a) != 0) return error(ESRCH, address + ": no ARP entry");
  return {};
}

ctl::Error Backend::arp_set(const std::string& address, const std::string& mac) {
  if (stack_ == nullptr) return kNoStack;
  auto a = parse_ipv4(address);
  if (!a) return error(EINVAL, address + ": not an IPv4 address");
  auto m = parse_mac(mac);
  if (!m) return error(EINVAL, mac + ": not a MAC address (xx:xx:xx:xx:xx:xx)");
  int err = stack_->arp_set_permanent(*a, *m);
  if (err == ENETUNREACH) return error(err, address + ": not on a connected network");
  if (err == EINVAL) return error(err, mac + ": a group or zero MAC cannot be a host's");
  if (err != 0) return error(err, address + ": " + std::strerror(err));
  return {};
}

ctl::Result<std::map<std::string, std::map<std::string, uint64_t>>> Backend::protocol_stats() {
  if (stack_ == nullptr) return {{}, kNoStack};
  auto stats = stack_->statistics();
  if (socket_service_ != nullptr) stats["sockets"] = socket_service_->statistics();
  return {stats, {}};
}

ctl::Result<std::map<std::string, uint64_t>> Backend::buffer_stats() {
  buf::PoolStats s = buf::Pool::instance().stats();
  return {{{"mbufs_in_use", s.mbufs_in_use}, {"mbufs_peak", s.mbufs_peak}, {"mbufs_limit", s.mbufs_limit},
           {"clusters_in_use", s.clusters_in_use}, {"clusters_peak", s.clusters_peak},
           {"clusters_limit", s.clusters_limit}, {"mclbytes", s.mclbytes},
           {"denied_nowait", s.fail_nowait_exhausted}, {"waitok_sleeps", s.waitok_sleeps},
           {"denied_waitok_refused", s.fail_waitok_refused},
           {"denied_waitok_interrupted", s.fail_waitok_interrupted},
           {"denied_untracked_thread", s.fail_untracked_thread}},
          {}};
}

// TCP's rows as netstat prints them: listeners with their accept queue as Recv-Q (as Linux's
// /proc/net/tcp), every connection (TIME_WAIT included) with what the connection holds plus what
// its socket's pair holds: unread by the application (Recv-Q), not yet taken from it (Send-Q).
void Backend::tcp_sockets(std::vector<ctl::SocketInfo>* out) {
  tcp::TcpLayer& layer = stack_->tcp();
  layer.for_each_listener([&](const tcp::Listener& l) {
    out->push_back({"tcp", text(inet::UdpEndpoint{l.binding().address, l.binding().port}), "*:*",
                    "LISTEN", l.accept_queue_size(), 0});
  });
  layer.for_each_connection([&](const tcp::Connection& c) {
    std::pair<size_t, size_t> pair{0, 0};
    if (socket_service_ != nullptr) pair = socket_service_->stream_queues(c);
    const tcp::Endpoints& e = c.endpoints();
    out->push_back({"tcp", text(inet::UdpEndpoint{e.local, e.local_port}),
                    text(inet::UdpEndpoint{e.remote, e.remote_port}), std::string(tcp::state_name(c.state())),
                    c.received_size() + pair.first, c.send_queue_size() + pair.second});
  });
}

ctl::Result<std::vector<ctl::SocketInfo>> Backend::sockets() {
  if (stack_ == nullptr) return {{}, kNoStack};
  ctl::Result<std::vector<ctl::SocketInfo>> r;
  tcp_sockets(&r.value);
  for (const auto& s : stack_->udp().sockets())
    r.value.push_back({"udp", text(s->local), text(s->remote), "",
                       s->queued_bytes() + (s->held_elsewhere ? s->held_elsewhere() : 0), 0});
  return r;
}

namespace {
const char* icmp_error_text(uint8_t type, uint8_t code) {
  if (type == 3) {
    switch (code) {
      case 0: return "Destination Net Unreachable";
      case 1: return "Destination Host Unreachable";
      case 2: return "Destination Protocol Unreachable";
      case 3: return "Destination Port Unreachable";
      case 4: return "Frag needed and DF set";
      default: return "Destination Unreachable";
    }
  }
  if (type == 11) return code == 0 ? "Time to live exceeded" : "Frag reassembly time exceeded";
  if (type == 12) return "Parameter problem";
  return "ICMP error";
}
}  // namespace

ctl::Result<ctl::PingResult> Backend::ping(const ctl::PingRequest& req) {
  if (stack_ == nullptr) return {{}, kNoStack};
  auto dst = parse_ipv4(req.destination);
  if (!dst) return {{}, error(EINVAL, req.destination + ": not an IPv4 address")};
  struct Wait {
    bool done = false;
    inet::EchoEvent event;
  } wait;
  uint16_t sequence = req.sequence;
  int err = stack_->listen_echo(req.id, [&wait, sequence, this](const inet::EchoEvent& e) {
    if (e.sequence != sequence || wait.done) return;
    wait.event = e;
    wait.done = true;
    rt_.wakeup(&wait);
  });
  if (err != 0) return {{}, error(EBUSY, "ICMP identifier " + std::to_string(req.id) + " is in use")};
  inet::Stack* stack = stack_;
  time::TimePoint sent = rt_.clock().now();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(req.timeout_ms);
  err = stack->send_echo(*dst, req.id, req.sequence, req.size, req.ttl);
  while (err == 0 && !wait.done) {
    uint32_t left = remaining_ms(deadline);
    if (left == 0 || rt_.tsleep(&wait, left) == EINTR) break;
  }
  stack->unlisten_echo(req.id);
  if (err != 0) return {{}, error(err, "ping " + req.destination + ": " + std::strerror(err))};
  ctl::PingResult out;
  if (wait.done) {
    out.from = text(wait.event.from);
    out.ttl = wait.event.ttl;
    out.bytes = static_cast<uint32_t>(wait.event.icmp_bytes);
    out.rtt_ms = std::chrono::duration<double, std::milli>(wait.event.when - sent).count();
    if (wait.event.error) out.icmp_error = icmp_error_text(wait.event.error_type, wait.event.error_code);
    else out.replied = true;
  }
  return {out, {}};
}

ctl::Error Backend::udp_send(uint16_t local_port, const std::string& destination, uint16_t port,
                             const std::string& data) {
  if (stack_ == nullptr) return kNoStack;
  auto dst = parse_ipv4(destination);
  if (!dst) return error(EINVAL, destination + ": not an IPv4 address");
  if (port == 0) return error(EINVAL, "port 0 cannot be sent to");
  auto sock = std::make_shared<inet::UdpSocket>();
  int err = stack_->udp().bind(sock, {{}, local_port});
  if (err != 0) return error(err, "local port " + std::to_string(local_port) + ": " + std::strerror(err));
  err = stack_->udp_output({{}, sock->local.port}, {*dst, port},
                           std::as_bytes(std::span<const char>(data.data(), data.size())));
  stack_->udp().unbind(sock);
  if (err != 0) return error(err, destination + ":" + std::to_string(port) + ": " + std::strerror(err));
  return {};
}

ctl::Result<std::vector<ctl::UdpDatagramInfo>> Backend::udp_receive(uint16_t port, uint32_t count,
                                                                    uint32_t timeout_ms) {
  if (stack_ == nullptr) return {{}, kNoStack};
  if (port == 0) return {{}, error(EINVAL, "port 0 cannot be received on")};
  inet::Stack* stack = stack_;
  auto sock = std::make_shared<inet::UdpSocket>();
  int err = stack->udp().bind(sock, {{}, port});
  if (err != 0) return {{}, error(err, "port " + std::to_string(port) + ": " + std::strerror(err))};
  inet::UdpSocket* raw = sock.get();
  sock->on_readable = [this, raw] { rt_.wakeup(raw); };
  ctl::Result<std::vector<ctl::UdpDatagramInfo>> r;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  size_t data = 0;
  while (r.value.size() < count && data < kMaxReplyData) {
    inet::ReceivedDatagram d;
    if (sock->pop(&d)) {
      data += d.data.size();
      r.value.push_back({text(d.from), text(d.to), std::move(d.data)});
      continue;
    }
    uint32_t left = remaining_ms(deadline);
    if (left == 0 || rt_.tsleep(raw, left) == EINTR) break;
  }
  sock->on_readable = nullptr;
  stack->udp().unbind(sock);
  return r;
}

ctl::Result<uint64_t> Backend::capture_start(const std::string& name, uint32_t snaplen) {
  if (stack_ == nullptr) return {{}, kNoStack};
  net::Ifnet* ifp = ifs_.find(name);
  if (ifp == nullptr) return {{}, error(ENXIO, name + ": no such interface")};
  if (!stack_->captures().on_frame)
    stack_->captures().on_frame = [this](inet::CaptureHub::Session* s) { rt_.wakeup(s); };
  uint64_t id = stack_->capture_start(ifp->index(), snaplen);
  if (id == 0) return {{}, error(EBUSY, "too many capture sessions")};
  return {id, {}};
}

ctl::Result<ctl::CaptureRead> Backend::capture_read(uint64_t session, uint32_t max_frames,
                                                    uint32_t wait_ms) {
  if (stack_ == nullptr) return {{}, kNoStack};
  inet::Stack* stack = stack_;
  inet::CaptureHub::Session* s = stack->captures().find(session);
  if (s == nullptr) return {{}, error(ENOENT, "no capture session " + std::to_string(session))};
  s->last_read = rt_.clock().now();
  if (s->frames.empty() && !s->closed && wait_ms > 0) {
    (void)rt_.tsleep(s, wait_ms);
    s = stack->captures().find(session);  // it may have been stopped meanwhile
    if (s == nullptr) return {{}, error(ENOENT, "capture session " + std::to_string(session) + " ended")};
    s->last_read = rt_.clock().now();  // the idle timeout counts from the end of a read
  }
  ctl::Result<ctl::CaptureRead> r;
  r.value.link_type = s->link_type;
  r.value.closed = s->closed && s->frames.empty();
  r.value.dropped = s->dropped;
  size_t data = 0;
  while (!s->frames.empty() && r.value.frames.size() < max_frames) {
    inet::Frame& f = s->frames.front();
    if (!r.value.frames.empty() && data >= kMaxReplyData) break;
    data += f.data.size();
    s->bytes -= f.data.size() + inet::CaptureHub::kFrameOverhead;
    r.value.frames.push_back({f.time_ns, f.outgoing, f.original_length, std::move(f.data)});
    s->frames.pop_front();
  }
  return r;
}

ctl::Error Backend::capture_stop(uint64_t session) {
  if (stack_ == nullptr) return kNoStack;
  if (stack_->captures().find(session) == nullptr)
    return error(ENOENT, "no capture session " + std::to_string(session));
  stack_->captures().stop(session);
  return {};
}

}  // namespace pktd::daemon
