// The TCP layer: demultiplexing (RFC 9293 3.10.7), segments for no connection, timers, and the
// owner's side of every connection.
#include "transport/tcp/layer.h"

#include <algorithm>
#include <cerrno>

#include "wire/endian.h"

namespace pktd::tcp {

namespace {
// The MSS to announce: the route's MTU less the IPv4 and TCP headers (RFC 9293 3.7.1), capped by
// TCP_MAXSEG.
std::uint16_t mss_for(std::uint16_t mtu, std::uint16_t user_mss) {
  std::uint16_t mss = static_cast<std::uint16_t>(mtu > 40 + 536 ? mtu - 40 : 536);
  if (user_mss != 0 && user_mss < mss) mss = user_mss;
  return mss;
}
}  // namespace

struct TcpLayer::Private {
  // Every entry point counts itself so that connections that reached CLOSED are forgotten only
  // once nothing up the stack is still inside one of them.
  struct Entry {
    explicit Entry(TcpLayer& l) : layer(l) { ++layer.depth_; }
    ~Entry() {
      if (--layer.depth_ == 0) layer.closing_.clear();
    }
    TcpLayer& layer;
  };

  static void notify(TcpLayer& l, Connection& c) {
    if (l.on_connection_event) l.on_connection_event(c);
  }

  // A burst is mostly one connection's segments back to back: only a change of connection adds
  // an entry (a connection listed twice is only told twice).
  static void hold_for_batch_end(TcpLayer& l, std::shared_ptr<Connection> c) {
    if (l.batched_.empty() || l.batched_.back() != c) l.batched_.push_back(std::move(c));
  }

  // RFC 9293 3.10.7.1: a segment for no connection gets a RST (unless it is one).
  static void reset_for(TcpLayer& l, wire::Ipv4Address src, wire::Ipv4Address dst, const wire::TcpView& v) {
    ++l.counters_.no_socket;
    const wire::TcpFlags f = v.flags();
    if (f.rst) return;
    wire::TcpSegment s;
    s.source_port = v.destination_port();
    s.destination_port = v.source_port();
    s.flags.rst = true;
    if (f.ack) {
      s.sequence_number = v.acknowledgment_number();  // <SEQ=SEG.ACK><CTL=RST>
    } else {
      // <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>
      const auto len = static_cast<std::uint32_t>(v.payload().size()) + (f.syn ? 1U : 0U) + (f.fin ? 1U : 0U);
      s.acknowledgment_number = v.sequence_number() + len;
      s.flags.ack = true;
    }
    ++l.counters_.resets_sent;
    ++l.counters_.segments_sent;
    l.host_.transmit(dst, src, s, 0, 0);
  }

  static bool overlaps(wire::Ipv4Address a, wire::Ipv4Address b) {
    return a.value == 0 || b.value == 0 || a.value == b.value;
  }

  // Linux's sharing rules (inet_csk_bind_conflict): two sockets on one port and overlapping
  // addresses may coexist when both set SO_REUSEPORT under one owner, or both set SO_REUSEADDR and
  // the existing one is not listening.
  static bool conflicts(const Binding& existing, const Binding& wanted) {
    if (!overlaps(existing.address, wanted.address)) return false;
    if (existing.reuse_port && wanted.reuse_port && existing.owner == wanted.owner) return false;
    if (existing.reuse_address && wanted.reuse_address && !existing.listening) return false;
    return true;
  }

  template <typename Fn>
  static void for_each_binding(TcpLayer& l, std::uint16_t port, Fn&& fn) {
    auto [first, last] = l.bindings_.equal_range(port);
    for (auto it = first; it != last;) {
      auto b = it->second.lock();
      if (!b) {
        it = l.bindings_.erase(it);
        continue;
      }
      fn(*b);
      ++it;
    }
  }

  static bool port_free_for(TcpLayer& l, std::uint16_t port, const Binding& wanted) {
    bool free = true;
    for_each_binding(l, port, [&](const Binding& b) {
      if (conflicts(b, wanted)) free = false;
    });
    return free;
  }

  // A port for connect: no binding on it but other connections' ephemeral ones, and the
  // four-tuple unused (connections to different peers share an ephemeral port, as on Linux).
  static bool port_usable_for_connect(TcpLayer& l, std::uint16_t port, const Endpoints& e) {
    bool usable = true;
    for_each_binding(l, port, [&](const Binding& b) {
      if (!b.ephemeral && overlaps(b.address, e.local)) usable = false;
    });
    if (!usable) return false;
    Endpoints probe = e;
    probe.local_port = port;
    return !l.connections_.contains(key_of(probe));
  }

  // RFC 6056 3.3.4 (Algorithm 4) through the layer's PortSelector.
  template <typename Usable>
  static std::optional<std::uint16_t> pick_port(TcpLayer& l, const Endpoints& e, Usable&& usable) {
    auto port = l.ports_.pick(e.local, e.remote, e.remote_port, usable);
    if (!port) ++l.counters_.ports_exhausted;
    return port;
  }

  static std::shared_ptr<Binding> add_binding(TcpLayer& l, const Binding& b) {
    auto shared = std::make_shared<Binding>(b);
    l.bindings_.emplace(b.port, shared);
    return shared;
  }

  // The listener for a SYN to dst:port: one bound to dst itself before one bound to every
  // address; within a SO_REUSEPORT group, one chosen by the peer's address and port.
  static std::shared_ptr<Listener> find_listener(TcpLayer& l, wire::Ipv4Address dst, std::uint16_t port,
                                                 wire::Ipv4Address src, std::uint16_t sport) {
    auto it = l.listeners_.find(port);
    if (it == l.listeners_.end()) return nullptr;
    std::vector<std::shared_ptr<Listener>> exact, wildcard;
    auto& list = it->second;
    for (auto w = list.begin(); w != list.end();) {
      auto li = w->lock();
      if (!li || li->closed_) {
        w = list.erase(w);
        continue;
      }
      if (li->binding().address == dst) exact.push_back(li);
      else if (li->binding().address.value == 0) wildcard.push_back(li);
      ++w;
    }
    if (list.empty()) l.listeners_.erase(it);
    auto& group = exact.empty() ? wildcard : exact;
    if (group.empty()) return nullptr;
    if (group.size() == 1) return group.front();
    std::byte input[6];
    wire::store_be32(input, 0, src.value);
    wire::store_be16(input, 4, sport);
    return group[siphash24(l.ports_.key(), input) % group.size()];
  }

  static void listen_input(TcpLayer& l, Listener& li, wire::Ipv4Address src, wire::Ipv4Address dst,
                           const wire::TcpView& v, const SegmentIn& seg, time::TimePoint now) {
    // RFC 9293 3.10.7.2: RST ignored; an ACK gets a RST; a SYN opens.
    if (seg.flags.rst) return;
    const Endpoints e{dst, v.destination_port(), src, v.source_port()};
    if (seg.flags.ack) {
      // The last ACK of a handshake we answered with a cookie, or a stray: RST.
      // Cookies are checked only shortly after a SYN queue overflowed (as Linux), so that a
      // blind attacker cannot try 2^28 ACKs against a listener that never sent one.
      const bool cookies_recent = l.last_cookie_sent_ && now - *l.last_cookie_sent_ <= std::chrono::minutes(2);
      if (!(l.config_.syncookies && cookies_recent && !seg.flags.syn && !seg.flags.fin &&
            cookie_ack(l, li, e, seg, now)))
        reset_for(l, src, dst, v);
      return;
    }
    if (!seg.flags.syn) return;
    const auto backlog = static_cast<std::size_t>(li.backlog_);
    if (li.accept_queue_.size() >= backlog) {
      ++l.counters_.listen_overflows;  // Linux drops the SYN while the accept queue is full
      ++l.counters_.listen_drops;
      return;
    }
    std::uint16_t mtu = 1500;
    wire::Ipv4Address source;
    if (l.host_.route(src, &source, &mtu) != 0) return;
    ConnectionConfig config = li.child_config;
    config.mss = mss_for(mtu, config.user_mss);
    if (li.syn_queue_ >= backlog || li.syn_queue_ >= l.config_.max_syn_backlog) {
      ++l.counters_.syn_queue_full;
      if (l.config_.syncookies) send_cookie(l, e, seg, config, now);
      else ++l.counters_.listen_drops;
      return;
    }
    auto c = std::make_shared<Connection>(l, e, config);
    c->listener_tag = &li;
    l.connections_[key_of(e)] = c;
    l.connection_bindings_[c.get()] = child_binding(l, li, dst);
    ++li.syn_queue_;
    c->accept_syn(seg, l.isn_.initial_sequence(e, now), now);
  }

  static std::shared_ptr<Binding> child_binding(TcpLayer& l, const Listener& li, wire::Ipv4Address dst) {
    Binding child = *li.binding_;
    child.address = dst;
    child.listening = false;
    return add_binding(l, child);
  }

  // RFC 4987 3.6: the SYN queue is full, so answer without keeping state; the cookie in our ISN
  // (and the peer's options in our TSval) come back in the handshake's last ACK.
  static void send_cookie(TcpLayer& l, const Endpoints& e, const SegmentIn& syn, const ConnectionConfig& config,
                          time::TimePoint now) {
    SynCookies::Request r;
    r.endpoints = e;
    r.peer_isn = syn.seq;
    r.peer_mss = std::min<std::uint16_t>(syn.options.mss.value_or(536), config.mss);
    r.peer_wscale = syn.options.window_scale;
    r.sack_permitted = syn.options.sack_permitted;
    const bool timestamps = config.timestamps && syn.options.timestamps.has_value();
    if (timestamps) r.tsval_now = Connection::cookie_timestamp(now);
    const SynCookies::Issued issued = l.cookies_.make(r, now);
    wire::TcpSegment s;
    s.source_port = e.local_port;
    s.destination_port = e.remote_port;
    s.sequence_number = issued.isn.value();
    s.acknowledgment_number = (syn.seq + 1).value();
    s.flags.syn = true;
    s.flags.ack = true;
    s.window = static_cast<std::uint16_t>(std::min<std::size_t>(config.receive_buffer, 65535));
    s.options.mss = config.mss;
    if (issued.options_recoverable) {
      if (config.window_scaling && syn.options.window_scale) s.options.window_scale = Connection::shift_for(config);
      if (config.sack && syn.options.sack_permitted) s.options.sack_permitted = true;
    }
    if (timestamps && issued.tsval) s.options.timestamps = wire::TcpTimestamps{*issued.tsval, syn.options.timestamps->value};
    ++l.counters_.cookies_sent;
    l.last_cookie_sent_ = now;
    ++l.counters_.segments_sent;
    l.host_.transmit(e.local, e.remote, s, config.ttl, config.tos);
  }

  static bool cookie_ack(TcpLayer& l, Listener& li, const Endpoints& e, const SegmentIn& ack, time::TimePoint now) {
    std::optional<std::uint32_t> tsecr;
    if (ack.options.timestamps) tsecr = ack.options.timestamps->echo_reply;
    auto accepted = l.cookies_.check(e, ack.seq - 1, ack.ack - 1, tsecr, now);
    if (!accepted) {
      ++l.counters_.cookies_failed;
      return false;
    }
    if (li.accept_queue_.size() >= static_cast<std::size_t>(li.backlog_)) {
      ++l.counters_.listen_overflows;  // still full: the peer will retransmit (Linux drops too)
      ++l.counters_.listen_drops;
      return true;
    }
    std::uint16_t mtu = 1500;
    wire::Ipv4Address source;
    if (l.host_.route(e.remote, &source, &mtu) != 0) return true;
    ConnectionConfig config = li.child_config;
    config.mss = mss_for(mtu, config.user_mss);
    if (!accepted->timestamps) config.timestamps = false;
    auto c = std::make_shared<Connection>(l, e, config);
    l.connections_[key_of(e)] = c;
    l.connection_bindings_[c.get()] = child_binding(l, li, e.local);
    ++l.counters_.cookies_accepted;
    c->accept_cookie(ack, ack.ack - 1, accepted->mss, accepted->wscale, accepted->sack_permitted, now);
    if (c->state() != State::closed) {
      li.accept_queue_.push_back(c);
      if (li.on_acceptable) li.on_acceptable();
    }
    return true;
  }
};

TcpLayer::TcpLayer(TcpHost& host, TcpConfig config)
    : host_(host),
      config_(std::move(config)),
      challenge_acks_(ChallengeAckConfig{config_.challenge_ack_limit, std::chrono::seconds(1)}) {
  // The configuration is fixed from here on (config() is const): the range is set once.
  (void)ports_.set_range(PortRange{config_.ephemeral_first, config_.ephemeral_last});
}

TcpLayer::~TcpLayer() {
  for (auto& [port, list] : listeners_)
    for (auto& w : list)
      if (auto li = w.lock()) li->layer_ = nullptr;
}

TcpLayer::Key TcpLayer::key_of(const Endpoints& e) {
  return Key{e.local.value, e.remote.value, e.local_port, e.remote_port};
}

void TcpLayer::input(wire::Ipv4Address src, wire::Ipv4Address dst, std::span<const std::byte> bytes,
                     time::TimePoint now) {
  Private::Entry entry(*this);
  ++counters_.segments_received;
  auto view = wire::TcpView::parse(bytes, src, dst);
  if (!view) {
    switch (view.error()) {
      case wire::ParseError::bad_checksum: ++counters_.bad_checksum; break;
      case wire::ParseError::bad_data_offset: ++counters_.bad_offset; break;
      case wire::ParseError::bad_option: ++counters_.bad_option; break;
      default: ++counters_.truncated; break;
    }
    return;
  }
  auto options = wire::TcpOptions::parse(view->options());
  if (!options) {
    ++counters_.bad_option;
    return;
  }
  const SegmentIn seg = SegmentIn::from(*view, *options);
  const Endpoints e{dst, view->destination_port(), src, view->source_port()};
  if (auto it = connections_.find(key_of(e)); it != connections_.end()) {
    std::shared_ptr<Connection> c = it->second;
    // RFC 1122 4.2.2.13 / RFC 6191: a SYN beyond a TIME-WAIT connection's sequence space opens a
    // new incarnation of the pair.
    if (c->state() == State::time_wait && seg.flags.syn && !seg.flags.ack && !seg.flags.rst &&
        seg.seq > c->rcv_nxt()) {
      ++counters_.time_wait_recycled;
      c->abort(now);  // TIME-WAIT: nothing is sent, the pair is released
    } else {
      c->segment_arrives(seg, now);
      if (batching_) Private::hold_for_batch_end(*this, std::move(c));
      else Private::notify(*this, *c);
      return;
    }
  }
  if (auto li = Private::find_listener(*this, dst, view->destination_port(), src, view->source_port())) {
    Private::listen_input(*this, *li, src, dst, *view, seg, now);
    return;
  }
  Private::reset_for(*this, src, dst, *view);
}

void TcpLayer::icmp_error(std::span<const std::byte> quoted, int error, std::uint16_t mtu, time::TimePoint now) {
  Private::Entry entry(*this);
  if (quoted.size() < 20) return;
  const std::size_t ihl = std::size_t{wire::load_u8(quoted, 0) & 0x0FU} * 4;
  if (ihl < 20 || quoted.size() < ihl + 8 || wire::load_u8(quoted, 9) != 6) return;
  Endpoints e{{wire::load_be32(quoted, 12)}, wire::load_be16(quoted, ihl),
              {wire::load_be32(quoted, 16)}, wire::load_be16(quoted, ihl + 2)};
  auto it = connections_.find(key_of(e));
  if (it == connections_.end()) {
    ++counters_.icmp_ignored;
    return;
  }
  std::shared_ptr<Connection> c = it->second;
  // RFC 5927 4.1: believe only an error quoting a sequence number we have in flight.
  const Seq quoted_seq(wire::load_be32(quoted, ihl + 4));
  if (quoted_seq < c->snd_una() || quoted_seq > c->snd_nxt()) {
    ++counters_.icmp_ignored;
    return;
  }
  if (mtu != 0) c->path_mtu(mtu, now);
  else c->icmp_unreachable(error, now);
  Private::notify(*this, *c);
}

int TcpLayer::bind(wire::Ipv4Address address, std::uint16_t port, const Binding& options,
                   std::shared_ptr<Binding>* out) {
  Binding wanted = options;
  wanted.address = address;
  wanted.listening = false;
  wanted.ephemeral = false;
  if (port == 0) {
    // Linux's bind to port 0: a port nobody holds at all.
    Endpoints e{address, 0, {}, 0};
    auto chosen = Private::pick_port(*this, e, [&](std::uint16_t p) {
      bool held = false;
      Private::for_each_binding(*this, p, [&](const Binding&) { held = true; });
      return !held;
    });
    if (!chosen) return EADDRINUSE;
    port = *chosen;
  } else if (!Private::port_free_for(*this, port, wanted)) {
    return EADDRINUSE;
  }
  wanted.port = port;
  *out = Private::add_binding(*this, wanted);
  return 0;
}

void TcpLayer::unbind(const std::shared_ptr<Binding>& binding) {
  auto [first, last] = bindings_.equal_range(binding->port);
  for (auto it = first; it != last; ++it) {
    if (it->second.lock() == binding) {
      bindings_.erase(it);
      return;
    }
  }
}

int TcpLayer::listen(const std::shared_ptr<Binding>& binding, int backlog, std::shared_ptr<Listener>* out) {
  // Two sockets may share a port by SO_REUSEADDR, but only one may listen on it (unless both
  // are one owner's SO_REUSEPORT group).
  bool taken = false;
  Private::for_each_binding(*this, binding->port, [&](const Binding& b) {
    if (&b == binding.get() || !b.listening) return;
    if (!Private::overlaps(b.address, binding->address)) return;
    if (b.reuse_port && binding->reuse_port && b.owner == binding->owner) return;
    taken = true;
  });
  if (taken) return EADDRINUSE;
  binding->listening = true;
  auto li = std::make_shared<Listener>();
  li->layer_ = this;
  li->binding_ = binding;
  li->child_config = config_.connection;
  li->set_backlog(backlog);
  listeners_[binding->port].push_back(li);
  *out = li;
  return 0;
}

int TcpLayer::connect(std::shared_ptr<Binding> binding, wire::Ipv4Address remote, std::uint16_t remote_port,
                      const ConnectionConfig& config, time::TimePoint now, std::shared_ptr<Connection>* out) {
  Private::Entry entry(*this);
  wire::Ipv4Address source;
  std::uint16_t mtu = 1500;
  if (int err = host_.route(remote, &source, &mtu)) return err;
  Endpoints e{source, 0, remote, remote_port};
  if (binding && binding->address.value != 0) e.local = binding->address;
  if (binding && binding->port != 0) {
    e.local_port = binding->port;
    if (connections_.contains(key_of(e))) return EADDRNOTAVAIL;  // Linux: the four-tuple is taken
  } else {
    auto port = Private::pick_port(*this, e, [&](std::uint16_t p) {
      return Private::port_usable_for_connect(*this, p, e);
    });
    if (!port) return EADDRNOTAVAIL;
    e.local_port = *port;
    Binding b = binding ? *binding : Binding{};
    b.address = e.local;
    b.port = *port;
    b.ephemeral = true;
    if (binding) unbind(binding);
    binding = Private::add_binding(*this, b);
  }
  ConnectionConfig c = config;
  c.mss = mss_for(mtu, c.user_mss);
  auto conn = std::make_shared<Connection>(*this, e, c);
  connections_[key_of(e)] = conn;
  connection_bindings_[conn.get()] = binding;
  conn->connect(isn_.initial_sequence(e, now), now);
  *out = conn;
  return 0;
}

void TcpLayer::run_timers(time::TimePoint now) {
  Private::Entry entry(*this);
  woken_for_.reset();
  while (!timers_.empty() && timers_.top().when <= now) {
    std::shared_ptr<Connection> c = timers_.top().connection.lock();
    timers_.pop();
    if (!c || c->state() == State::closed) continue;
    c->on_timer(now);
    Private::notify(*this, *c);
  }
  while (!timers_.empty() && timers_.top().connection.expired()) timers_.pop();
  if (!timers_.empty()) {
    woken_for_ = timers_.top().when;
    host_.wake_at(*woken_for_);
  }
}

void TcpLayer::for_each_connection(const std::function<void(const Connection&)>& fn) const {
  for (const auto& [key, c] : connections_) fn(*c);
}

void TcpLayer::for_each_listener(const std::function<void(const Listener&)>& fn) const {
  for (const auto& [port, list] : listeners_)
    for (const auto& w : list)
      if (auto li = w.lock(); li && !li->closed_) fn(*li);
}

void TcpLayer::transmit(Connection& c, const wire::TcpSegment& segment) {
  host_.transmit(c.endpoints().local, c.endpoints().remote, segment, c.config().ttl, c.config().tos);
}

void TcpLayer::schedule(Connection& c, time::TimePoint when) {
  auto it = connections_.find(key_of(c.endpoints()));
  if (it == connections_.end() || it->second.get() != &c) return;
  timers_.push({when, it->second});
  if (!woken_for_ || when < *woken_for_) {
    woken_for_ = when;
    host_.wake_at(when);
  }
}

void TcpLayer::state_changed(Connection& c, State from) {
  auto* li = static_cast<Listener*>(c.listener_tag);
  if (from == State::syn_received && li != nullptr && c.state() != State::syn_received) {
    // It leaves the SYN queue: into the accept queue when it is established.
    if (li->syn_queue_ > 0) --li->syn_queue_;
    c.listener_tag = nullptr;
    auto it = connections_.find(key_of(c.endpoints()));
    if (c.state() != State::closed && !li->closed_ && it != connections_.end()) {
      li->accept_queue_.push_back(it->second);
      if (li->on_acceptable) li->on_acceptable();
    }
  }
  if (c.state() != State::closed) return;
  auto it = connections_.find(key_of(c.endpoints()));
  if (it == connections_.end() || it->second.get() != &c) return;
  closing_.push_back(it->second);  // alive until the outermost call returns
  connections_.erase(it);
  if (auto b = connection_bindings_.find(&c); b != connection_bindings_.end()) {
    // A binding only this connection held (an accepted one's, an ephemeral port) goes with it.
    std::shared_ptr<Binding> binding = std::move(b->second);
    connection_bindings_.erase(b);
    if (binding.use_count() == 1) unbind(binding);
  }
}

bool TcpLayer::challenge_ack_allowed(time::TimePoint now) { return challenge_acks_.allow(now); }

bool TcpLayer::defer_ack(Connection&) { return batching_; }

void TcpLayer::end_input_batch(time::TimePoint now) {
  Private::Entry entry(*this);
  batching_ = false;
  std::vector<std::shared_ptr<Connection>> batch;
  batch.swap(batched_);
  for (const std::shared_ptr<Connection>& c : batch) {
    // The socket first: the application taking the bytes opens the window the ACK announces.
    Private::notify(*this, *c);
    if (c->state() != State::closed) c->send_deferred_ack(now);
  }
}

// --- Listener ---

void Listener::set_backlog(int backlog) {
  // Linux: listen's backlog is clamped to somaxconn; a negative or zero one means... at least 1.
  const int max = layer_ != nullptr ? static_cast<int>(layer_->config_.somaxconn) : 4096;
  backlog_ = std::clamp(backlog, 1, max);
}

std::shared_ptr<Connection> Listener::accept() {
  if (accept_queue_.empty()) return nullptr;
  auto c = std::move(accept_queue_.front());
  accept_queue_.pop_front();
  return c;
}

void Listener::close(time::TimePoint now) {
  if (closed_) return;
  closed_ = true;
  binding_->listening = false;
  // RFC 9293 3.10.4 (CLOSE in LISTEN) and Linux: connections not accepted are reset.
  for (auto& c : accept_queue_) c->abort(now);
  accept_queue_.clear();
  if (layer_ == nullptr) return;
  std::vector<std::shared_ptr<Connection>> embryonic;
  for (const auto& [key, c] : layer_->connections_)
    if (c->listener_tag == this) embryonic.push_back(c);
  for (auto& c : embryonic) {
    c->listener_tag = nullptr;
    c->abort(now);
  }
}

}  // namespace pktd::tcp
