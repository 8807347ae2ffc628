// Ephemeral port selection for connect() without bind(): RFC 6056 3.3.4, "Algorithm 4:
// Double-Hash Port Selection Algorithm".
//
// Each destination (local address, remote address, remote port) gets its own starting point in the
// range, offset = F(addresses, port, key), so an attacker who sees the ports we use towards one
// destination learns nothing about those towards another (the idea of RFC 6056 3.3.3, which
// Algorithm 4 builds on). The ports used towards one destination then follow each other: a
// counter, table[G(addresses, port, key)], moves on by one for every port tried, so consecutive
// connections to the same destination get consecutive ports and a four-tuple is reused as late as
// possible (a recent one may still be in TIME-WAIT at the peer). RFC 6056 3.3.4:
//
//   port = min_ephemeral + (offset + table[index]) % num_ephemeral;
//   table[index]++;
//
// The table: RFC 6056 3.3.4 fills it with random values and indexes it with a second keyed hash G.
// Destinations that share a slot share a counter; a small table lets an observer who makes a
// device connect to many of its own servers find which destinations share slots and track the
// device by that (Klein and Pinkas, "Device tracking via Linux's new TCP source port selection
// algorithm", USENIX Security 2022). Linux answered with a table of 2^16 slots; pktd's default is
// the same (128 KiB), smaller tables are for tests.
//
// Not done: Linux's preference for even or odd ports (bind takes even, connect odd) and its random
// extra step of the counter; RFC 6056 3.3.4 has neither. The counters wrap modulo the range size,
// so a range change is harmless (the values were random to start with).
//
// Pure but for random_sip_key in the default constructor argument; stack context only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "base/siphash.h"
#include "wire/address.h"

namespace pktd::tcp {

// An inclusive range of ports, as Linux's ip_local_port_range; its default is Linux's.
struct PortRange {
  std::uint16_t first = 32768;
  std::uint16_t last = 60999;

  // 1 <= first <= last: port 0 means "any" and can never be a connection's port.
  [[nodiscard]] constexpr bool valid() const { return first >= 1 && first <= last; }
  [[nodiscard]] constexpr std::uint32_t size() const { return std::uint32_t{last} - first + 1; }
  friend constexpr bool operator==(const PortRange&, const PortRange&) = default;
};

struct PortSelectionStats {
  std::uint64_t picks = 0;          // pick calls that found a port
  std::uint64_t ports_tried = 0;    // candidates offered to the usable check
  std::uint64_t exhausted = 0;      // pick calls that tried the whole range in vain
};

class PortSelector {
 public:
  // 2^16 slots, as Linux (see above).
  static constexpr std::size_t kDefaultTableSize = std::size_t{1} << 16;

  // key seeds both hashes and the table's random start values; table_size (at least 1) is the
  // number of counters.
  explicit PortSelector(SipKey key = random_sip_key(), std::size_t table_size = kDefaultTableSize);

  // Changes the range (sysctl ip_local_port_range). Returns false, keeping the old range, for an
  // invalid one.
  [[nodiscard]] bool set_range(PortRange range);
  [[nodiscard]] PortRange range() const { return range_; }
  // The secret behind both hashes. Other keyed choices may share it: SipHash is a PRF, so its
  // values for inputs of another length are independent of these.
  [[nodiscard]] const SipKey& key() const { return key_; }

  // Offers ports to usable, in RFC 6056 3.3.4's order for this destination, until it returns true
  // (the four-tuple is free: no connection or TIME-WAIT holds it, and no bound socket forbids it);
  // returns that port. Returns nullopt once every port of the range was offered exactly once: the
  // caller fails connect() with EADDRNOTAVAIL, as Linux does. usable is called as
  // bool(std::uint16_t port) and must not call back into this selector.
  template <typename Usable>
  [[nodiscard]] std::optional<std::uint16_t> pick(wire::Ipv4Address local,
                                                  wire::Ipv4Address remote,
                                                  std::uint16_t remote_port, Usable&& usable);

  [[nodiscard]] const PortSelectionStats& stats() const { return stats_; }

  // Exposed for tests: F's offset and G's slot for a destination.
  [[nodiscard]] std::uint32_t offset_of(wire::Ipv4Address local, wire::Ipv4Address remote,
                                        std::uint16_t remote_port) const;
  [[nodiscard]] std::size_t slot_of(wire::Ipv4Address local, wire::Ipv4Address remote,
                                    std::uint16_t remote_port) const;
  [[nodiscard]] std::uint16_t counter(std::size_t slot) const { return table_[slot]; }

 private:
  // Where one pick starts: the first candidate's position in the range and the counter to advance.
  struct Walk {
    std::uint32_t start = 0;  // in [0, range size)
    std::size_t slot = 0;
  };
  [[nodiscard]] Walk begin_walk(wire::Ipv4Address local, wire::Ipv4Address remote,
                                std::uint16_t remote_port) const;
  [[nodiscard]] std::uint16_t port_at(const Walk& walk, std::uint32_t step) const;
  // RFC 6056 3.3.4's table[index]++ once per port tried, kept modulo the range size.
  void advance(std::size_t slot, std::uint32_t tried);

  SipKey key_;
  PortRange range_;
  std::vector<std::uint16_t> table_;
  PortSelectionStats stats_;
};

template <typename Usable>
std::optional<std::uint16_t> PortSelector::pick(wire::Ipv4Address local, wire::Ipv4Address remote,
                                                std::uint16_t remote_port, Usable&& usable) {
  const Walk walk = begin_walk(local, remote, remote_port);
  const std::uint32_t count = range_.size();
  for (std::uint32_t step = 0; step < count; ++step) {
    const std::uint16_t port = port_at(walk, step);
    ++stats_.ports_tried;
    if (usable(port)) {
      advance(walk.slot, step + 1);
      ++stats_.picks;
      return port;
    }
  }
  advance(walk.slot, count);
  ++stats_.exhausted;
  return std::nullopt;
}

}  // namespace pktd::tcp
