#include "tools/pkt/text.h"

#include <cstdio>
#include <cstdlib>

namespace pktd::pkt {

std::string pad(std::string text, size_t width) {
  if (text.size() < width) text.resize(width, ' ');
  return text;
}

std::string pad_left(std::string text, size_t width) {
  if (text.size() < width) text.insert(0, width - text.size(), ' ');
  return text;
}

std::string trim_right(std::string text) {
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

std::optional<uint32_t> parse_u32(const std::string& word) {
  if (word.empty() || word.size() > 10 || word.find_first_not_of("0123456789") != std::string::npos)
    return std::nullopt;
  uint64_t v = std::stoull(word);
  if (v > UINT32_MAX) return std::nullopt;
  return static_cast<uint32_t>(v);
}

std::optional<double> parse_seconds(const std::string& word) {
  size_t dot = word.find('.');
  bool digits_only = word.find_first_not_of("0123456789.") == std::string::npos;
  bool one_dot = dot == std::string::npos || word.find('.', dot + 1) == std::string::npos;
  if (word.empty() || word == "." || word.size() > 12 || !digits_only || !one_dot)
    return std::nullopt;
  return std::strtod(word.c_str(), nullptr);
}

std::string format_seconds(double seconds) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", seconds);
  return text;
}

std::string printable(std::string_view octets) {
  std::string out;
  for (char c : octets) {
    auto u = static_cast<unsigned char>(c);
    if (u >= 0x20 && u < 0x7f) {
      out += c;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02x", u);
      out += hex;
    }
  }
  return out;
}

}  // namespace pktd::pkt
