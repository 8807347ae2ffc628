#include "wire/icmpv4.h"

#include <algorithm>
#include <cstring>

namespace pktd::wire {

Result<Icmpv4View> Icmpv4View::parse(std::span<const std::byte> message, ChecksumCheck check) {
  if (message.size() < kHeaderLength) return ParseError::truncated;
  if (check == ChecksumCheck::verify) {
    InternetChecksum sum;
    sum.add(message);  // RFC 792: over the whole ICMP message, checksum field included
    if (!sum.verifies()) return ParseError::bad_checksum;
  }
  return Icmpv4View(message);
}

Result<Icmpv4Message> Icmpv4Message::parse(std::span<const std::byte> message, ChecksumCheck check) {
  auto view = Icmpv4View::parse(message, check);
  if (!view) return view.error();
  return from(*view);
}

Icmpv4Message Icmpv4Message::from(const Icmpv4View& view) {
  return {view.type(), view.code(), view.rest_of_header(), view.payload()};
}

bool Icmpv4Message::emit(std::span<std::byte> out) const {
  if (out.size() < length()) return false;
  if (!payload.empty()) std::memmove(out.subspan(Icmpv4View::kHeaderLength).data(), payload.data(), payload.size());
  store_u8(out, 0, type);
  store_u8(out, 1, code);
  store_be16(out, 2, 0);  // RFC 792: "For computing the checksum, the checksum field should be zero."
  store_be32(out, 4, rest_of_header);
  store_be16(out, 2, internet_checksum(out.first(length())));
  return true;
}

bool operator==(const Icmpv4Message& a, const Icmpv4Message& b) {
  return a.type == b.type && a.code == b.code && a.rest_of_header == b.rest_of_header &&
         std::ranges::equal(a.payload, b.payload);
}

}  // namespace pktd::wire
