#include "fault_settings.h"

#include <charconv>
#include <cmath>
#include <cstdio>

namespace devnp_wire {
namespace {

std::string quoted(std::string_view key, std::string_view value) {
  return std::string(key) + "=" + std::string(value);
}

// The whole of text as a finite number, or nothing.
std::optional<double> parse_decimal(std::string_view text) {
  double v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v, std::chars_format::fixed);
  if (text.empty() || ec != std::errc() || ptr != end || !std::isfinite(v)) return std::nullopt;
  return v;
}

std::optional<uint64_t> parse_unsigned(std::string_view text) {
  uint64_t v = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, v);
  if (text.empty() || ec != std::errc() || ptr != end) return std::nullopt;
  return v;
}

std::string_view strip_suffix(std::string_view text, std::string_view suffix) {
  if (text.size() > suffix.size() && text.ends_with(suffix)) text.remove_suffix(suffix.size());
  return text;
}

// "5", "0.5" or "5%".
std::string parse_percent(std::string_view key, std::string_view value, double& out) {
  std::optional<double> v = parse_decimal(strip_suffix(value, "%"));
  if (!v || *v < 0 || *v > 100)
    return quoted(key, value) + ": expected a percentage from 0 to 100 (decimals allowed)";
  out = *v == 0 ? 0.0 : *v;  // "-0" is 0
  return "";
}

// "10" or "10ms": whole milliseconds.
std::string parse_ms(std::string_view key, std::string_view value, uint32_t& out) {
  std::optional<uint64_t> v = parse_unsigned(strip_suffix(value, "ms"));
  if (!v || *v > kMaxDelayMs)
    return quoted(key, value) + ": expected whole milliseconds from 0 to " +
           std::to_string(kMaxDelayMs);
  out = static_cast<uint32_t>(*v);
  return "";
}

// Bits per second: "0" (unlimited), "64000", "10M", "1.5G"; k, M, G are powers of 1000 (as
// line rates are), "bit" or "bps" may follow.
std::string parse_rate(std::string_view key, std::string_view value, uint64_t& out) {
  std::string_view text = strip_suffix(strip_suffix(value, "bps"), "bit");
  double scale = 1;
  if (!text.empty()) {
    switch (text.back()) {
      case 'k':
      case 'K': scale = 1e3; break;
      case 'm':
      case 'M': scale = 1e6; break;
      case 'g':
      case 'G': scale = 1e9; break;
      default: break;
    }
    if (scale != 1) text.remove_suffix(1);
  }
  std::optional<double> v = parse_decimal(text);
  double bps = v ? std::round(*v * scale) : -1;
  bool ok = bps == 0 ||
            (bps >= static_cast<double>(kMinRateBps) && bps <= static_cast<double>(kMaxRateBps));
  if (!v || !ok)
    return quoted(key, value) + ": expected bits per second, 0 (unlimited) or 1k to 100G " +
           "(k, M, G suffixes)";
  out = static_cast<uint64_t>(bps);
  return "";
}

std::string parse_rate_queue(std::string_view key, std::string_view value, uint32_t& out) {
  std::optional<uint64_t> v = parse_unsigned(value);
  if (!v || *v == 0 || *v > kMaxRateQueue)
    return quoted(key, value) + ": expected a number of frames from 1 to " +
           std::to_string(kMaxRateQueue);
  out = static_cast<uint32_t>(*v);
  return "";
}

std::string parse_seed(std::string_view key, std::string_view value, FaultConfig& out) {
  std::optional<uint64_t> v = parse_unsigned(value);
  if (!v) return quoted(key, value) + ": expected a number from 0 to 18446744073709551615";
  out.seed = *v;
  return "";
}

std::string apply_setting(std::string_view key, std::string_view value, FaultSettings& s) {
  if (key == "loss") return parse_percent(key, value, s.loss_pct);
  if (key == "dup") return parse_percent(key, value, s.dup_pct);
  if (key == "reorder") return parse_percent(key, value, s.reorder_pct);
  if (key == "corrupt") return parse_percent(key, value, s.corrupt_pct);
  if (key == "delay") return parse_ms(key, value, s.delay_ms);
  if (key == "jitter") return parse_ms(key, value, s.jitter_ms);
  if (key == "rate") return parse_rate(key, value, s.rate_bps);
  if (key == "ratequeue") return parse_rate_queue(key, value, s.rate_queue);
  return "unknown fault setting '" + std::string(key) + "'";
}

// %g-like but never in exponent form: "5", "0.25", "12.5".
std::string format_percent(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6f", v);
  std::string s = buf;
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

bool FaultSettings::any() const {
  return loss_pct > 0 || dup_pct > 0 || reorder_pct > 0 || corrupt_pct > 0 || delay_ms > 0 ||
         jitter_ms > 0 || rate_bps > 0;
}

bool is_fault_option(std::string_view key) {
  for (std::string_view k :
       {"loss", "dup", "reorder", "corrupt", "delay", "jitter", "rate", "ratequeue", "seed"})
    if (key == k) return true;
  return false;
}

std::string apply_fault_option(std::string_view key, std::string_view value, FaultConfig& out) {
  if (value.empty()) return std::string(key) + " needs a value (" + std::string(key) + "=...)";
  if (key == "seed") return parse_seed(key, value, out);
  FaultSettings changed = out.settings;
  std::string error = apply_setting(key, value, changed);
  if (error.empty()) out.settings = changed;
  return error;
}

std::string format_rate(uint64_t bps) {
  struct Unit {
    uint64_t size;
    const char* suffix;
  };
  for (Unit u : {Unit{1'000'000'000, "G"}, Unit{1'000'000, "M"}, Unit{1'000, "k"}})
    if (bps >= u.size && bps % u.size == 0) return std::to_string(bps / u.size) + u.suffix;
  return std::to_string(bps);
}

std::string format_settings(const FaultSettings& s) {
  return "loss=" + format_percent(s.loss_pct) + " dup=" + format_percent(s.dup_pct) +
         " reorder=" + format_percent(s.reorder_pct) + " corrupt=" + format_percent(s.corrupt_pct) +
         " delay=" + std::to_string(s.delay_ms) + " jitter=" + std::to_string(s.jitter_ms) +
         " rate=" + format_rate(s.rate_bps) + " ratequeue=" + std::to_string(s.rate_queue);
}

}  // namespace devnp_wire
