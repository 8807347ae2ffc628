// TCP segments (RFC 9293 3.1) and their options: MSS (RFC 9293 3.2), window scale and timestamps
// (RFC 7323), SACK (RFC 2018). Only the wire format: sequence arithmetic and state are transport/tcp's.
//
//   0       1       2       3
//   |  Source Port  |Destination Port|
//   |        Sequence Number         |
//   |     Acknowledgment Number      |
//   |DO |Rsv| Flags |     Window     |
//   |   Checksum    | Urgent Pointer |
//   |   Options (DO*4 - 20)  ...     |
//   |   Data ...
//
// There is no length field: the segment is the whole IPv4 payload. The checksum covers the IPv4
// pseudo-header (source, destination, zero, protocol 6, TCP Length = header + data), the header
// and the data (RFC 9293 3.1 "Checksum"). Unlike UDP, zero is not "no checksum" (MUST-2, MUST-3).
//
// parse validates, in this order: 20 octets present (truncated), at most 65535 octets, what the
// pseudo-header's 16-bit TCP Length can describe (bad_length), Data Offset >= 5 and within the
// segment (bad_data_offset), the checksum (bad_checksum), then the option list (bad_option).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "wire/address.h"
#include "wire/checksum.h"
#include "wire/endian.h"
#include "wire/ipv4.h"
#include "wire/result.h"

namespace pktd::wire {

// RFC 9293 3.1 "Control bits", the 14th octet from its most significant bit: CWR ECE URG ACK PSH
// RST SYN FIN (CWR and ECE from RFC 3168 6.1).
struct TcpFlags {
  bool fin = false;
  bool syn = false;
  bool rst = false;
  bool psh = false;
  bool ack = false;
  bool urg = false;
  bool ece = false;
  bool cwr = false;

  [[nodiscard]] static constexpr TcpFlags from_octet(std::uint8_t bits) {
    auto bit = [bits](unsigned n) { return (bits & (1U << n)) != 0; };
    return {bit(0), bit(1), bit(2), bit(3), bit(4), bit(5), bit(6), bit(7)};
  }
  [[nodiscard]] constexpr std::uint8_t to_octet() const {
    auto bit = [](bool set, unsigned n) { return set ? 1U << n : 0U; };
    return static_cast<std::uint8_t>(bit(fin, 0) | bit(syn, 1) | bit(rst, 2) | bit(psh, 3) |
                                     bit(ack, 4) | bit(urg, 5) | bit(ece, 6) | bit(cwr, 7));
  }
  friend constexpr bool operator==(const TcpFlags&, const TcpFlags&) = default;
};

namespace tcp_option {
// RFC 9293 3.2, RFC 7323 2.2 and 3.2, RFC 2018 2 and 3: kind, and the length counting kind and
// length octets.
inline constexpr std::uint8_t kEndOfList = 0;
inline constexpr std::uint8_t kNoOperation = 1;
inline constexpr std::uint8_t kMss = 2;
inline constexpr std::uint8_t kWindowScale = 3;
inline constexpr std::uint8_t kSackPermitted = 4;
inline constexpr std::uint8_t kSack = 5;
inline constexpr std::uint8_t kTimestamps = 8;
inline constexpr std::uint8_t kMssLength = 4;
inline constexpr std::uint8_t kWindowScaleLength = 3;
inline constexpr std::uint8_t kSackPermittedLength = 2;
inline constexpr std::uint8_t kTimestampsLength = 10;
inline constexpr std::uint8_t kSackLengthBase = 2;   // plus 8 per block
inline constexpr std::uint8_t kSackBlockLength = 8;
// RFC 7323 2.3: "the TCP ... MUST use 14 instead of the specified value" when shift.cnt > 14.
inline constexpr std::uint8_t kMaxWindowScale = 14;
}  // namespace tcp_option

// RFC 2018 3: a block of data received out of order, [left, right) in sequence space.
struct TcpSackBlock {
  std::uint32_t left = 0;   // Left Edge: first sequence number of the block
  std::uint32_t right = 0;  // Right Edge: the sequence number just after the block
  friend constexpr bool operator==(const TcpSackBlock&, const TcpSackBlock&) = default;
};

// RFC 7323 3.2.
struct TcpTimestamps {
  std::uint32_t value = 0;       // TSval
  std::uint32_t echo_reply = 0;  // TSecr
  friend constexpr bool operator==(const TcpTimestamps&, const TcpTimestamps&) = default;
};

// The options of one segment as a value. parse reads an option list (TcpView::options()); options
// it does not know are skipped (RFC 9293 3.1, MUST-6), and an option appearing twice keeps the last
// value. emit writes them in the layout Linux uses, every option word-aligned by NOPs:
//
//   MSS | SACK-permitted or NOP NOP, Timestamps | NOP NOP SACK-permitted (no timestamps) |
//   NOP Window Scale | NOP NOP SACK blocks
//
// so a Linux SYN (MSS, SACK-permitted, Timestamps, NOP, Window Scale) comes back octet for octet.
struct TcpOptions {
  static constexpr std::size_t kMaxLength = 40;  // RFC 9293 3.1: Data Offset 15 leaves 40 octets
  static constexpr std::size_t kMaxSackBlocks = 4;  // RFC 2018 3: 8n + 2 <= 40

  std::optional<std::uint16_t> mss;
  std::optional<std::uint8_t> window_scale;  // shift.cnt as received or to be sent, even above 14
  bool sack_permitted = false;
  std::optional<TcpTimestamps> timestamps;
  std::array<TcpSackBlock, kMaxSackBlocks> sack{};
  std::uint8_t sack_count = 0;  // sack[0, sack_count) are in use

  // Errors: bad_option for a length below 2 or past the end of the list (RFC 9293 3.1, MUST-7), and
  // for a known kind whose length is not the one its RFC defines. Octets after End of Option List
  // are padding and are not read.
  [[nodiscard]] static Result<TcpOptions> parse(std::span<const std::byte> list);

  // RFC 7323 2.3: the shift to apply, shift.cnt clamped to 14.
  [[nodiscard]] std::optional<std::uint8_t> effective_window_scale() const;
  [[nodiscard]] std::span<const TcpSackBlock> sack_blocks() const {
    return std::span<const TcpSackBlock>(sack).first(sack_count <= kMaxSackBlocks ? sack_count : 0);
  }
  bool add_sack_block(TcpSackBlock block);  // false when all four are in use

  // Octets emit writes: always a multiple of 4 (no EOL is needed). May exceed kMaxLength (all
  // options with four SACK blocks), which emit refuses.
  [[nodiscard]] std::size_t length() const;
  // Writes length() octets at the start of out and returns that count; returns 0 and writes
  // nothing when out is shorter, length() exceeds kMaxLength or sack_count exceeds 4.
  [[nodiscard]] std::size_t emit(std::span<std::byte> out) const;

  friend bool operator==(const TcpOptions& a, const TcpOptions& b);
};

class TcpView {
 public:
  static constexpr std::size_t kMinHeaderLength = 20;
  static constexpr std::size_t kMaxHeaderLength = 60;
  static constexpr std::size_t kMaxSegmentLength = 65535;  // the pseudo-header's TCP Length is 16 bits

  // segment is the whole IPv4 payload; source/destination are the IPv4 addresses for the
  // pseudo-header.
  [[nodiscard]] static Result<TcpView> parse(std::span<const std::byte> segment, Ipv4Address source,
                                             Ipv4Address destination, ChecksumCheck check = ChecksumCheck::verify);
  [[nodiscard]] static Result<TcpView> parse(const Ipv4View& ip, ChecksumCheck check = ChecksumCheck::verify) {
    return parse(ip.payload(), ip.source(), ip.destination(), check);
  }

  [[nodiscard]] std::uint16_t source_port() const { return load_be16(bytes_, 0); }
  [[nodiscard]] std::uint16_t destination_port() const { return load_be16(bytes_, 2); }
  [[nodiscard]] std::uint32_t sequence_number() const { return load_be32(bytes_, 4); }
  [[nodiscard]] std::uint32_t acknowledgment_number() const { return load_be32(bytes_, 8); }
  // In 32-bit words (5..15); header_length() in octets.
  [[nodiscard]] std::uint8_t data_offset() const { return static_cast<std::uint8_t>(load_u8(bytes_, 12) >> 4); }
  [[nodiscard]] std::size_t header_length() const { return std::size_t{data_offset()} * 4; }
  // RFC 9293 3.1 Rsrv: "must be ignored in received segments" -- reported, not rejected.
  [[nodiscard]] std::uint8_t reserved() const { return static_cast<std::uint8_t>(load_u8(bytes_, 12) & 0x0FU); }
  [[nodiscard]] TcpFlags flags() const { return TcpFlags::from_octet(load_u8(bytes_, 13)); }
  [[nodiscard]] std::uint16_t window() const { return load_be16(bytes_, 14); }
  [[nodiscard]] std::uint16_t checksum() const { return load_be16(bytes_, 16); }
  [[nodiscard]] std::uint16_t urgent_pointer() const { return load_be16(bytes_, 18); }
  // The option list, already checked: TcpOptions::parse(options()) succeeds.
  [[nodiscard]] std::span<const std::byte> options() const {
    return bytes_.subspan(kMinHeaderLength, header_length() - kMinHeaderLength);
  }
  [[nodiscard]] std::span<const std::byte> payload() const { return bytes_.subspan(header_length()); }
  [[nodiscard]] std::span<const std::byte> bytes() const { return bytes_; }

 private:
  explicit TcpView(std::span<const std::byte> bytes) : bytes_(bytes) {}
  std::span<const std::byte> bytes_;
};

// The whole segment as a value: payload refers to the caller's bytes; emit copies it after the
// header (memmove: it may already be in place) and computes the checksum with the pseudo-header.
struct TcpSegment {
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  std::uint32_t sequence_number = 0;
  std::uint32_t acknowledgment_number = 0;
  TcpFlags flags;
  std::uint8_t reserved = 0;  // 4 bits; RFC 9293 3.1: zero in generated segments, kept on a round trip
  std::uint16_t window = 0;
  std::uint16_t urgent_pointer = 0;
  TcpOptions options;
  std::span<const std::byte> payload;

  [[nodiscard]] static Result<TcpSegment> parse(std::span<const std::byte> segment, Ipv4Address source,
                                                Ipv4Address destination,
                                                ChecksumCheck check = ChecksumCheck::verify);
  [[nodiscard]] static TcpSegment from(const TcpView& view);

  [[nodiscard]] std::size_t header_length() const { return TcpView::kMinHeaderLength + options.length(); }
  [[nodiscard]] std::size_t length() const { return header_length() + payload.size(); }
  // False (nothing written) when out is shorter than length(), the options cannot be emitted
  // (TcpOptions::emit), reserved exceeds 4 bits or length() exceeds 65535.
  [[nodiscard]] bool emit(std::span<std::byte> out, Ipv4Address source, Ipv4Address destination) const;

  friend bool operator==(const TcpSegment& a, const TcpSegment& b);
};

}  // namespace pktd::wire
