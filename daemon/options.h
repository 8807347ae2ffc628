// pktd's command line, io-pkt style:
//
//   pktd [-i INSTANCE] [-t WORKERS] [-d DRIVER[,opt=val...]]... [-D DRIVER_DIR]...
//        [-p tcpip[,opt=val...]] [-v]... [-f] [-h]
//
// The parser is pure: it never prints, exits or reads global state (no getopt), so that it is
// reentrant and every case can be unit tested. The caller prints the error or usage() and exits.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

namespace pktd::daemon {

// One -d: a driver to load. The loader interprets both fields; the parser only splits them.
struct DriverSpec {
  std::string name_or_path;  // before the first comma
  std::string options;       // everything after the first comma, verbatim (may be empty)
};

// -p tcpip,opt=val,...: the stack's tunables. Defaults here are the documented defaults.
struct StackOptions {
  unsigned threads_min = 4;            // pseudo-threads kept ready, 1..1024
  unsigned threads_max = 64;           // pseudo-thread limit, 1..4096, >= threads_min
  size_t mclbytes = 2048;              // cluster size: power of two, 2048..65536
  size_t mbuf_max = 65536;             // mbufs in use at once, 64..16777216
  size_t cluster_max = 32768;          // clusters in use at once, 64..16777216
  unsigned stack_watchdog_ms = 500;    // 0 = off, else 10..600000
  unsigned quiesce_timeout_ms = 2000;  // 10..600000
  unsigned tx_stall_ms = 1000;         // packets queued this long with no start: logged; 0 = off
  unsigned sockets_per_user = 4096;    // application sockets one uid may hold, 1..1048576
  size_t pt_stack_kb = 128;            // pseudo-thread stack size in KiB, 16..8192
  size_t ifq_maxlen = 256;             // each interface's send queue, packets, 1..65536
  unsigned admin_gid = 0;              // members may change the configuration; 0: root only
  unsigned poll_us = 50;               // workers poll this long after work before sleeping, 0..100000
  unsigned tx_handoff = 1;             // drivers' start on a polling worker (1) or in the stack (0)
  unsigned arp_max_age = 1200;         // seconds an ARP entry stays valid (BSD max_age), 1..86400
  unsigned ipfrag_time = 30;           // seconds a datagram may take to reassemble (Linux), 1..600
  size_t ipfrag_max_bytes = 4u << 20;  // octets held for reassembly, all datagrams, 65536..1 GiB
  unsigned tcp_syncookies = 1;         // answer SYN queue overflows with cookies (1) or drop (0)
  std::string tcp_congestion = "cubic";  // new connections' congestion control (Linux's sysctl)
};

struct Options {
  std::string instance = "0";  // names the socket /run/pktd/INSTANCE.sock
  unsigned workers = 1;        // parse_options() sets it to the CPU count unless -t is given
  unsigned verbosity = 0;      // number of -v
  bool foreground = false;     // -f
  bool help = false;           // -h/--help: the caller prints usage() and exits 0
  std::vector<DriverSpec> drivers;        // -d, in command-line order
  std::vector<std::string> driver_paths;  // -D/--driver-path, in command-line order
  StackOptions stack;
};

// Exactly one of the two is set: options on success, error (one line, starting "pktd: ")
// on failure.
struct ParseResult {
  std::optional<Options> options;
  std::string error;
};

inline constexpr unsigned kMaxWorkers = 256;
inline constexpr size_t kMaxInstanceLength = 32;

// argv[0] is the program name and is skipped. cpu_count is the default for -t; it is passed in
// (rather than read here) so that tests are deterministic, and clamped to 1..kMaxWorkers.
// -h stops parsing: the result has help set and ignores whatever follows.
ParseResult parse_options(int argc, const char* const* argv, unsigned cpu_count);

// The help text: every option, one line each, with its default. Ends with a newline.
std::string usage();

}  // namespace pktd::daemon
