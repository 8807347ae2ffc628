#include "ctl/base64.h"

#include <array>
#include <cstdint>

namespace pktd::ctl {

namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr int kInvalid = -1;

constexpr std::array<int, 256> make_decode_table() {
  std::array<int, 256> table{};
  table.fill(kInvalid);
  for (size_t i = 0; i < kAlphabet.size(); ++i)
    table[static_cast<unsigned char>(kAlphabet[i])] = static_cast<int>(i);
  return table;
}
constexpr std::array<int, 256> kDecode = make_decode_table();

char sextet(uint32_t group, int shift) { return kAlphabet[(group >> shift) & 0x3fu]; }

// One group of four characters; pad is how many of them are '=' (0 to 2).
bool decode_group(std::string_view quad, size_t pad, std::string* out) {
  uint32_t group = 0;
  for (size_t i = 0; i < 4; ++i) {
    int v = i < 4 - pad ? kDecode[static_cast<unsigned char>(quad[i])] : 0;
    if (v == kInvalid) return false;
    group = (group << 6) | static_cast<uint32_t>(v);
  }
  // The bits the padding stands for must be zero (RFC 4648 3.5: canonical encoding).
  if ((pad == 1 && (group & 0xffu) != 0) || (pad == 2 && (group & 0xffffu) != 0)) return false;
  out->push_back(static_cast<char>(group >> 16));
  if (pad < 2) out->push_back(static_cast<char>((group >> 8) & 0xffu));
  if (pad < 1) out->push_back(static_cast<char>(group & 0xffu));
  return true;
}

}  // namespace

std::string base64_encode(std::string_view octets) {
  std::string out;
  out.reserve((octets.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(octets[k])); };
  for (; i + 3 <= octets.size(); i += 3) {
    uint32_t group = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    for (int shift : {18, 12, 6, 0}) out.push_back(sextet(group, shift));
  }
  size_t rest = octets.size() - i;
  if (rest == 0) return out;
  uint32_t group = (at(i) << 16) | (rest == 2 ? at(i + 1) << 8 : 0);
  out.push_back(sextet(group, 18));
  out.push_back(sextet(group, 12));
  out.push_back(rest == 2 ? sextet(group, 6) : '=');
  out.push_back('=');
  return out;
}

std::optional<std::string> base64_decode(std::string_view text) {
  if (text.size() % 4 != 0) return std::nullopt;
  std::string out;
  out.reserve(text.size() / 4 * 3);
  for (size_t i = 0; i < text.size(); i += 4) {
    std::string_view quad = text.substr(i, 4);
    bool last = i + 4 == text.size();
    size_t pad = !last ? 0 : quad[3] != '=' ? 0 : quad[2] != '=' ? 1 : 2;
    if (!decode_group(quad, pad, &out)) return std::nullopt;
  }
  return out;
}

}  // namespace pktd::ctl
