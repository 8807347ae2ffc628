// Classic pcap files (what tcpdump -w writes), with nanosecond timestamps: magic 0xa1b23c4d,
// version 2.4, fields in this host's byte order (readers detect it from the magic).
#pragma once

#include <cstdint>
#include <ostream>

#include "ctl/backend.h"

namespace pktd::pkt {

inline constexpr uint32_t kPcapMagicNanoseconds = 0xa1b23c4d;

class PcapWriter {
 public:
  explicit PcapWriter(std::ostream& out) : out_(out) {}
  // The file header; once, before the first record.
  void header(uint32_t snaplen, uint32_t link_type);
  bool has_header() const { return has_header_; }
  void record(const ctl::CapturedFrame& frame);

 private:
  void put32(uint32_t value);
  void put16(uint16_t value);
  std::ostream& out_;
  bool has_header_ = false;
};

}  // namespace pktd::pkt
