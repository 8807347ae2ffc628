// What the control socket serves, as an interface: the daemon implements it (daemon/backend.cc);
// ctl/ turns requests into calls and results into messages; tests can use a fake.
//
// Every call runs on a pseudo-thread in the stack context, so an implementation may read and
// change the stack directly and may sleep (blockop for dlopen, for instance).
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace pktd::ctl {

struct Error {
  int code = 0;         // an errno; 0: success
  std::string message;  // one line for the user, e.g. "tap7: no such interface"
  explicit operator bool() const { return code != 0; }
};

template <typename T>
struct Result {
  T value{};
  Error error;
};

struct InterfaceInfo {
  std::string name;
  uint32_t index = 0;
  std::string mac;            // "02:70:00:00:00:02"
  uint32_t mtu = 0;
  uint32_t flags = 0;         // PKTD_IFF_* (admin | driver)
  std::string link;           // "up", "down", "unknown"
  uint32_t capabilities = 0;  // PKTD_IFCAP_*
  std::string driver;         // "tap", or "loopback" for lo0
  std::string driver_path;    // the shared object, "" for built-in interfaces
  std::string driver_options; // as given to -d / mount
  size_t send_queue_length = 0, send_queue_max = 0;
  std::map<std::string, uint64_t> counters;  // ipackets, ibytes, ..., drops by reason
  struct Inet {
    std::string address;    // "198.18.0.1"
    uint32_t prefix_len = 0;
    std::string broadcast;  // "198.18.0.255", "" on lo0
  };
  std::vector<Inet> inet;   // IPv4 addresses, the primary first
};

// --- IPv4 (issue 4) ---

struct RouteInfo {
  std::string destination;  // "198.18.0.0/24", "198.18.0.1/32" (a host), "default"
  std::string gateway;      // "198.18.0.254", or "link#2" for a connected route
  std::string flags;        // netstat -rn letters: U up, G gateway, H host, S static, C connected, L local
  std::string interface;    // "tap0"
  uint64_t use = 0;         // packets sent by it
  uint32_t mtu = 0;
};

struct ArpInfo {
  std::string address;    // "198.18.0.2"
  std::string mac;        // "" while incomplete
  std::string interface;
  std::string state;      // "incomplete", "reachable", "permanent"
  int64_t expires_in_s = -1;  // -1: never (permanent)
};

// One echo request sent by pktd and what came back (pkt ping sends one per request).
struct PingRequest {
  std::string destination;   // an IPv4 address
  uint16_t id = 0;           // ICMP identifier (pkt uses its pid)
  uint16_t sequence = 0;
  uint32_t size = 56;        // ICMP data octets (ping -s)
  uint8_t ttl = 64;
  uint32_t timeout_ms = 1000;  // how long to wait for the reply
};
struct PingResult {
  bool replied = false;
  double rtt_ms = 0;
  uint32_t bytes = 0;          // ICMP octets in the reply (header + data), as ping(8) prints
  uint8_t ttl = 0;             // of the reply
  std::string from;            // who answered, or who sent the ICMP error
  std::string icmp_error;      // "Destination Host Unreachable", "Time to live exceeded", ...; "" if none
};

struct SocketInfo {
  std::string protocol;  // "udp"
  std::string local;     // "0.0.0.0:7", "198.18.0.1:5000"
  std::string remote;    // "*:*" when not connected
  std::string state;     // "" for UDP
  size_t recv_queue = 0, send_queue = 0;  // octets
};

struct UdpDatagramInfo {
  std::string from;  // "198.18.0.2:40000"
  std::string to;    // "198.18.0.1:7"
  std::string data;  // the payload (arbitrary octets; the protocol carries it base64-encoded)
};

// A capture session (pkt capture): frames in and out of one interface, kept in pktd until read.
struct CapturedFrame {
  int64_t time_ns = 0;     // CLOCK_REALTIME
  bool outgoing = false;
  uint32_t original_length = 0;
  std::string data;        // at most snaplen octets (base64-encoded in the protocol)
};
struct CaptureRead {
  std::vector<CapturedFrame> frames;
  uint64_t dropped = 0;    // frames lost since capture_start because the reader was slow
  uint32_t link_type = 1;  // pcap LINKTYPE_: 1 Ethernet, 101 raw IP (lo0)
  bool closed = false;     // the interface went away
};

struct ThreadInfo {
  std::string name;
  pid_t tid = 0;
  std::string kind;          // main, worker, tracked, watchdog
  bool holds_stack = false;  // the worker holding the stack context now
  std::string state;         // as the kernel sees it: running, sleeping, disk wait, stopped
};

// Who is asking (SO_PEERCRED). Changes need privileged.
struct Caller {
  uid_t uid = 0;
  gid_t gid = 0;
  pid_t pid = 0;
  bool privileged = false;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::vector<InterfaceInfo> interfaces() = 0;
  virtual Result<InterfaceInfo> interface(const std::string& name) = 0;
  virtual Error set_up(const std::string& name, bool up) = 0;
  virtual Error set_mtu(const std::string& name, uint32_t mtu) = 0;
  // Destroys the interface; its shared object is unloaded with its last interface.
  virtual Error destroy(const std::string& name) = 0;
  // Loads a driver instance (like -d): name_or_path, and options "opt=val,...". Returns the
  // interfaces it created.
  virtual Result<std::vector<std::string>> mount(const std::string& name_or_path,
                                                 const std::string& options) = 0;
  // A driver-specific request (the driver's ioctl callback), text in and out.
  virtual Result<std::string> driver_request(const std::string& name, const std::string& request) = 0;
  virtual std::vector<ThreadInfo> threads() = 0;

  // --- IPv4. Defaults answer ENOSYS so that test fakes implement only what they use. ---
  // Adds address "A.B.C.D/LEN" to the interface; without alias it replaces the primary address.
  virtual Error add_address(const std::string& name, const std::string& cidr, bool alias);
  virtual Error delete_address(const std::string& name, const std::string& address);
  virtual Result<std::vector<RouteInfo>> routes();
  // destination "A.B.C.D/LEN", "A.B.C.D" (a host) or "default"; gateway an address, or "" with
  // interface set for a route straight out of an interface.
  virtual Error add_route(const std::string& destination, const std::string& gateway,
                          const std::string& interface);
  virtual Error delete_route(const std::string& destination);
  virtual Result<RouteInfo> get_route(const std::string& address);  // the route a packet would take
  virtual Result<std::vector<ArpInfo>> arp_entries();
  virtual Error arp_delete(const std::string& address);
  virtual Error arp_set(const std::string& address, const std::string& mac);  // permanent
  // netstat -s: group ("ip", "icmp", "udp", "arp", "ether", ...) -> counter -> value.
  virtual Result<std::map<std::string, std::map<std::string, uint64_t>>> protocol_stats();
  // netstat -m: the buffer pool's figures.
  virtual Result<std::map<std::string, uint64_t>> buffer_stats();
  virtual Result<std::vector<SocketInfo>> sockets();
  // May sleep until the reply or the timeout.
  virtual Result<PingResult> ping(const PingRequest& request);
  // Test hooks until the socket service exists: send one datagram from local_port (0: any), and
  // receive up to count datagrams on port within timeout_ms (the port is bound for the call).
  virtual Error udp_send(uint16_t local_port, const std::string& destination, uint16_t port,
                         const std::string& data);
  virtual Result<std::vector<UdpDatagramInfo>> udp_receive(uint16_t port, uint32_t count,
                                                          uint32_t timeout_ms);
  // Capture: start returns a session id; read waits up to wait_ms for a frame and returns what
  // is buffered; a session not read for 10 s is closed by pktd; stop ends it. A read's reply is
  // one control-socket message, which must fit the socket's send buffer (about 200 KiB by
  // default; more gives EMSGSIZE and its frames are lost): stop adding frames at about 128 KiB
  // of data, the rest waits for the next read. The same holds for udp_receive.
  virtual Result<uint64_t> capture_start(const std::string& name, uint32_t snaplen);
  virtual Result<CaptureRead> capture_read(uint64_t session, uint32_t max_frames, uint32_t wait_ms);
  virtual Error capture_stop(uint64_t session);
};

}  // namespace pktd::ctl
