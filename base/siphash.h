// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed hash
// whose output an observer cannot predict without the key. RFC 6528 asks for such a function
// for TCP's initial sequence numbers, RFC 6056 for ephemeral ports.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace pktd {

using SipKey = std::array<std::uint64_t, 2>;  // k0, k1: the 16 key octets, little-endian

// The 64-bit SipHash-2-4 of data under key.
std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> data);

// A key from the kernel's random source (getrandom); never fails in practice (it waits for the
// pool at boot), and falls back to the clock and the address of a stack variable if it does.
SipKey random_sip_key();

}  // namespace pktd
