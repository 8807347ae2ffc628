// libFuzzer target for every parser in wire/.
//
// The input goes to each parser as it is (Ethernet, ARP, IPv4, ICMPv4, UDP, TCP), and along the
// chain a real receive path takes (Ethernet -> ARP | IPv4 -> ICMPv4 | UDP | TCP). Each parser runs with its
// checksum verified and skipped (random bytes rarely carry a valid checksum, and skipping reaches
// everything behind it). Whatever parses is emitted; the output must parse again, with checksums
// verified, to an equal value, and emitting that must give the same octets.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmpv4.h"
#include "wire/ipv4.h"
#include "wire/tcp.h"
#include "wire/udp.h"

namespace {

using namespace pktd::wire;  // NOLINT(google-build-using-namespace)
using Span = std::span<const std::byte>;

void require(bool condition) {
  if (!condition) std::abort();
}

// Large enough for any IPv4 datagram; static so the fuzzer does no allocation per input.
std::array<std::byte, 65536 + 64> g_out;
std::array<std::byte, 65536 + 64> g_out2;

std::span<std::byte> out(std::size_t n) { return std::span(g_out).first(n); }
std::span<std::byte> out2(std::size_t n) { return std::span(g_out2).first(n); }

// a and b are equal but for the 16-bit checksum at `at`, which is compared when it was verified.
bool same_except(Span a, Span b, std::size_t at, ChecksumCheck check) {
  if (a.size() != b.size()) return false;
  if (!std::ranges::equal(a.first(at), b.first(at)) || !std::ranges::equal(a.subspan(at + 2), b.subspan(at + 2))) {
    return false;
  }
  if (check == ChecksumCheck::skip) return true;
  const auto x = load_be16(a, at), y = load_be16(b, at);
  return x == y || ((x == 0 || x == 0xFFFF) && (y == 0 || y == 0xFFFF));
}

void ethernet(Span data) {
  auto view = EthernetView::parse(data);
  if (!view) return;
  require(view->header_length() + view->payload().size() == data.size());
  const auto header = EthernetHeader::from(*view);
  require(header.length() == view->header_length());
  require(header.emit(out(header.length())));
  require(std::ranges::equal(out(header.length()), data.first(header.length())));  // no checksum: exact
  require(!header.emit(out(header.length() - 1)));
}

void arp(Span data) {
  auto packet = ArpPacket::parse(data);
  if (!packet) return;
  require(packet->emit(out(ArpPacket::length())));
  require(std::ranges::equal(out(ArpPacket::length()), data.first(ArpPacket::length())));
  auto again = ArpPacket::parse(out(ArpPacket::length()));
  require(again && *again == *packet);
}

void icmp(Span data, ChecksumCheck check) {
  auto message = Icmpv4Message::parse(data, check);
  if (!message) return;
  require(message->length() == data.size());
  require(message->emit(out(message->length())));
  auto again = Icmpv4Message::parse(out(message->length()));
  require(again && *again == *message);
  require(again->emit(out2(again->length())));
  require(std::ranges::equal(out(message->length()), out2(again->length())));
  // Every octet but the checksum comes back; a verified checksum may differ only by the two
  // one's complement representations of zero (0x0000 and 0xFFFF).
  require(same_except(out(message->length()), data, 2, check));
}

void udp(Span data, Ipv4Address src, Ipv4Address dst, ChecksumCheck check) {
  auto datagram = UdpDatagram::parse(data, src, dst, check);
  if (!datagram) return;
  require(datagram->length() <= data.size());
  require(datagram->emit(out(datagram->length()), src, dst));
  auto again = UdpDatagram::parse(out(datagram->length()), src, dst);
  require(again && *again == *datagram);
  require(again->emit(out2(again->length()), src, dst));
  require(std::ranges::equal(out(datagram->length()), out2(again->length())));
  require(same_except(out(datagram->length()), data.first(datagram->length()), 6,
                      datagram->with_checksum ? check : ChecksumCheck::verify));
}

// The option list alone: whatever parses emits to exactly length() octets and parses back equal.
// Unknown options are dropped and duplicates merged, so only the value, not the octets, comes back.
void tcp_options(Span list) {
  auto options = TcpOptions::parse(list);
  if (!options) return;
  const std::size_t n = options->length();
  require(n % 4 == 0 && options->sack_blocks().size() == options->sack_count);
  if (n > TcpOptions::kMaxLength) {  // see tcp() below
    require(options->emit(out(n)) == 0);
    return;
  }
  require(options->emit(out(n)) == n);
  if (n > 0) require(options->emit(out(n - 1)) == 0);
  auto again = TcpOptions::parse(out(n));
  require(again && *again == *options && again->length() == n);
}

void tcp(Span data, Ipv4Address src, Ipv4Address dst, ChecksumCheck check) {
  auto view = TcpView::parse(data, src, dst, check);
  if (!view) return;
  require(view->header_length() >= TcpView::kMinHeaderLength && view->header_length() <= TcpView::kMaxHeaderLength);
  require(view->header_length() + view->payload().size() == data.size());
  require(TcpOptions::parse(view->options()).has_value());  // the view promises its options parse
  tcp_options(view->options());
  const auto segment = TcpSegment::from(*view);
  require(segment.payload.size() == view->payload().size());
  // A list that fit in 40 octets can need more in the canonical layout, whose padding puts every
  // option on a word (SACK-permitted and window scale unpadded in 5 octets, then four SACK blocks
  // in 34, become 8 + 36): such a value is not re-emittable.
  if (segment.options.length() > TcpOptions::kMaxLength) {
    require(!segment.emit(out(segment.length()), src, dst));
    return;
  }
  require(segment.emit(out(segment.length()), src, dst));
  require(!segment.emit(out(segment.length() - 1), src, dst));
  auto again = TcpSegment::parse(out(segment.length()), src, dst);
  require(again && *again == segment);
  require(again->emit(out2(again->length()), src, dst));
  require(std::ranges::equal(out(segment.length()), out2(again->length())));
  // When the options were already in the canonical layout, every octet comes back.
  const auto emitted = out(segment.length());
  if (std::ranges::equal(emitted.subspan(TcpView::kMinHeaderLength, segment.options.length()), view->options())) {
    require(same_except(emitted, data, 16, check));
  }
}

void ipv4(Span data, ChecksumCheck check) {
  auto view = Ipv4View::parse(data, check);
  if (!view) return;
  require(view->header_length() >= 20 && view->header_length() <= 60);
  require(view->bytes().size() == view->total_length() && view->total_length() <= data.size());
  const auto header = Ipv4Header::from(*view);
  require(header.total_length() == view->total_length());
  // Emit the header and copy the payload behind it, so the packet re-parses as a whole.
  require(header.emit(out(header.length())));
  std::ranges::copy(view->payload(), out(header.total_length()).begin() + static_cast<std::ptrdiff_t>(header.length()));
  auto again = Ipv4Header::parse(out(header.total_length()));
  require(again && *again == header);
  require(same_except(out(header.total_length()), view->bytes(), 10, check));
  switch (view->protocol()) {
    case kIpProtocolIcmp:
      icmp(view->payload(), check);
      break;
    case kIpProtocolUdp:
      udp(view->payload(), view->source(), view->destination(), check);
      break;
    case kIpProtocolTcp:
      tcp(view->payload(), view->source(), view->destination(), check);
      break;
    default:
      break;
  }
}

void frame(Span data) {
  ethernet(data);
  auto eth = EthernetView::parse(data);
  if (!eth) return;
  switch (eth->ethertype()) {
    case kEthertypeArp:
      arp(eth->payload());
      break;
    case kEthertypeIpv4:
      ipv4(eth->payload(), ChecksumCheck::verify);
      ipv4(eth->payload(), ChecksumCheck::skip);
      break;
    default:
      break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Span input = std::as_bytes(std::span(data, size));
  frame(input);
  arp(input);
  for (auto check : {ChecksumCheck::verify, ChecksumCheck::skip}) {
    ipv4(input, check);
    icmp(input, check);
    const auto src = Ipv4Address::from_octets(10, 0, 0, 1);
    const auto dst = Ipv4Address::from_octets(10, 0, 0, 2);
    udp(input, src, dst, check);
    tcp(input, src, dst, check);
  }
  tcp_options(input.first(std::min<std::size_t>(input.size(), TcpOptions::kMaxLength)));
  return 0;
}
