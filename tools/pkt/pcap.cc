#include "tools/pkt/pcap.h"

#include <algorithm>
#include <cstring>

namespace pktd::pkt {

void PcapWriter::put32(uint32_t value) {
  char bytes[4];
  std::memcpy(bytes, &value, sizeof bytes);
  out_.write(bytes, sizeof bytes);
}

void PcapWriter::put16(uint16_t value) {
  char bytes[2];
  std::memcpy(bytes, &value, sizeof bytes);
  out_.write(bytes, sizeof bytes);
}

void PcapWriter::header(uint32_t snaplen, uint32_t link_type) {
  put32(kPcapMagicNanoseconds);
  put16(2);  // version 2.4
  put16(4);
  put32(0);  // thiszone: timestamps are UTC
  put32(0);  // sigfigs
  put32(snaplen);
  put32(link_type);
  has_header_ = true;
}

void PcapWriter::record(const ctl::CapturedFrame& frame) {
  constexpr int64_t kNs = 1'000'000'000;
  int64_t t = frame.time_ns < 0 ? 0 : frame.time_ns;
  put32(static_cast<uint32_t>(t / kNs));
  put32(static_cast<uint32_t>(t % kNs));
  put32(static_cast<uint32_t>(frame.data.size()));
  // Never shorter than what was kept, or readers reject the record.
  put32(std::max(frame.original_length, static_cast<uint32_t>(frame.data.size())));
  out_.write(frame.data.data(), static_cast<std::streamsize>(frame.data.size()));
}

}  // namespace pktd::pkt
