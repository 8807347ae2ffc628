// SYN cookies (RFC 4987 3.6): when a listener's SYN queue is full it answers a SYN without keeping
// any state, and puts what it must remember into the initial sequence number of its SYN-ACK. The
// final ACK of the handshake returns that number (SEG.ACK - 1); if it checks out, the connection is
// created then, from the ACK alone.
//
// The cookie (our ISN) is 32 bits:
//
//   bits 31-30  the low 2 bits of a coarse clock counter (one tick every 64 seconds)  } masked
//   bits 29-28  an index into kMssTable                                               }
//   bits 27-0   a MAC: 28 bits of SipHash-2-4, under a secret key, of the four-tuple, the peer's
//               ISN, the full counter and the MSS index
//
// The 4 bits of the two fields are XORed with a keyed hash of the four-tuple and the peer's ISN,
// so the cookies of one listener show no pattern (RFC 6528's concern for ISNs) and the clock is not
// exposed. Checking reconstructs the counter from its 2 low bits and the current time (a cookie is
// accepted up to kMaxAgeTicks ticks old), then recomputes the MAC: anyone off the path who does not
// know the key forges a cookie with probability about 2^-28 per try.
//
// What is lost (RFC 4987 3.6 lists it among the costs of cookies): 32 bits leave room for a coarse
// MSS and nothing else. The window scale and SACK-permitted options of the SYN fit into the low 5
// bits of our TSval, which the peer echoes in the TSecr of the final ACK (RFC 7323 4.3), but only
// when the SYN carried the Timestamps option. Without it both are lost, so the SYN-ACK must then
// not offer them (RFC 7323 2.2: window scaling is used only when both SYNs carry the option;
// RFC 2018 2: SACK only if SACK-Permitted was in the SYN), and the connection runs without
// scaling and without SACK. Our own window scale is not in the cookie: the listener must derive
// it from configuration alone, so that it offers the same shift in the SYN-ACK and applies it
// when the ACK arrives. Data that came with the SYN is not kept (there is nowhere to keep it);
// the peer sends it again after the handshake.
//
// Cookies break RFC 9293 3.4.1's rule that ISNs follow a clock (they are a hash, not a clock) and
// lose options, so they are for overload only, as Linux uses them: the caller issues them only
// when the SYN queue is full.
//
// Pure: time is an argument, nothing reads a clock; the key is the only state besides the counters.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <optional>

#include "base/siphash.h"
#include "time/clock.h"
#include "transport/tcp/isn.h"
#include "transport/tcp/sequence.h"

namespace pktd::tcp {

// Counters for pkt netstat -s (Linux names them SyncookiesSent, SyncookiesRecv, SyncookiesFailed).
struct SynCookieStats {
  std::uint64_t issued = 0;
  std::uint64_t accepted = 0;
  // Its clock bits put it more than kMaxAgeTicks ticks in the past (or in the future).
  std::uint64_t refused_out_of_window = 0;
  // The MAC does not match: forged, for another connection, or older than the 2 clock bits show.
  std::uint64_t refused_bad_mac = 0;
};

class SynCookies {
 public:
  // The MSS values a cookie can carry, smallest first (Linux's table for IPv4): 536 is RFC 9293
  // 3.7.1's default, 1300 a common tunnel, 1440 and 1460 Ethernet with and without timestamps.
  static constexpr std::array<std::uint16_t, 4> kMssTable = {536, 1300, 1440, 1460};
  // The clock counter's tick, and how many ticks old a cookie may be: a cookie is accepted during
  // at least kMaxAgeTicks and at most kMaxAgeTicks + 1 ticks (128 to 192 seconds), long enough for
  // the SYN-ACK and its retransmissions to be answered.
  static constexpr std::chrono::seconds kTick{64};
  static constexpr std::uint32_t kMaxAgeTicks = 2;
  // RFC 7323 2.3: a shift above 14 is used as 14.
  static constexpr std::uint8_t kMaxWindowScale = 14;
  // The TSval bits that carry options: bits 0-3 the peer's window scale (15: none), bit 4 SACK.
  static constexpr std::uint32_t kTsOptionBits = 5;

  // The key must stay secret and be the same for make and check: one per listener or per stack.
  explicit SynCookies(SipKey key = random_sip_key()) : key_(key) {}

  // A SYN that is to be answered with a cookie.
  struct Request {
    Endpoints endpoints;  // local is ours, remote the SYN's sender
    Seq peer_isn;         // the SYN's SEG.SEQ
    // The largest segment we may send: the SYN's MSS option (536 without one, RFC 9293 3.7.1),
    // already lowered to what our own interface allows.
    std::uint16_t peer_mss = 536;
    std::optional<std::uint8_t> peer_wscale;  // the SYN's Window Scale shift.cnt, if present
    bool sack_permitted = false;              // the SYN carried SACK-Permitted
    // Set only when the SYN carried the Timestamps option: the TSval our timestamp clock would put
    // in the SYN-ACK now.
    std::optional<std::uint32_t> tsval_now;
  };

  // What goes into the SYN-ACK.
  struct Issued {
    Seq isn;                  // our ISN: the cookie
    std::uint16_t mss = 536;  // the MSS the connection will use once the cookie returns
    // The TSval to send (at most 31 below tsval_now, so our timestamps never go backwards),
    // present when the request had tsval_now.
    std::optional<std::uint32_t> tsval;
    // Whether the SYN-ACK may offer Window Scale and SACK-Permitted (when the SYN had them): only
    // if they can be recovered, i.e. when they ride in tsval. Otherwise leave both out.
    bool options_recoverable = false;
  };

  // The cookie for a SYN received at now. The MSS carried is the largest kMssTable entry not above
  // peer_mss, or 536 when peer_mss is below every entry: every IPv4 host must accept 576-octet
  // datagrams (RFC 791), so 536 octets of data always reach it.
  [[nodiscard]] Issued make(const Request& request, time::TimePoint now);

  // What a valid cookie gives back.
  struct Accepted {
    std::uint16_t mss = 536;
    std::optional<std::uint8_t> wscale;  // the peer's shift (at most 14), if it offered scaling
    bool sack_permitted = false;
    bool timestamps = false;  // the ACK carried a TSecr, so the options came back
  };

  // Checks the final ACK of a handshake for which no state was kept: peer_isn is its SEG.SEQ - 1,
  // cookie its SEG.ACK - 1, tsecr its TSecr when it carried the Timestamps option. Returns the
  // connection's parameters, or nullopt for a cookie that is forged, belongs to another
  // connection, or is older than the window. The caller has checked it is a pure ACK (no SYN, RST
  // or FIN) for a listening socket. Options are recovered only with a tsecr; without one they are
  // off (window scale none, SACK off), matching an SYN-ACK that did not offer them.
  [[nodiscard]] std::optional<Accepted> check(const Endpoints& endpoints, Seq peer_isn, Seq cookie,
                                              std::optional<std::uint32_t> tsecr,
                                              time::TimePoint now);

  [[nodiscard]] const SynCookieStats& stats() const { return stats_; }

  // Exposed for tests: the MSS index make picks for a peer MSS, and the clock counter at a time.
  [[nodiscard]] static std::uint32_t mss_index(std::uint16_t peer_mss);
  [[nodiscard]] static std::uint64_t counter_at(time::TimePoint now);

 private:
  [[nodiscard]] std::uint32_t mask(const Endpoints& e, Seq peer_isn) const;
  [[nodiscard]] std::uint32_t mac(const Endpoints& e, Seq peer_isn, std::uint64_t counter,
                                  std::uint32_t mss_index) const;

  SipKey key_;
  SynCookieStats stats_;
};

}  // namespace pktd::tcp
