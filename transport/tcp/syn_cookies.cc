#include "transport/tcp/syn_cookies.h"

#include <cstddef>
#include <span>

namespace pktd::tcp {
namespace {

// The cookie's layout (see the header): 4 masked bits of metadata above a 28-bit MAC.
constexpr std::uint32_t kMacBits = 28;
constexpr std::uint32_t kMacMask = (1U << kMacBits) - 1;
constexpr std::uint32_t kCounterBits = 2;
constexpr std::uint32_t kCounterMask = (1U << kCounterBits) - 1;
constexpr std::uint32_t kMssIndexBits = 2;
constexpr std::uint32_t kMssIndexMask = (1U << kMssIndexBits) - 1;
static_assert(SynCookies::kMssTable.size() == 1U << kMssIndexBits);
// An age of kCounterMask is out of the window, so a cookie from one tick in the future (which a
// monotonic clock cannot produce) or kCounterMask ticks old is refused without the MAC.
static_assert(SynCookies::kMaxAgeTicks < kCounterMask + 1);

// The two hashes use one key; a leading tag keeps their inputs apart.
enum class HashTag : std::uint8_t { mask = 1, mac = 2 };

// The inputs of a hash in a fixed big-endian layout: tag, addresses, ports, ISN, then extras.
class HashInput {
 public:
  HashInput(HashTag tag, const Endpoints& e, Seq peer_isn) {
    put(static_cast<std::uint8_t>(tag), 1);
    put(e.local.value, 4);
    put(e.remote.value, 4);
    put(e.local_port, 2);
    put(e.remote_port, 2);
    put(peer_isn.value(), 4);
  }
  void put(std::uint64_t v, std::size_t octets) {
    for (std::size_t i = octets; i-- > 0;) bytes_[size_++] = std::byte(v >> (8 * i));
  }
  [[nodiscard]] std::span<const std::byte> bytes() const {
    return std::span<const std::byte>(bytes_).first(size_);
  }

 private:
  std::array<std::byte, 32> bytes_{};
  std::size_t size_ = 0;
};

constexpr std::uint32_t kNoWindowScale = 15;  // the 4-bit field's value when the SYN had none
constexpr std::uint32_t kSackBit = 1U << 4;
constexpr std::uint32_t kTsOptionMask = (1U << SynCookies::kTsOptionBits) - 1;

std::uint32_t encode_ts_options(std::optional<std::uint8_t> wscale, bool sack) {
  std::uint32_t bits = kNoWindowScale;
  // RFC 7323 2.3: "If a Window Scale option is received with a shift.cnt value larger than 14,
  // the TCP SHOULD log the error but MUST use 14 instead of the specified value."
  if (wscale) bits = *wscale < SynCookies::kMaxWindowScale ? *wscale : SynCookies::kMaxWindowScale;
  if (sack) bits |= kSackBit;
  return bits;
}

// The TSval carrying the options: tsval_now with its low bits replaced, taken one step (32) back
// when that would put it ahead of tsval_now. The peer keeps this TSval as TS.Recent, and PAWS
// (RFC 7323 5.3) drops later segments whose TSval is below TS.Recent: ours, sent after the
// handshake, carry tsval_now or later, so this one must not be ahead of tsval_now.
std::uint32_t tsval_with_options(std::uint32_t tsval_now, std::uint32_t options) {
  std::uint32_t tsval = (tsval_now & ~kTsOptionMask) | options;
  if (static_cast<std::int32_t>(tsval - tsval_now) > 0) tsval -= kTsOptionMask + 1;
  return tsval;
}

}  // namespace

std::uint32_t SynCookies::mss_index(std::uint16_t peer_mss) {
  std::uint32_t index = 0;
  for (std::uint32_t i = 1; i < kMssTable.size(); ++i) {
    if (kMssTable[i] <= peer_mss) index = i;
  }
  return index;
}

std::uint64_t SynCookies::counter_at(time::TimePoint now) {
  const auto ticks = now.time_since_epoch() / kTick;
  return ticks < 0 ? 0 : static_cast<std::uint64_t>(ticks);
}

std::uint32_t SynCookies::mask(const Endpoints& e, Seq peer_isn) const {
  const HashInput input(HashTag::mask, e, peer_isn);
  return static_cast<std::uint32_t>(siphash24(key_, input.bytes()));
}

std::uint32_t SynCookies::mac(const Endpoints& e, Seq peer_isn, std::uint64_t counter,
                              std::uint32_t index) const {
  HashInput input(HashTag::mac, e, peer_isn);
  input.put(counter, 8);
  input.put(index, 1);
  return static_cast<std::uint32_t>(siphash24(key_, input.bytes())) & kMacMask;
}

SynCookies::Issued SynCookies::make(const Request& request, time::TimePoint now) {
  const std::uint64_t counter = counter_at(now);
  const std::uint32_t index = mss_index(request.peer_mss);
  const auto low_counter = static_cast<std::uint32_t>(counter) & kCounterMask;
  const std::uint32_t meta = ((low_counter << kMssIndexBits) | index) << kMacBits;
  const std::uint32_t hidden = meta ^ (mask(request.endpoints, request.peer_isn) & ~kMacMask);
  Issued issued;
  issued.isn = Seq(hidden | mac(request.endpoints, request.peer_isn, counter, index));
  issued.mss = kMssTable[index];
  if (request.tsval_now) {
    const std::uint32_t options = encode_ts_options(request.peer_wscale, request.sack_permitted);
    issued.tsval = tsval_with_options(*request.tsval_now, options);
    issued.options_recoverable = true;
  }
  ++stats_.issued;
  return issued;
}

std::optional<SynCookies::Accepted> SynCookies::check(const Endpoints& endpoints, Seq peer_isn,
                                                      Seq cookie,
                                                      std::optional<std::uint32_t> tsecr,
                                                      time::TimePoint now) {
  const std::uint32_t meta = (cookie.value() ^ mask(endpoints, peer_isn)) >> kMacBits;
  const std::uint32_t index = meta & kMssIndexMask;
  const std::uint32_t low_counter = (meta >> kMssIndexBits) & kCounterMask;
  // The counter the cookie was made with is the latest one at or before now with these low bits.
  const std::uint64_t counter_now = counter_at(now);
  const std::uint64_t age = (counter_now - low_counter) & kCounterMask;
  if (age > kMaxAgeTicks || age > counter_now) {
    ++stats_.refused_out_of_window;
    return std::nullopt;
  }
  if ((cookie.value() & kMacMask) != mac(endpoints, peer_isn, counter_now - age, index)) {
    ++stats_.refused_bad_mac;
    return std::nullopt;
  }
  Accepted accepted;
  accepted.mss = kMssTable[index];
  if (tsecr) {
    // The peer echoes the TSval of our SYN-ACK (RFC 7323 4.3), whose low bits hold the options.
    const std::uint32_t wscale = *tsecr & 0xF;
    if (wscale != kNoWindowScale) {
      // A value above 14 was never encoded; clamp it all the same (RFC 7323 2.3).
      accepted.wscale =
          static_cast<std::uint8_t>(wscale < kMaxWindowScale ? wscale : kMaxWindowScale);
    }
    accepted.sack_permitted = (*tsecr & kSackBit) != 0;
    accepted.timestamps = true;
  }
  ++stats_.accepted;
  return accepted;
}

}  // namespace pktd::tcp
