// IPv4 fragmentation on output and reassembly on input (RFC 791 3.2, RFC 815, RFC 1122 3.3.2).
//
// Both work on whole packets in mbuf chains whose data starts at the IPv4 header and whose
// pkthdr.len equals the header's Total Length (the stack trims link padding first). Time is an
// argument: nothing here reads a clock or arms a timer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "buf/mbuf.h"
#include "time/clock.h"

namespace pktd::inet {

// Splits packet into fragments of at most mtu octets each (header included). Returns 0 and the
// fragments in order in *out, EMSGSIZE when DF is set (or mtu cannot carry 8 octets of data),
// ENOBUFS when buffers ran out (nothing in *out then). A packet that fits is returned as it is.
// EINVAL when packet is not what the file comment promises (pkthdr.len not the chain's length
// and Total Length, not IPv4, a fragment reaching past 65535 octets). On every error the packet
// is freed. Non-first fragments carry only the options with the copied flag (RFC 791 3.1).
int fragment(buf::MbufPtr packet, uint32_t mtu, std::vector<buf::MbufPtr>* out);

struct ReassemblyConfig {
  time::Duration timeout = std::chrono::seconds(30);  // Linux ipfrag_time; RFC 1122 3.3.2 says 60..120
  size_t max_bytes = 4u << 20;   // buffer memory held, all queues together (Linux ipfrag_high_thresh)
  size_t max_queues = 1024;      // datagrams in reassembly at once
  size_t max_fragments = 128;    // fragments held for one datagram (65535 octets at MTU 576 need 119)
};

struct ReassemblyStats {
  uint64_t fragments = 0;     // fragments given to input
  uint64_t reassembled = 0;   // datagrams completed
  uint64_t timeouts = 0;      // datagrams dropped by expire
  uint64_t overlaps = 0;      // datagrams dropped for an overlapping fragment
  uint64_t over_limit = 0;    // fragments or datagrams dropped for max_bytes/max_queues/max_fragments
  uint64_t bad_fragment = 0;  // fragments inconsistent with their datagram (e.g. data past a known end)
  uint64_t duplicates = 0;    // exact duplicates of a fragment held (dropped, datagram kept)
};

class Reassembler {
 public:
  explicit Reassembler(ReassemblyConfig config = {});
  ~Reassembler();
  Reassembler(const Reassembler&) = delete;
  Reassembler& operator=(const Reassembler&) = delete;

  // Takes a fragment (MF set or offset non-zero). Returns the whole datagram when this fragment
  // completes it: one packet with the first fragment's header (options kept), MF and offset
  // cleared, Total Length and checksum recomputed, pkthdr.flags or-ed over every fragment (so
  // kPktLinkGroup survives; expire() marks fragment zero the same way). Otherwise nullptr (held
  // or dropped: see stats).
  buf::MbufPtr input(buf::MbufPtr fragment, time::TimePoint now);

  // Drops datagrams whose timer (started by their first fragment to arrive) has run out. For each
  // dropped datagram whose fragment zero had arrived, that fragment is appended to
  // *first_fragments (RFC 792: the caller sends Time Exceeded, code 1). Returns datagrams dropped.
  size_t expire(time::TimePoint now, std::vector<buf::MbufPtr>* first_fragments = nullptr);
  std::optional<time::TimePoint> next_expiry() const;
  void clear();

  size_t queues() const;
  size_t bytes() const;  // buffer memory held: mbufs and their clusters (what max_bytes limits)
  const ReassemblyStats& stats() const { return stats_; }
  const ReassemblyConfig& config() const { return config_; }

 private:
  struct Impl;
  ReassemblyConfig config_;
  ReassemblyStats stats_;
  Impl* impl_;
};

}  // namespace pktd::inet
