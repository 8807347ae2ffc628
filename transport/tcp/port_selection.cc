#include "transport/tcp/port_selection.h"

#include <array>
#include <span>

namespace pktd::tcp {
namespace {

// RFC 6056 3.3.4 asks for two keys (secret_key1 for F, secret_key2 for G) and a random table; one
// SipHash key with a distinct leading tag per use gives three independent functions.
enum class HashTag : std::uint8_t { offset = 1, slot = 2, table = 3 };

std::uint64_t hash_destination(const SipKey& key, HashTag tag, wire::Ipv4Address local,
                               wire::Ipv4Address remote, std::uint16_t remote_port) {
  std::array<std::byte, 11> input{};
  std::size_t at = 0;
  auto put = [&](std::uint32_t v, std::size_t octets) {
    for (std::size_t i = octets; i-- > 0;) input[at++] = std::byte(v >> (8 * i));
  };
  put(static_cast<std::uint8_t>(tag), 1);
  put(local.value, 4);
  put(remote.value, 4);
  put(remote_port, 2);
  return siphash24(key, input);
}

// The i-th 64 bits of the keyed stream that fills the table.
std::uint64_t table_word(const SipKey& key, std::uint64_t i) {
  std::array<std::byte, 9> input{};
  input[0] = std::byte(static_cast<std::uint8_t>(HashTag::table));
  for (std::size_t k = 0; k < 8; ++k) input[1 + k] = std::byte(i >> (8 * (7 - k)));
  return siphash24(key, input);
}

}  // namespace

PortSelector::PortSelector(SipKey key, std::size_t table_size)
    : key_(key), table_(table_size == 0 ? 1 : table_size) {
  // RFC 6056 3.3.4: "table[i] = random() % 65536", here from the keyed stream, four per word.
  for (std::size_t i = 0; i < table_.size(); ++i) {
    const std::uint64_t word = table_word(key_, i / 4);
    table_[i] = static_cast<std::uint16_t>(word >> (16 * (i % 4)));
  }
}

bool PortSelector::set_range(PortRange range) {
  if (!range.valid()) return false;
  range_ = range;
  return true;
}

std::uint32_t PortSelector::offset_of(wire::Ipv4Address local, wire::Ipv4Address remote,
                                      std::uint16_t remote_port) const {
  return static_cast<std::uint32_t>(
      hash_destination(key_, HashTag::offset, local, remote, remote_port));
}

std::size_t PortSelector::slot_of(wire::Ipv4Address local, wire::Ipv4Address remote,
                                  std::uint16_t remote_port) const {
  return static_cast<std::size_t>(
      hash_destination(key_, HashTag::slot, local, remote, remote_port) % table_.size());
}

PortSelector::Walk PortSelector::begin_walk(wire::Ipv4Address local, wire::Ipv4Address remote,
                                            std::uint16_t remote_port) const {
  Walk walk;
  walk.slot = slot_of(local, remote, remote_port);
  const std::uint64_t n = range_.size();
  // (offset + table[index]) % num_ephemeral, computed in 64 bits so nothing wraps.
  walk.start = static_cast<std::uint32_t>(
      (std::uint64_t{offset_of(local, remote, remote_port)} + table_[walk.slot]) % n);
  return walk;
}

std::uint16_t PortSelector::port_at(const Walk& walk, std::uint32_t step) const {
  // start < size and step < size <= 65535: the sum fits easily.
  const std::uint32_t position = (walk.start + step) % range_.size();
  return static_cast<std::uint16_t>(range_.first + position);
}

void PortSelector::advance(std::size_t slot, std::uint32_t tried) {
  // Kept modulo the range size rather than 2^16: a counter wrapping at 2^16 would jump to another
  // place in the sequence (2^16 is not a multiple of the range size).
  const std::uint32_t n = range_.size();
  table_[slot] = static_cast<std::uint16_t>((table_[slot] % n + tried % n) % n);
}

}  // namespace pktd::tcp
