// What the wire's fault injector does to the frames one end sends, and the text form of it: the
// same KEY=VALUE words serve as mount options (-d wire,link=L,loss=5) and as run-time requests
// (pkt nicinfo wire0 loss=5 delay=0). Pure C++: no SDK, so the unit test links it alone.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace devnp_wire {

struct FaultSettings {
  double loss_pct = 0;       // frames dropped
  double dup_pct = 0;        // frames sent twice
  double reorder_pct = 0;    // frames held back until the next frame has gone
  double corrupt_pct = 0;    // frames with one bit flipped past the Ethernet header
  uint32_t delay_ms = 0;     // added to every frame's flight time
  uint32_t jitter_ms = 0;    // delay varies uniformly by up to this much either way
  uint64_t rate_bps = 0;     // bits per second; 0: unlimited
  uint32_t rate_queue = 64;  // frames that may wait for the rate limit; beyond: dropped

  // Whether any setting changes a frame's fate; all zero passes frames straight through.
  bool any() const;
  bool operator==(const FaultSettings&) const = default;
};

inline constexpr uint32_t kMaxDelayMs = 60'000;
inline constexpr uint64_t kMinRateBps = 1'000;
inline constexpr uint64_t kMaxRateBps = 100'000'000'000;  // 100G
inline constexpr uint32_t kMaxRateQueue = 10'000;

// Settings plus, when given, the seed of the injector's random numbers.
struct FaultConfig {
  FaultSettings settings;
  std::optional<uint64_t> seed;
};

// Whether key names a fault option (loss, dup, reorder, corrupt, delay, jitter, rate, ratequeue,
// seed).
bool is_fault_option(std::string_view key);

// Applies KEY=VALUE to out. "" on success, else the reason in words ("loss=150: expected a
// percentage from 0 to 100"); out is then unchanged.
std::string apply_fault_option(std::string_view key, std::string_view value, FaultConfig& out);

// "loss=5 dup=0 reorder=0 corrupt=0 delay=10 jitter=2 rate=10M ratequeue=64": the settings in the
// syntax apply_fault_option reads back.
std::string format_settings(const FaultSettings& s);

// A rate in the same syntax ("0", "10M", "1.5k", "123456").
std::string format_rate(uint64_t bps);

}  // namespace devnp_wire
