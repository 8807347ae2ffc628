#include "wire/tcp.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>

namespace pktd::wire {

using namespace tcp_option;  // NOLINT(google-build-using-namespace): option kinds and lengths, this file only

namespace {

// RFC 9293 3.1 Options, case 2: option-kind and option-length octets, then the option-data.
constexpr std::size_t kKindAndLength = 2;

InternetChecksum pseudo_header_sum(Ipv4Address source, Ipv4Address destination, std::size_t tcp_length) {
  return Ipv4PseudoHeader{source, destination, kIpProtocolTcp, static_cast<std::uint16_t>(tcp_length)}
      .start_sum();
}

// RFC 9293 3.1 Checksum: over the pseudo-header, the header and the data, checksum field included.
bool checksum_verifies(std::span<const std::byte> segment, Ipv4Address source, Ipv4Address destination) {
  InternetChecksum sum = pseudo_header_sum(source, destination, segment.size());
  sum.add(segment);
  return sum.verifies();
}

// Whether an option's data has the length its definition gives (the option-length minus the kind
// and length octets).
bool data_is(std::span<const std::byte> data, std::uint8_t option_length) {
  return data.size() + kKindAndLength == option_length;
}

// RFC 2018 3: "A SACK option that specifies n blocks will have a length of 8*n+2 bytes", and the
// 40 octets of option space hold at most 4 blocks. An option with no block says nothing.
bool is_sack_data(std::span<const std::byte> data) {
  const std::size_t blocks = data.size() / kSackBlockLength;
  return data.size() % kSackBlockLength == 0 && blocks >= 1 && blocks <= TcpOptions::kMaxSackBlocks;
}

void record_sack_blocks(TcpOptions& options, std::span<const std::byte> data) {
  options.sack_count = 0;  // a second SACK option replaces the first, like every repeated option
  for (std::size_t at = 0; at < data.size(); at += kSackBlockLength) {
    (void)options.add_sack_block({load_be32(data, at), load_be32(data, at + 4)});
  }
}

// Records one option whose length is known to lie within the list. False when a kind this file
// implements has a length other than the one its RFC defines.
bool record_option(TcpOptions& options, std::uint8_t kind, std::span<const std::byte> data) {
  switch (kind) {
    case kMss:  // RFC 9293 3.2: Kind 2, Length 4, the 16-bit MSS
      if (!data_is(data, kMssLength)) return false;
      options.mss = load_be16(data, 0);
      return true;
    case kWindowScale:  // RFC 7323 2.2: Kind 3, Length 3, shift.cnt
      if (!data_is(data, kWindowScaleLength)) return false;
      options.window_scale = load_u8(data, 0);
      return true;
    case kSackPermitted:  // RFC 2018 2: Kind 4, Length 2
      if (!data_is(data, kSackPermittedLength)) return false;
      options.sack_permitted = true;
      return true;
    case kSack:  // RFC 2018 3: Kind 5, Length 8n + 2, n Left Edge / Right Edge pairs
      if (!is_sack_data(data)) return false;
      record_sack_blocks(options, data);
      return true;
    case kTimestamps:  // RFC 7323 3.2: Kind 8, Length 10, TSval, TSecr
      if (!data_is(data, kTimestampsLength)) return false;
      options.timestamps = TcpTimestamps{load_be32(data, 0), load_be32(data, 4)};
      return true;
    default:  // RFC 9293 3.1 (MUST-6): "ignore without error any TCP Option it does not implement"
      return true;
  }
}

// Writes octets one after the other; TcpOptions::emit has checked that they fit.
class OptionWriter {
 public:
  explicit OptionWriter(std::span<std::byte> out) : out_(out) {}

  void octets(std::initializer_list<std::uint8_t> values) {
    for (std::uint8_t v : values) store_u8(out_, at_++, v);
  }
  void be16(std::uint16_t value) {
    store_be16(out_, at_, value);
    at_ += 2;
  }
  void be32(std::uint32_t value) {
    store_be32(out_, at_, value);
    at_ += 4;
  }
  [[nodiscard]] std::size_t written() const { return at_; }

 private:
  std::span<std::byte> out_;
  std::size_t at_ = 0;
};

// What each part of the layout takes. Each is a whole number of 32-bit words, so the list needs
// neither EOL nor trailing padding (RFC 9293 3.2: EOL "need only be used if the end of the options
// would not otherwise coincide with the end of the TCP header").
constexpr std::size_t kMssOctets = 4;
constexpr std::size_t kTimestampsOctets = 12;   // SACK-permitted or NOP NOP, then the option
constexpr std::size_t kSackPermittedOctets = 4;  // NOP NOP SACK-permitted, when there are no timestamps
constexpr std::size_t kWindowScaleOctets = 4;    // NOP, then the option
constexpr std::size_t kSackHeaderOctets = 4;     // NOP NOP, kind, length; the blocks follow

std::uint8_t sack_option_length(std::size_t blocks) {
  return static_cast<std::uint8_t>(kSackLengthBase + blocks * kSackBlockLength);
}

}  // namespace

// ---- TcpOptions ----

Result<TcpOptions> TcpOptions::parse(std::span<const std::byte> list) {
  TcpOptions options;
  std::size_t at = 0;
  while (at < list.size()) {
    const std::uint8_t kind = load_u8(list, at);
    // RFC 9293 3.2: EOL ends the list; what follows is header padding (MUST-69 makes it zero for
    // the sender, but a receiver has no reason to look at it).
    if (kind == kEndOfList) break;
    if (kind == kNoOperation) {  // RFC 9293 3.2: one octet, options need not be aligned (MUST-64)
      ++at;
      continue;
    }
    // RFC 9293 3.1: "TCP implementations MUST be prepared to handle an illegal option length
    // (e.g., zero)" (MUST-7). A length octet missing, below 2 (which would not advance) or reaching
    // past the header makes the whole list unreadable.
    if (list.size() - at < kKindAndLength) return ParseError::bad_option;
    const std::size_t length = load_u8(list, at + 1);
    if (length < kKindAndLength || length > list.size() - at) return ParseError::bad_option;
    if (!record_option(options, kind, list.subspan(at + kKindAndLength, length - kKindAndLength))) {
      return ParseError::bad_option;
    }
    at += length;
  }
  return options;
}

std::optional<std::uint8_t> TcpOptions::effective_window_scale() const {
  if (!window_scale) return std::nullopt;
  // RFC 7323 2.3: "If a Window Scale option is received with a shift.cnt value larger than 14, the
  // TCP SHOULD log the error but MUST use 14 instead of the specified value."
  return std::min(*window_scale, kMaxWindowScale);
}

bool TcpOptions::add_sack_block(TcpSackBlock block) {
  if (sack_count >= kMaxSackBlocks) return false;
  sack[sack_count++] = block;
  return true;
}

std::size_t TcpOptions::length() const {
  std::size_t n = 0;
  if (mss) n += kMssOctets;
  if (timestamps) {
    n += kTimestampsOctets;
  } else if (sack_permitted) {
    n += kSackPermittedOctets;
  }
  if (window_scale) n += kWindowScaleOctets;
  if (sack_count > 0) n += kSackHeaderOctets + std::size_t{sack_count} * kSackBlockLength;
  return n;
}

std::size_t TcpOptions::emit(std::span<std::byte> out) const {
  const std::size_t n = length();
  if (sack_count > kMaxSackBlocks || n > kMaxLength || out.size() < n) return 0;
  OptionWriter w(out);
  if (mss) {
    w.octets({kMss, kMssLength});
    w.be16(*mss);
  }
  if (timestamps) {
    // SACK-permitted fills the two octets that would otherwise be NOP padding before Timestamps.
    if (sack_permitted) {
      w.octets({kSackPermitted, kSackPermittedLength});
    } else {
      w.octets({kNoOperation, kNoOperation});
    }
    w.octets({kTimestamps, kTimestampsLength});
    w.be32(timestamps->value);
    w.be32(timestamps->echo_reply);
  } else if (sack_permitted) {
    w.octets({kNoOperation, kNoOperation, kSackPermitted, kSackPermittedLength});
  }
  if (window_scale) w.octets({kNoOperation, kWindowScale, kWindowScaleLength, *window_scale});
  if (sack_count > 0) {
    w.octets({kNoOperation, kNoOperation, kSack, sack_option_length(sack_count)});
    for (const TcpSackBlock& block : sack_blocks()) {
      w.be32(block.left);
      w.be32(block.right);
    }
  }
  return w.written();
}

bool operator==(const TcpOptions& a, const TcpOptions& b) {
  return a.mss == b.mss && a.window_scale == b.window_scale && a.sack_permitted == b.sack_permitted &&
         a.timestamps == b.timestamps && a.sack_count == b.sack_count &&
         std::ranges::equal(a.sack_blocks(), b.sack_blocks());
}

// ---- TcpView ----

Result<TcpView> TcpView::parse(std::span<const std::byte> segment, Ipv4Address source, Ipv4Address destination,
                               ChecksumCheck check) {
  if (segment.size() < kMinHeaderLength) return ParseError::truncated;
  if (segment.size() > kMaxSegmentLength) return ParseError::bad_length;
  // RFC 9293 3.1 Data Offset: "The number of 32-bit words in the TCP header". The fixed fields
  // alone are 5 words, and the header cannot end after the segment does.
  const std::size_t header_length = (std::size_t{load_u8(segment, 12)} >> 4) * 4;
  if (header_length < kMinHeaderLength || header_length > segment.size()) return ParseError::bad_data_offset;
  if (check == ChecksumCheck::verify && !checksum_verifies(segment, source, destination)) {
    return ParseError::bad_checksum;
  }
  const TcpView view(segment);
  if (auto options = TcpOptions::parse(view.options()); !options) return options.error();
  return view;
}

// ---- TcpSegment ----

Result<TcpSegment> TcpSegment::parse(std::span<const std::byte> segment, Ipv4Address source,
                                     Ipv4Address destination, ChecksumCheck check) {
  auto view = TcpView::parse(segment, source, destination, check);
  if (!view) return view.error();
  return from(*view);
}

TcpSegment TcpSegment::from(const TcpView& view) {
  TcpSegment s;
  s.source_port = view.source_port();
  s.destination_port = view.destination_port();
  s.sequence_number = view.sequence_number();
  s.acknowledgment_number = view.acknowledgment_number();
  s.flags = view.flags();
  s.reserved = view.reserved();
  s.window = view.window();
  s.urgent_pointer = view.urgent_pointer();
  s.options = TcpOptions::parse(view.options()).value();  // TcpView::parse checked the list
  s.payload = view.payload();
  return s;
}

bool TcpSegment::emit(std::span<std::byte> out, Ipv4Address source, Ipv4Address destination) const {
  const std::size_t header = header_length();
  if (out.size() < length() || options.sack_count > TcpOptions::kMaxSackBlocks ||
      options.length() > TcpOptions::kMaxLength || reserved > 0x0F || length() > TcpView::kMaxSegmentLength) {
    return false;
  }
  if (!payload.empty()) std::memmove(out.subspan(header).data(), payload.data(), payload.size());
  store_be16(out, 0, source_port);
  store_be16(out, 2, destination_port);
  store_be32(out, 4, sequence_number);
  store_be32(out, 8, acknowledgment_number);
  store_u8(out, 12, static_cast<std::uint8_t>(((header / 4) << 4) | reserved));
  store_u8(out, 13, flags.to_octet());
  store_be16(out, 14, window);
  store_be16(out, 16, 0);  // RFC 9293 3.1: "the checksum field itself is replaced with zeros"
  store_be16(out, 18, urgent_pointer);
  (void)options.emit(out.subspan(TcpView::kMinHeaderLength, header - TcpView::kMinHeaderLength));
  InternetChecksum sum = pseudo_header_sum(source, destination, length());
  sum.add(out.first(length()));
  store_be16(out, 16, sum.finish());
  return true;
}

bool operator==(const TcpSegment& a, const TcpSegment& b) {
  return a.source_port == b.source_port && a.destination_port == b.destination_port &&
         a.sequence_number == b.sequence_number && a.acknowledgment_number == b.acknowledgment_number &&
         a.flags == b.flags && a.reserved == b.reserved && a.window == b.window &&
         a.urgent_pointer == b.urgent_pointer && a.options == b.options && std::ranges::equal(a.payload, b.payload);
}

}  // namespace pktd::wire
