#include "transport/tcp/isn.h"

#include <array>
#include <chrono>
#include <cstring>

namespace pktd::tcp {

Seq IsnGenerator::computed(const Endpoints& e, time::TimePoint now) const {
  // F: the keyed hash of the four-tuple, in a fixed layout.
  std::array<std::byte, 12> tuple{};
  auto put32 = [&](std::size_t at, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) tuple[at + static_cast<std::size_t>(i)] = std::byte(v >> (24 - 8 * i));
  };
  put32(0, e.local.value);
  put32(4, e.remote.value);
  put32(8, static_cast<std::uint32_t>(e.local_port) << 16 | e.remote_port);
  auto f = static_cast<std::uint32_t>(siphash24(key_, tuple));
  // M: RFC 6528 3 (after RFC 793): "a timer that is incremented every 4 microseconds".
  auto ticks = std::chrono::duration_cast<std::chrono::microseconds>(now.time_since_epoch()).count() / 4;
  return Seq(static_cast<std::uint32_t>(ticks) + f);
}

}  // namespace pktd::tcp
