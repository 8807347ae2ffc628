// The socket service's insides (internal to sockets/): everything here runs in the stack context,
// except collect_ready(), the interrupt's process callback.
#pragma once

#include <sys/socket.h>
#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "ctl/socket_protocol.h"
#include "inet/stack.h"
#include "inet/udp_table.h"
#include "runtime/runtime.h"
#include "sockets/fd_closer.h"
#include "sockets/service.h"
#include "sockets/streams.h"

namespace pktd::sockets {

// One service connection: a client process (its credentials are those of the process that
// connected; a forked child makes its own).
struct ServiceClient {
  uint64_t id = 0;
  int fd = -1;
  uid_t uid = 0;
  pid_t pid = 0;
};

// Who sent a request: the credentials on that very message (SCM_CREDENTIALS).
struct Caller {
  uid_t uid = 0;
  pid_t pid = 0;
};

// Linux lets a process bind ports below 1024 with CAP_NET_BIND_SERVICE in its effective set
// (requests.cc).
bool may_bind_privileged_port(const Caller& who);
inline bool is_multicast(wire::Ipv4Address a) { return (a.value >> 28) == 0xE; }

// One request message as it came (request_io.cc). size: the message's, 0 when the client hung
// up, -1 with errno. The caller closes every fd in fds.
struct ReceivedRequest {
  ssize_t size = -1;
  std::vector<int> fds;
  bool too_many_fds = false;
  std::optional<ucred> sender;
};
ReceivedRequest receive_request(int sock, ctl::SvcRequest* q);

// Room for every descriptor one message can carry (the kernel's SCM_MAX_FD, 253) and the
// credentials. Descriptors pktd does not take in are closed by the kernel inside pktd's own
// recvmsg, and closing some can block (a lingering TCP socket); taken in, they go to the
// closer's thread. So every recvmsg on a socket clients write to has this much room.
struct ControlSpace {
  alignas(cmsghdr) char bytes[CMSG_SPACE(sizeof(int) * 253) + CMSG_SPACE(sizeof(ucred))];
};
// The descriptors (and, if sender is given, the credentials) a received message carries.
std::vector<int> descriptors_in(msghdr& m, std::optional<ucred>* sender);
// False when the client's socket is full (it does not read its replies).
bool send_reply(int sock, const ctl::SvcReply& r, int fd_to_pass);

// Options a Linux UDP socket keeps (the reuse flags live on the UdpSocket, which binds by them).
struct SocketOptions {
  bool broadcast = false;
  bool keepalive = false;
  int linger_onoff = 0, linger_seconds = 0;
  int ttl = -1;  // -1: the stack's default
  int tos = 0;
  std::map<std::pair<int, int>, int> without_effect;  // (level, name): accepted, kept, not acted on
};

// options.cc's helpers, which stream_options.cc shares.
// Options Linux accepts that pktd keeps and reports back but does not act on (docs/sockets.md).
bool accepted_without_effect(int level, int name);
// What one of those reads back: the value set, else Linux's default.
int stored(const SocketOptions& o, int level, int name);
// The int an option carries (Linux takes a single byte for the IP options too); false if none.
bool read_int(const ctl::SvcRequest& q, bool byte_ok, int* value);
// An int answer, truncated to what the caller asked for as the kernel does.
void write_int(ctl::SvcReply* r, uint32_t wanted, int value);

// One application socket.
struct AppSocket {
  uint64_t id = 0;
  int family = 0, type = 0, protocol = 0;
  int fd = -1;         // pktd's end of the pair
  std::pair<dev_t, ino_t> app_end{};  // the application's end, which requests carry
  uid_t owner = 0;     // who made it (limits; SO_REUSEPORT groups)
  std::string name;    // the application's end's abstract name (without the leading NUL)
  bool counted = true; // in by_app_end_ and per_user_ (until the application has gone)
  std::shared_ptr<inet::UdpSocket> udp;        // datagram sockets
  std::unique_ptr<StreamSocket> stream;        // stream sockets (streams.h)
  bool bound = false;           // in the UDP table
  bool address_chosen = false;  // bind() named an address (a disconnect keeps it)
  bool port_chosen = false;     // bind() named a port
  bool read_shut = false;        // shutdown(SHUT_RD): pktd shut the write side of its end
  bool sends_discarded = false;  // shutdown(SHUT_WR): sends are dropped (see shutdown())
  SocketOptions options;
};

class SocketService::Impl {
 public:
  Impl(rt::Runtime& rt, std::string instance, ServiceLimits limits)
      : rt_(rt), instance_(std::move(instance)), limits_(limits) {}

  int start(std::string* error);
  void stop();
  void set_stack(inet::Stack* stack);  // streams.cc: TCP's events come to the service
  const std::string& path() const { return path_; }
  std::map<std::string, uint64_t> statistics() const;
  size_t socket_count() const { return sockets_.size(); }
  // Stream sockets whose application has gone while pktd still sends what it wrote.
  size_t orphans_open() const {
    size_t n = 0;
    for (const auto& [id, s] : sockets_)
      if (s.stream && s.stream->orphan) ++n;
    return n;
  }

  // --- service.cc: the set, accepting, reading requests, replying ---
  rt::Process collect_ready();
  void handle_ready(const std::vector<uint64_t>& ids);
  void accept_clients();
  void serve_client(ServiceClient& c);
  void close_client(uint64_t id);
  bool watch(int fd, uint64_t id);
  void rearm(int fd, uint64_t id);
  // EPOLL_CTL_MOD with these events (stream sockets choose theirs: streams.cc).
  void set_events(int fd, uint64_t id, uint32_t events);

  // --- requests.cc ---
  ctl::SvcReply execute(const Caller& who, const ctl::SvcRequest& q, int fd, int* fd_to_pass);
  ctl::SvcReply make_socket(const Caller& who, const ctl::SvcRequest& q, int* fd_to_pass);
  void init_datagram(AppSocket& s);
  int bind(AppSocket& s, const ctl::SvcAddress& a, const Caller& who);
  int shutdown(AppSocket& s, int how);
  int connect(AppSocket& s, const ctl::SvcAddress& a);
  int disconnect(AppSocket& s);
  int bind_ephemeral(AppSocket& s);
  int table_bind(AppSocket& s, inet::UdpEndpoint local);
  AppSocket* socket_of(int fd);
  // Closes an fd a client sent: at once if it is one of our sockets' ends (closing those cannot
  // block), else on the closer's thread.
  void release_fd(int fd);
  void close_socket(uint64_t id);
  size_t close_hung_up(uint16_t port);
  size_t close_let_go_streams(uint16_t port);  // the same for stream sockets (streams.cc)
  // Takes a socket out of by_app_end_ and per_user_ (its application has gone). Idempotent.
  void uncount(AppSocket& s);
  // A new pair for a socket of this kind: the AppSocket (in sockets_, counted, watched) and the
  // application's end in *app_end; nullptr with an errno in *error.
  AppSocket* new_socket(const Caller& who, int family, int type, int protocol, int* app_end,
                        int* error);

  // --- streams.cc: TCP sockets' requests, their data and their end ---
  tcp::TcpLayer& tcp();
  time::TimePoint now() const { return rt_.clock().now(); }
  void init_stream(AppSocket& s);
  ctl::SvcReply execute_stream(AppSocket& s, const Caller& who, const ctl::SvcRequest& q);
  int stream_bind(AppSocket& s, const ctl::SvcAddress& a, const Caller& who);
  int stream_connect(AppSocket& s, const ctl::SvcRequest& q);
  int stream_disconnect(AppSocket& s);
  int stream_listen(AppSocket& s, int backlog);
  int stream_shutdown(AppSocket& s, int how);
  int stream_name(AppSocket& s, bool peer, ctl::SvcAddress* out);
  void start_relay(AppSocket& s, std::shared_ptr<tcp::Connection> c);
  void stream_ready(AppSocket& s);
  void connection_event(tcp::Connection& c);
  // From the set (epoll_event) or the connection: the handshake's outcome, bytes both ways, the
  // connection's end, then conclude(): close the socket if its application has gone, else re-arm.
  void service_stream(AppSocket& s, bool epoll_event);
  void conclude(AppSocket& s, bool epoll_event);
  void pump(AppSocket& s, bool out, bool in);
  void settle_connect(AppSocket& s);
  // connect()'s hold on the application's bytes (stream_relay.h): bytes written before it are
  // dropped (Linux fails those writes with EPIPE), and the filler is written through
  // request_fd_. release_hold: the handshake succeeded, relaying starts (true once); drop_hold:
  // it failed or was abandoned, and what the pair holds goes.
  void hold_for_handshake(AppSocket& s);
  bool release_hold(AppSocket& s);
  void drop_hold(AppSocket& s);
  void top_up_filler(AppSocket& s);  // SO_SNDBUF changed during the handshake
  void connection_ended(AppSocket& s);
  bool reply_waiters(AppSocket& s, int error);  // true if a waiting client got it
  void arm_stream(AppSocket& s);
  bool application_present(AppSocket& s);
  void application_gone(AppSocket& s);
  // The application's bytes have ended: true when that was its close with SO_LINGER {1, 0}, which
  // resets the connection without a FIN (the socket is then let_go, for conclude()).
  bool closes_abortively(uint64_t id);
  void finish_stream(AppSocket& s, bool abort);
  void shut_pair(AppSocket& s, int how);
  std::pair<size_t, size_t> pair_queues(const tcp::Connection* c) const;

  // --- stream_accept.cc: connections a listener hands to its application ---
  void listener_ready(AppSocket& s);
  void post_hand_off(AppSocket& listening);
  void hand_off(AppSocket& listening);
  bool deliver(AppSocket& listening, AppSocket& accepted);
  void retry_limited_listeners();

  // --- stream_options.cc ---
  int set_stream_option(AppSocket& s, const ctl::SvcRequest& q);
  int set_socket_level(AppSocket& s, int name, int value);
  int set_ip_level(AppSocket& s, int name, int value);
  int set_tcp_level(AppSocket& s, int name, int value);
  int get_stream_option(AppSocket& s, const ctl::SvcRequest& q, ctl::SvcReply* r);
  int get_tcp_level(AppSocket& s, int name, uint32_t wanted, ctl::SvcReply* r);

  // --- options.cc ---
  int set_option(AppSocket& s, const ctl::SvcRequest& q);
  int get_option(AppSocket& s, const ctl::SvcRequest& q, ctl::SvcReply* r);

  // --- datagrams.cc ---
  // Moves what the application has written into the stack: a turn's worth, or (before a request
  // on the socket is answered, so that it sees every send made before it) all of it.
  void drain_socket(AppSocket& s, bool all = false);
  void send_datagram(AppSocket& s, const ctl::DgramHeader& h, std::span<const std::byte> payload);
  bool pass_up(AppSocket& s, const inet::UdpEndpoint& from, std::span<const std::byte> data);
  void pass_error(AppSocket& s, int error);
  bool is_broadcast(wire::Ipv4Address a) const;
  void refuse_descriptors(msghdr& m);

  rt::Runtime& rt_;
  const std::string instance_;
  const ServiceLimits limits_;
  inet::Stack* stack_ = nullptr;
  std::string path_;
  int listen_fd_ = -1;
  int spare_fd_ = -1;  // closed to accept-and-drop when pktd is out of fds
  int set_fd_ = -1;    // the private epoll set: the interrupt source's fd
  rt::Interrupt* irq_ = nullptr;
  bool stopped_ = false;
  uint64_t next_id_ = 2;  // 1 is the listener
  std::map<uint64_t, ServiceClient> clients_;
  std::map<uint64_t, AppSocket> sockets_;
  std::map<std::pair<dev_t, ino_t>, uint64_t> by_app_end_;
  std::map<const tcp::Connection*, uint64_t> by_connection_;  // stream sockets' connections
  uint64_t serving_client_ = 0;  // the client whose request execute() answers
  int request_fd_ = -1;  // the application's end that request carries (pktd's copy, closed after)
  bool reply_deferred_ = false;  // execute()'s reply waits (a blocking connect)
  std::set<uint64_t> held_listeners_;  // listening sockets whose owner is at the socket limit
  bool retry_listeners_ = false; // a socket closed: those may go on
  std::map<uid_t, uint32_t> per_user_;
  std::map<uid_t, uint32_t> connections_per_user_;
  FdCloser closer_;
  std::vector<std::byte> buffer_;  // one datagram in from an application

  // Counters (netstat -s, group "sockets").
  struct Counters {
    uint64_t clients_accepted = 0, requests = 0, bad_requests = 0, replies_dropped = 0;
    uint64_t sockets_opened = 0, sockets_closed = 0, refused_limit = 0;
    uint64_t datagrams_sent = 0, datagrams_received = 0, send_failed = 0;
    uint64_t send_broadcast_refused = 0, send_no_destination = 0, bad_messages = 0;
    uint64_t receive_buffer_full = 0, errors_passed = 0, dropped_after_shutdown = 0;
    uint64_t descriptors_refused = 0, errors_dropped = 0;
    // Streams.
    uint64_t connects_waited = 0, connections_accepted = 0, accepts_failed = 0;
    uint64_t handoffs_deferred = 0, accepts_held_by_limit = 0, closes_reset = 0;
    uint64_t orphans = 0, octets_discarded_after_shutdown = 0, octets_discarded_before_connect = 0;
    uint64_t handshake_holds_failed = 0;  // a connecting socket's end left writable (stream_flow.cc)
  } counters_;
};

inline constexpr uint64_t kListenerId = 1;

// The protocol's addresses: IPv4 in addr[0..3] in network order, the port in host order.
inline inet::UdpEndpoint endpoint_of(const ctl::SvcAddress& a) {
  uint32_t v = static_cast<uint32_t>(a.addr[0]) << 24 | static_cast<uint32_t>(a.addr[1]) << 16 |
               static_cast<uint32_t>(a.addr[2]) << 8 | static_cast<uint32_t>(a.addr[3]);
  return {{v}, a.port};
}

inline ctl::SvcAddress address_of(const inet::UdpEndpoint& e) {
  ctl::SvcAddress a;
  a.family = 2;  // AF_INET
  a.port = e.port;
  for (int i = 0; i < 4; ++i) a.addr[i] = static_cast<uint8_t>(e.address.value >> (24 - 8 * i));
  return a;
}

}  // namespace pktd::sockets
