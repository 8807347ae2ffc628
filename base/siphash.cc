#include "base/siphash.h"

#include <sys/random.h>

#include <chrono>
#include <cstring>

namespace pktd {

namespace {

constexpr std::uint64_t rotate_left(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

struct SipState {
  std::uint64_t v0, v1, v2, v3;

  void round() {
    v0 += v1;
    v1 = rotate_left(v1, 13);
    v1 ^= v0;
    v0 = rotate_left(v0, 32);
    v2 += v3;
    v3 = rotate_left(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = rotate_left(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = rotate_left(v1, 17);
    v1 ^= v2;
    v2 = rotate_left(v2, 32);
  }
  // c = 2 rounds per message word.
  void absorb(std::uint64_t m) {
    v3 ^= m;
    round();
    round();
    v0 ^= m;
  }
};

std::uint64_t load_le64(const std::byte* p, std::size_t n) {
  std::uint64_t word = 0;
  for (std::size_t i = 0; i < n; ++i) word |= std::uint64_t{static_cast<std::uint8_t>(p[i])} << (8 * i);
  return word;
}

}  // namespace

std::uint64_t siphash24(const SipKey& key, std::span<const std::byte> data) {
  // The initialisation constants spell "somepseudorandomlygeneratedbytes".
  SipState s{key[0] ^ 0x736f6d6570736575ULL, key[1] ^ 0x646f72616e646f6dULL,
             key[0] ^ 0x6c7967656e657261ULL, key[1] ^ 0x7465646279746573ULL};
  const std::size_t whole = data.size() / 8 * 8;
  for (std::size_t i = 0; i < whole; i += 8) s.absorb(load_le64(data.data() + i, 8));
  // The last word: the remaining octets, and the length (mod 256) in the top octet.
  std::uint64_t last = load_le64(data.data() + whole, data.size() - whole) |
                       (std::uint64_t{data.size() & 0xFF} << 56);
  s.absorb(last);
  s.v2 ^= 0xFF;
  for (int i = 0; i < 4; ++i) s.round();  // d = 4 finalisation rounds
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

SipKey random_sip_key() {
  SipKey key{};
  if (getrandom(key.data(), sizeof key, 0) == static_cast<ssize_t>(sizeof key)) return key;
  int local = 0;
  key[0] = static_cast<std::uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  key[1] = reinterpret_cast<std::uintptr_t>(&local) ^ 0x9E3779B97F4A7C15ULL;
  return key;
}

}  // namespace pktd
