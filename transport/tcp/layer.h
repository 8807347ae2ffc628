// TCP for one stack: the connections and listeners, which segment goes to which (RFC 9293 3.10.7),
// ports (bind, RFC 6056 ephemeral selection), the SYN queue and cookies, timers, counters.
//
// Pure like the connections it holds: the IP stack below is a TcpHost (send a segment, find a
// route, wake me at a time), time is an argument. inet/tcp.cc glues it to the stack; the socket
// service (sockets/) uses bind/listen/connect and the objects they return.
//
// Lifetimes: the layer owns every connection until it reaches CLOSED (after TIME-WAIT, or a
// reset); a socket holds shared_ptrs to its Connection or Listener and to its Binding. A
// connection the application has closed lives on in the layer (FIN-WAIT, TIME-WAIT) and keeps
// its port, as on Linux.
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <queue>
#include <set>
#include <span>
#include <tuple>
#include <vector>

#include "time/clock.h"
#include "transport/tcp/connection.h"
#include "transport/tcp/counters.h"
#include "base/siphash.h"
#include "transport/tcp/challenge_ack.h"
#include "transport/tcp/isn.h"
#include "transport/tcp/port_selection.h"
#include "transport/tcp/syn_cookies.h"
#include "wire/address.h"

namespace pktd::tcp {

// What the layer needs from the IP stack.
class TcpHost {
 public:
  virtual ~TcpHost() = default;
  // Sends segment from src to dst as one IPv4 datagram (DF set: RFC 1191) with this TTL (0: the
  // stack's default) and TOS. 0 or an errno.
  virtual int transmit(wire::Ipv4Address src, wire::Ipv4Address dst, const wire::TcpSegment& segment,
                       std::uint8_t ttl, std::uint8_t tos) = 0;
  virtual bool is_local_address(wire::Ipv4Address a) = 0;
  // The source address and the MTU of the route to dst: 0, ENETUNREACH or EADDRNOTAVAIL.
  virtual int route(wire::Ipv4Address dst, wire::Ipv4Address* source, std::uint16_t* mtu) = 0;
  // Call run_timers at or after `when`; earlier than any wake-up asked for before.
  virtual void wake_at(time::TimePoint when) = 0;
};

struct TcpConfig {
  std::uint16_t ephemeral_first = 32768, ephemeral_last = 60999;  // ip_local_port_range
  std::uint32_t max_syn_backlog = 1024;                           // tcp_max_syn_backlog
  bool syncookies = true;                                         // tcp_syncookies (1: on overflow)
  std::uint32_t challenge_ack_limit = 1000;                       // tcp_challenge_ack_limit
  std::uint32_t somaxconn = 4096;                                 // net.core.somaxconn
  ConnectionConfig connection;                                    // defaults for new sockets
};

// A local address and port held by a socket (bind), by a listener, or by connections.
struct Binding {
  wire::Ipv4Address address;  // 0: every local address
  std::uint16_t port = 0;
  bool reuse_address = false;  // SO_REUSEADDR
  bool reuse_port = false;     // SO_REUSEPORT
  std::uint32_t owner = 0;     // uid: SO_REUSEPORT groups share one owner (Linux)
  bool listening = false;
  bool ephemeral = false;      // chosen by connect: shared by connections to different peers
};

class TcpLayer;

// A passive OPEN (RFC 9293 3.10.1): the SYN queue (connections in SYN-RECEIVED) and the accept
// queue (ESTABLISHED, not yet accepted), both bounded by the backlog.
class Listener {
 public:
  ~Listener() { close(time::TimePoint{}); }
  [[nodiscard]] const Binding& binding() const { return *binding_; }
  [[nodiscard]] int backlog() const { return backlog_; }
  void set_backlog(int backlog);  // listen() again
  // Called when accept() has something (stack context; may call accept()).
  std::function<void()> on_acceptable;
  // The oldest established connection not yet accepted, or null.
  std::shared_ptr<Connection> accept();
  [[nodiscard]] std::size_t accept_queue_size() const { return accept_queue_.size(); }
  [[nodiscard]] std::size_t syn_queue_size() const { return syn_queue_; }
  // Options children start with (a listening socket's options are inherited, as on Linux).
  ConnectionConfig child_config;
  // Stops listening: queued connections are reset (RFC 9293 3.10.4: CLOSE in LISTEN).
  void close(time::TimePoint now);

 private:
  friend class TcpLayer;
  TcpLayer* layer_ = nullptr;
  std::shared_ptr<Binding> binding_;
  int backlog_ = 0;
  std::size_t syn_queue_ = 0;
  std::deque<std::shared_ptr<Connection>> accept_queue_;
  bool closed_ = false;
};

class TcpLayer final : public ConnectionOwner {
 public:
  TcpLayer(TcpHost& host, TcpConfig config = {});
  ~TcpLayer() override;
  TcpLayer(const TcpLayer&) = delete;
  TcpLayer& operator=(const TcpLayer&) = delete;

  // --- from IP ---
  // segment is the whole IPv4 payload of a datagram from src to dst (dst one of ours).
  void input(wire::Ipv4Address src, wire::Ipv4Address dst, std::span<const std::byte> segment,
             time::TimePoint now);
  // An ICMP destination unreachable or time exceeded quoting one of our segments (the IPv4 header
  // and at least 8 octets). error: the errno it maps to; mtu: the next-hop MTU of fragmentation
  // needed (RFC 1191), else 0.
  void icmp_error(std::span<const std::byte> quoted, int error, std::uint16_t mtu, time::TimePoint now);

  // --- sockets ---
  // bind(): 0, EADDRINUSE (taken under Linux's sharing rules), EADDRNOTAVAIL (no ephemeral port left).
  int bind(wire::Ipv4Address address, std::uint16_t port, const Binding& options,
           std::shared_ptr<Binding>* out);
  // listen() on a bound socket (binding->port != 0). EADDRINUSE if another listener holds it.
  int listen(const std::shared_ptr<Binding>& binding, int backlog, std::shared_ptr<Listener>* out);
  // connect(): binding may be null (an ephemeral port) or one bind() made. The connection is in
  // SYN-SENT when this returns 0; errors: ENETUNREACH, EADDRNOTAVAIL (no source, no port),
  // EADDRINUSE (the four-tuple is taken), ECONNREFUSED is later (the connection's error()).
  int connect(std::shared_ptr<Binding> binding, wire::Ipv4Address remote, std::uint16_t remote_port,
              const ConnectionConfig& config, time::TimePoint now, std::shared_ptr<Connection>* out);
  // Lets go of a binding that neither listens nor connects (a socket closed after bind).
  void unbind(const std::shared_ptr<Binding>& binding);

  // --- input batches ---
  // Segments given to input() between these two calls form one batch (what the stack drained
  // from its input queue at once): each connection's event, and the ACK due every second
  // segment, come once at the end of the batch instead of after every segment. Without a batch,
  // input() reports at once.
  void begin_input_batch() { batching_ = true; }
  void end_input_batch(time::TimePoint now);

  // --- timers ---
  void run_timers(time::TimePoint now);

  // --- observation ---
  [[nodiscard]] const TcpCounters& stats() const { return counters_; }
  [[nodiscard]] const TcpConfig& config() const { return config_; }
  // Tests only (IsnGenerator::fix_for_tests): connections made from here on start at iss.
  void fix_iss_for_tests(Seq iss) { isn_.fix_for_tests(iss); }
  void for_each_connection(const std::function<void(const Connection&)>& fn) const;
  void for_each_listener(const std::function<void(const Listener&)>& fn) const;
  [[nodiscard]] std::size_t connection_count() const { return connections_.size(); }
  // Entries the port has in the binding table (tests: nothing may pile up).
  [[nodiscard]] std::size_t binding_count(std::uint16_t port) const { return bindings_.count(port); }
  // Called after the layer processed something for c (a segment, a timer, an ICMP error): the
  // socket holding c pumps its data and looks at its state. Set by the socket layer.
  std::function<void(Connection& c)> on_connection_event;

  // ConnectionOwner
  void transmit(Connection& c, const wire::TcpSegment& segment) override;
  void schedule(Connection& c, time::TimePoint when) override;
  void state_changed(Connection& c, State from) override;
  TcpCounters& counters() override { return counters_; }
  bool challenge_ack_allowed(time::TimePoint now) override;
  bool defer_ack(Connection& c) override;

 private:
  friend class Listener;
  struct Key {
    std::uint32_t local, remote;
    std::uint16_t local_port, remote_port;
    friend auto operator<=>(const Key&, const Key&) = default;
  };
  static Key key_of(const Endpoints& e);

  struct Private;
  friend struct Private;

  TcpHost& host_;
  TcpConfig config_;
  TcpCounters counters_;
  IsnGenerator isn_;
  std::map<Key, std::shared_ptr<Connection>> connections_;
  std::map<Connection*, std::shared_ptr<Binding>> connection_bindings_;
  std::multimap<std::uint16_t, std::weak_ptr<Binding>> bindings_;  // port -> every binding on it
  std::map<std::uint16_t, std::vector<std::weak_ptr<Listener>>> listeners_;
  // Timers: (deadline, connection) entries; an entry whose connection has a later deadline now
  // is stale and only makes it announce the real one (deadlines that move later are not
  // re-announced: an ACK restarting the retransmission timer costs nothing here).
  struct TimerEntry {
    time::TimePoint when;
    std::weak_ptr<Connection> connection;
    bool operator>(const TimerEntry& o) const { return when > o.when; }
  };
  std::priority_queue<TimerEntry, std::vector<TimerEntry>, std::greater<>> timers_;
  std::optional<time::TimePoint> woken_for_;
  std::vector<std::shared_ptr<Connection>> closing_;  // reached CLOSED: forgotten after the call
  int depth_ = 0;  // calls into the layer in progress (closing_ is reaped at the outermost)
  bool batching_ = false;
  std::vector<std::shared_ptr<Connection>> batched_;  // had segments in this batch, in order
  ChallengeAckLimiter challenge_acks_;  // RFC 5961 7, all connections together
  PortSelector ports_;                  // RFC 6056 Algorithm 4; its key also spreads SYNs over
                                        // a SO_REUSEPORT group
  SynCookies cookies_;                  // RFC 4987 3.6, when a SYN queue overflows
  std::optional<time::TimePoint> last_cookie_sent_;
};

}  // namespace pktd::tcp
