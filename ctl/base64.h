// Base64 (RFC 4648 section 4: the standard alphabet, '=' padding): how the control protocol
// carries arbitrary octets (datagrams, captured frames) inside JSON strings.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace pktd::ctl {

std::string base64_encode(std::string_view octets);

// Strict: the length a multiple of 4, padding only at the end, no whitespace, unused bits zero.
// nullopt for anything else.
std::optional<std::string> base64_decode(std::string_view text);

}  // namespace pktd::ctl
