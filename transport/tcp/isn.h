// Initial sequence numbers (RFC 6528 3): ISN = M + F(localip, localport, remoteip, remoteport,
// secretkey), where M is a timer that ticks every 4 microseconds and F a keyed hash an attacker
// cannot compute. Sequence numbers of one connection pair keep moving forward with the clock
// (so an old duplicate is unlikely to fall in a new incarnation's window, RFC 9293 3.4.1), and
// no one off the path can guess another connection's.
#pragma once

#include <cstdint>
#include <optional>

#include "base/siphash.h"
#include "time/clock.h"
#include "transport/tcp/sequence.h"
#include "wire/address.h"

namespace pktd::tcp {

// A connection's two ends (its four-tuple).
struct Endpoints {
  wire::Ipv4Address local;
  std::uint16_t local_port = 0;
  wire::Ipv4Address remote;
  std::uint16_t remote_port = 0;
};

class IsnGenerator {
 public:
  explicit IsnGenerator(SipKey key = random_sip_key()) : key_(key) {}
  [[nodiscard]] Seq initial_sequence(const Endpoints& e, time::TimePoint now) const {
    return fixed_for_tests_ ? *fixed_for_tests_ : computed(e, now);
  }

  // Tests only: every later connection starts at iss, so that one can start just before the
  // 2^32 wrap. Never set outside tests: a predictable ISN is what RFC 6528 forbids.
  void fix_for_tests(Seq iss) { fixed_for_tests_ = iss; }

 private:
  [[nodiscard]] Seq computed(const Endpoints& e, time::TimePoint now) const;

  SipKey key_;
  std::optional<Seq> fixed_for_tests_;
};

}  // namespace pktd::tcp
