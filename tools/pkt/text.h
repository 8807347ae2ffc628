// Small text helpers shared by pkt's subcommands.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pktd::pkt {

// Left-aligned (pad) or right-aligned (pad_left) in width columns; longer text is kept whole.
std::string pad(std::string text, size_t width);
std::string pad_left(std::string text, size_t width);
// Drops trailing spaces.
std::string trim_right(std::string text);

// "1500" -> 1500; nullopt unless all digits and within 32 bits.
std::optional<uint32_t> parse_u32(const std::string& word);
// "1", "0.2", ".5" -> seconds; nullopt for anything else (signs, exponents, text).
std::optional<double> parse_seconds(const std::string& word);
// 1 -> "1", 0.25 -> "0.25": seconds as a person typed them.
std::string format_seconds(double seconds);

// Octets as text: printable ASCII as is, the rest as \xNN.
std::string printable(std::string_view octets);

}  // namespace pktd::pkt
