// wire::Result<T>: a parsed value or the reason it was rejected (std::expected is C++23; g++ 12 lacks it).
//
// Every parser in wire/ returns one. The error is a ParseError precise enough to count drops per
// reason (STYLE.md "Every drop is counted, with its reason"). Nothing here allocates or throws.
#pragma once

#include <cstddef>
#include <exception>
#include <string_view>
#include <type_traits>

namespace pktd::wire {

enum class ParseError : unsigned char {
  truncated,             // the buffer ends before a header, or before the length a header claims
  bad_ethertype,         // IEEE 802.3 3.2.6: a type/length field below 0x0600 is a length (not Ethernet II)
  bad_vlan_id,           // IEEE 802.1Q 9.6, Table 9-2: VID 0xFFF is reserved and never sent
  unsupported_hardware,  // RFC 826: ar$hrd is not Ethernet (1)
  unsupported_protocol,  // RFC 826: ar$pro is not IPv4 (0x0800)
  bad_address_length,    // RFC 826: ar$hln/ar$pln are not 6/4 for Ethernet/IPv4
  bad_operation,         // RFC 826: ar$op is neither request (1) nor reply (2)
  bad_version,           // RFC 791 3.1: Version is not 4
  bad_header_length,     // RFC 791 3.1: IHL below 5 (20 octets is the minimum header)
  bad_total_length,      // RFC 791 3.1: Total Length smaller than the header
  bad_fragment,          // RFC 791 3.2: fragment past 65535 octets, or a non-last fragment not a multiple of 8
  bad_checksum,          // RFC 1071 sum of the covered octets is not 0xFFFF
  bad_length,            // RFC 768: UDP Length below the 8-octet header; RFC 9293 3.1: a TCP segment longer
                         // than the pseudo-header's 16-bit TCP Length can describe
  bad_data_offset,       // RFC 9293 3.1: TCP Data Offset below 5 words, or the header it gives past the segment
  bad_option,            // RFC 9293 3.1 Options (MUST-7): an option length below 2 or past the header, or a
                         // known kind with a length other than its RFC's (RFC 9293 3.2, RFC 7323, RFC 2018)
};

inline constexpr std::size_t kParseErrorCount = static_cast<std::size_t>(ParseError::bad_option) + 1;

constexpr std::string_view to_string(ParseError error) {
  switch (error) {
    case ParseError::truncated: return "truncated";
    case ParseError::bad_ethertype: return "bad_ethertype";
    case ParseError::bad_vlan_id: return "bad_vlan_id";
    case ParseError::unsupported_hardware: return "unsupported_hardware";
    case ParseError::unsupported_protocol: return "unsupported_protocol";
    case ParseError::bad_address_length: return "bad_address_length";
    case ParseError::bad_operation: return "bad_operation";
    case ParseError::bad_version: return "bad_version";
    case ParseError::bad_header_length: return "bad_header_length";
    case ParseError::bad_total_length: return "bad_total_length";
    case ParseError::bad_fragment: return "bad_fragment";
    case ParseError::bad_checksum: return "bad_checksum";
    case ParseError::bad_length: return "bad_length";
    case ParseError::bad_data_offset: return "bad_data_offset";
    case ParseError::bad_option: return "bad_option";
  }
  return "unknown";
}

// Value or ParseError. Accessing the wrong alternative is a programming error and terminates
// (never undefined behaviour, never an exception on the data path). Views and value structs are
// trivially copyable, so a plain union suffices.
template <class T>
class [[nodiscard]] Result {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  constexpr Result(T value) : value_(value), ok_(true) {}          // NOLINT: implicit, like expected
  constexpr Result(ParseError error) : error_(error), ok_(false) {}  // NOLINT

  [[nodiscard]] constexpr bool has_value() const { return ok_; }
  constexpr explicit operator bool() const { return ok_; }

  [[nodiscard]] constexpr const T& value() const {
    if (!ok_) std::terminate();
    return value_;
  }
  [[nodiscard]] constexpr T& value() {
    if (!ok_) std::terminate();
    return value_;
  }
  constexpr const T& operator*() const { return value(); }
  constexpr T& operator*() { return value(); }
  constexpr const T* operator->() const { return &value(); }
  constexpr T* operator->() { return &value(); }

  [[nodiscard]] constexpr ParseError error() const {
    if (ok_) std::terminate();
    return error_;
  }

 private:
  union {
    T value_;
    ParseError error_;
  };
  bool ok_;
};

}  // namespace pktd::wire
