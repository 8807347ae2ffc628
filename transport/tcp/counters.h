// TCP's counters, for `pkt netstat -s` (group "tcp"): segments, retransmissions by cause,
// recoveries, cookies, and every drop by its reason. Stack context only.
#pragma once

#include <cstdint>
#include <map>
#include <string>

namespace pktd::tcp {

struct TcpCounters {
  // Connections (RFC 1213's tcpActiveOpens and friends).
  std::uint64_t active_opens = 0, passive_opens = 0, attempt_fails = 0, established_resets = 0;
  std::uint64_t connections_established = 0, connections_closed = 0;
  // Segments.
  std::uint64_t segments_received = 0, segments_sent = 0, resets_sent = 0, resets_received = 0;
  std::uint64_t octets_received = 0, octets_sent = 0;
  // Drops by reason.
  std::uint64_t bad_checksum = 0, bad_offset = 0, bad_option = 0, truncated = 0;
  std::uint64_t no_socket = 0;                // answered with RST (RFC 9293 3.10.7.1)
  std::uint64_t not_acceptable = 0;           // outside the receive window (3.10.7.4 first)
  std::uint64_t paws_rejected = 0;            // RFC 7323 5.3
  std::uint64_t ack_too_new = 0;              // ACK of data never sent (3.10.7.4 fifth)
  std::uint64_t ack_too_old = 0;              // RFC 5961 5.2
  std::uint64_t no_ack_flag = 0;              // data without ACK in a synchronized state
  std::uint64_t rst_out_of_window = 0;        // RFC 5961 3.2: ignored
  std::uint64_t rst_in_window = 0;            // RFC 5961 3.2: challenged
  std::uint64_t syn_in_window = 0;            // RFC 5961 4.2: challenged
  std::uint64_t challenge_acks_sent = 0, challenge_acks_suppressed = 0;  // RFC 5961 7
  std::uint64_t bad_syn_sent_ack = 0;         // SYN-SENT: unacceptable ACK (RST sent)
  std::uint64_t data_after_close = 0;         // the application has gone: RST
  std::uint64_t data_beyond_window = 0;       // octets trimmed off the window's right edge
  std::uint64_t urgent_received = 0;          // segments with URG (the data is kept inline)
  std::uint64_t out_of_order_segments = 0;    // held for reassembly
  std::uint64_t duplicate_segments = 0;       // nothing new
  std::uint64_t listen_overflows = 0, syn_queue_full = 0, listen_drops = 0;
  // SYN cookies (RFC 4987 3.6).
  std::uint64_t cookies_sent = 0, cookies_accepted = 0, cookies_failed = 0;
  // Retransmissions by cause.
  std::uint64_t retransmits_timeout = 0, retransmits_fast = 0, retransmits_partial_ack = 0,
                retransmits_sack = 0, retransmits_syn = 0;
  std::uint64_t tail_loss_probes = 0;  // RFC 8985 7
  // RACK (RFC 8985 6): segments deemed lost, retransmissions of them, recoveries RACK started
  // (before DupThresh would have), reordering timer expiries.
  std::uint64_t rack_lost_marked = 0, retransmits_rack = 0, rack_recoveries = 0,
                rack_reorder_timeouts = 0;
  std::uint64_t sack_reneging = 0;     // the peer dropped data it had SACKed
  std::uint64_t orphans_dropped = 0;   // FIN-WAIT-2 or persist without an application: ended
  std::uint64_t fast_recoveries = 0, sack_recoveries = 0, timeouts = 0, spurious_dsack = 0;
  std::uint64_t persist_probes = 0, keepalive_probes = 0, keepalive_timeouts = 0;
  std::uint64_t delayed_acks = 0, window_updates = 0, zero_windows_sent = 0;
  std::uint64_t timeouts_dropped = 0;         // connections ended by retransmission limits
  std::uint64_t time_wait_recycled = 0;       // a new SYN reopened a TIME-WAIT pair (RFC 6191)
  std::uint64_t pmtu_updates = 0, icmp_errors = 0, icmp_ignored = 0;
  std::uint64_t ports_exhausted = 0;

  [[nodiscard]] std::map<std::string, std::uint64_t> named() const;
};

}  // namespace pktd::tcp
