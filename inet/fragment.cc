// IPv4 fragmentation (RFC 791 3.2) and reassembly (RFC 815, RFC 1122 3.3.2).
//
// Fragments are built as a fresh header mbuf followed by the original payload, shared by reference
// count (buf::share), so fragmenting copies only headers. Reassembly links the held payloads
// behind a fresh header the same way.
//
// Reassembly policy, after Linux's net/ipv4/ip_fragment.c since 4.19 (commit 7969e5c40dfd,
// "ip: discard IPv4 datagrams with overlapping segments"): a fragment that overlaps data already
// held drops the whole datagram, as RFC 5722 section 4 (amended by erratum 3089) requires for IPv6.
// Overlaps are how fragment attacks (Teardrop, IDS evasion through overlapping rewrites) work, and
// no correct fragmenter produces them. An exact duplicate (same range) is a retransmission of a
// fragment we already hold: dropped on its own, the datagram kept.
#include "inet/fragment.h"

#include <algorithm>
#include <array>
#include <cerrno>
#include <compare>
#include <iterator>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <utility>

#include "wire/endian.h"
#include "wire/ipv4.h"

namespace pktd::inet {
namespace {

using buf::Mbuf;
using buf::MbufPtr;
using wire::Ipv4View;

constexpr size_t kMaxDatagram = Ipv4View::kMaxTotalLength;  // RFC 791 3.1 Total Length: 16 bits
constexpr size_t kMaxOptions = Ipv4View::kMaxHeaderLength - Ipv4View::kMinHeaderLength;

// RFC 791 3.1 Options: the type octet's high bit is the copied flag; End of Option List (0) and
// No Operation (1) are single octets, every other option has a length octet counting itself.
constexpr uint8_t kOptionEnd = 0;
constexpr uint8_t kOptionNop = 1;
constexpr uint8_t kOptionCopied = 0x80;

// --- reading a header out of a chain ---

// The IPv4 header of a packet, copied out of the chain (it may span mbufs).
struct HeaderCopy {
  std::array<std::byte, Ipv4View::kMaxHeaderLength> storage{};
  size_t length = 0;
  std::span<const std::byte> bytes() const { return std::span(storage).first(length); }
};

// Checks what this file relies on (the caller has run Ipv4View::parse, but a chain that does not
// match its header would make us read or write out of bounds): a packet header whose len is the
// chain's length and the header's Total Length, Version 4, a whole header present.
std::optional<HeaderCopy> copy_header(const Mbuf& packet) {
  const size_t total = packet.pkthdr.len;
  HeaderCopy h;
  if (!packet.has_pkthdr || buf::chain_length(&packet) != total ||
      !buf::copy_data(packet, 0, std::span(h.storage).first(Ipv4View::kMinHeaderLength))) {
    return std::nullopt;
  }
  const std::span<const std::byte> fixed(h.storage);
  h.length = size_t{wire::load_u8(fixed, 0) & 0x0FU} * 4;
  if ((wire::load_u8(fixed, 0) >> 4) != 4 || h.length < Ipv4View::kMinHeaderLength ||
      h.length > total || wire::load_be16(fixed, 2) != total) {
    return std::nullopt;
  }
  if (!buf::copy_data(packet, 0, std::span(h.storage).first(h.length))) return std::nullopt;
  return h;
}

// The header as a value (wire::Ipv4Header::from needs a view of the whole packet, which a chain
// of mbufs cannot give). options refer to h's storage.
wire::Ipv4Header header_value(const HeaderCopy& h, size_t payload_length) {
  const auto b = h.bytes();
  wire::Ipv4Header v;
  v.tos = wire::load_u8(b, 1);
  v.identification = wire::load_be16(b, 4);
  v.reserved_flag = (wire::load_u8(b, 6) & 0x80U) != 0;
  v.dont_fragment = (wire::load_u8(b, 6) & 0x40U) != 0;
  v.more_fragments = (wire::load_u8(b, 6) & 0x20U) != 0;
  v.fragment_offset = wire::load_be16(b, 6) & 0x1FFFU;
  v.ttl = wire::load_u8(b, 8);
  v.protocol = wire::load_u8(b, 9);
  v.source = wire::load_ipv4(b, 12);
  v.destination = wire::load_ipv4(b, 16);
  v.options = b.subspan(Ipv4View::kMinHeaderLength);
  v.payload_length = payload_length;
  return v;
}

// A packet holding only header h (emitted, with its checksum), room in front for link headers.
MbufPtr header_packet(const wire::Ipv4Header& h, uint32_t rcvif) {
  MbufPtr m = buf::get_packet(buf::Wait::nowait, h.length());
  if (!m) return nullptr;
  m->len = h.length();
  m->pkthdr.len = h.length();
  // pkthdr.csum_flags stays clear: an offload request for the whole datagram does not hold for
  // a part of it (nor does a receive-side verdict on one fragment for the datagram).
  m->pkthdr.rcvif = rcvif;
  // Cannot fail: the fields come from a header that passed copy_header and the size checks.
  if (!h.emit(m->bytes())) return nullptr;
  return m;
}

// Links chain (not a packet head any more) after *tail, which becomes chain's last mbuf.
void link_after(Mbuf& head, Mbuf** tail, MbufPtr chain) {
  head.pkthdr.len += buf::chain_length(chain.get());
  chain->has_pkthdr = false;
  chain->nextpkt = nullptr;
  Mbuf* last = chain.get();
  while (last->next != nullptr) last = last->next;
  (*tail)->next = chain.release();
  *tail = last;
}

// --- fragmentation ---

// RFC 791 3.2: non-first fragments carry only the options whose copied flag is set, padded to a
// 4-octet boundary with End of Option List (zero octets: out starts zeroed). A malformed option
// list (a length running past the header, or below 2) ends the copy there. Returns octets used.
size_t copy_flagged_options(std::span<const std::byte> options,
                            std::array<std::byte, kMaxOptions>& out) {
  size_t at = 0;
  size_t used = 0;
  while (at < options.size()) {
    const uint8_t type = wire::load_u8(options, at);
    if (type == kOptionEnd) break;
    if (type == kOptionNop) {  // not copied (copied flag clear)
      ++at;
      continue;
    }
    if (at + 1 >= options.size()) break;
    const size_t length = wire::load_u8(options, at + 1);
    if (length < 2 || length > options.size() - at) break;
    if ((type & kOptionCopied) != 0) {
      std::memcpy(out.data() + used, options.data() + at, length);
      used += length;
    }
    at += length;
  }
  return (used + 3) / 4 * 4;  // at most options.size(), itself a multiple of 4
}

struct FragmentPlan {
  wire::Ipv4Header header;  // of the packet being split
  std::array<std::byte, kMaxOptions> later_options{};
  size_t later_options_length = 0;
  size_t first_data = 0;  // data octets per fragment: first, then the others (multiples of 8)
  size_t later_data = 0;
};

// The fragment of plan holding take octets of the packet's data from octet at.
MbufPtr make_fragment(const Mbuf& packet, const FragmentPlan& plan, size_t at, size_t take) {
  const bool last = at + take == plan.header.payload_length;
  wire::Ipv4Header h = plan.header;
  if (at != 0) h.options = std::span(plan.later_options).first(plan.later_options_length);
  // The last piece keeps the original MF, so a fragment can be fragmented again (RFC 791 3.2).
  h.more_fragments = !last || plan.header.more_fragments;
  h.fragment_offset = static_cast<uint16_t>(plan.header.fragment_offset + at / 8);
  h.payload_length = take;

  MbufPtr f = header_packet(h, packet.pkthdr.rcvif);
  if (!f) return nullptr;
  MbufPtr data = buf::share(packet, plan.header.length() + at, take, buf::Wait::nowait);
  if (!data) return nullptr;
  Mbuf* tail = f.get();
  link_after(*f, &tail, std::move(data));
  return f;
}

}  // namespace

int fragment(buf::MbufPtr packet, uint32_t mtu, std::vector<buf::MbufPtr>* out) {
  if (!packet) return EINVAL;
  const std::optional<HeaderCopy> copy = copy_header(*packet);
  if (!copy) return EINVAL;  // not a whole IPv4 packet as the header comment requires
  if (packet->pkthdr.len <= mtu) {
    out->push_back(std::move(packet));
    return 0;
  }
  FragmentPlan plan;
  plan.header = header_value(*copy, packet->pkthdr.len - copy->length);
  // RFC 791 3.2: with DF set the datagram is discarded (the caller sends ICMP "fragmentation
  // needed", RFC 1191). Each fragment must carry at least 8 octets of data.
  if (plan.header.dont_fragment || mtu < copy->length + 8) return EMSGSIZE;
  const size_t data_end = size_t{plan.header.fragment_offset} * 8 + plan.header.payload_length;
  if (data_end + copy->length > kMaxDatagram) return EINVAL;  // Ipv4View::parse rejects this
  plan.later_options_length = copy_flagged_options(plan.header.options, plan.later_options);
  plan.first_data = (mtu - copy->length) / 8 * 8;
  plan.later_data = (mtu - Ipv4View::kMinHeaderLength - plan.later_options_length) / 8 * 8;

  std::vector<MbufPtr> built;
  const size_t data_length = plan.header.payload_length;
  for (size_t at = 0; at < data_length;) {
    const size_t take = std::min(at == 0 ? plan.first_data : plan.later_data, data_length - at);
    MbufPtr f = make_fragment(*packet, plan, at, take);
    if (!f) return ENOBUFS;  // built and packet are freed on return
    built.push_back(std::move(f));
    at += take;
  }
  for (auto& f : built) out->push_back(std::move(f));
  return 0;
}

// --- reassembly ---

namespace {

// RFC 791 3.2: fragments belong together when source, destination, protocol and identification
// match.
struct DatagramKey {
  uint32_t source = 0;
  uint32_t destination = 0;
  uint16_t identification = 0;
  uint8_t protocol = 0;
  auto operator<=>(const DatagramKey&) const = default;
};

struct FragmentInfo {
  DatagramKey key;
  size_t header_length = 0;
  size_t begin = 0;  // data octets of the datagram this fragment holds: [begin, end)
  size_t end = 0;
  bool last = false;  // MF clear
  bool is_fragment = false;
};

std::optional<FragmentInfo> read_fragment(const Mbuf& packet) {
  const std::optional<HeaderCopy> copy = copy_header(packet);
  if (!copy) return std::nullopt;
  const wire::Ipv4Header h = header_value(*copy, packet.pkthdr.len - copy->length);
  FragmentInfo f;
  f.key = {h.source.value, h.destination.value, h.identification, h.protocol};
  f.header_length = copy->length;
  f.begin = size_t{h.fragment_offset} * 8;
  f.end = f.begin + h.payload_length;
  f.last = !h.more_fragments;
  f.is_fragment = h.more_fragments || h.fragment_offset != 0;
  return f;
}

// RFC 791 3.2: every fragment but the last carries a multiple of 8 octets; an empty fragment
// adds nothing and could only confuse the hole accounting.
bool well_formed(const FragmentInfo& f) {
  return f.end > f.begin && (f.last || (f.end - f.begin) % 8 == 0);
}

struct HeldFragment {
  size_t begin = 0;
  size_t end = 0;
  size_t header_length = 0;
  MbufPtr packet;
};

struct Datagram {
  std::vector<HeldFragment> fragments;  // sorted by begin, never overlapping
  std::optional<size_t> end;            // data length, known once the last fragment arrived
  size_t bytes = 0;                     // memory_charge of the fragments held
  time::TimePoint deadline;
  uint32_t pkt_flags = 0;               // pkthdr.flags of every fragment, or-ed (kPktLinkGroup)
};

// A last fragment must agree with what is known about the end: one end only, and no data held
// beyond it; any other fragment must end within it.
bool consistent_with_end(const Datagram& d, const FragmentInfo& f) {
  if (!f.last) return !d.end || f.end <= *d.end;
  if (d.end && *d.end != f.end) return false;
  return d.fragments.empty() || d.fragments.back().end <= f.end;
}

// RFC 791 3.1 Total Length: the reassembled datagram (fragment zero's header, which carries every
// option, and all the data) must fit in 65535 octets. Without fragment zero yet, the shortest
// header (20 octets) is assumed.
bool too_long(const Datagram& d) {
  if (d.fragments.empty()) return false;
  const HeldFragment& first = d.fragments.front();
  const size_t header = first.begin == 0 ? first.header_length : Ipv4View::kMinHeaderLength;
  return header + d.fragments.back().end > kMaxDatagram;
}

// RFC 815: the datagram is complete when no hole is left. Since fragments are sorted and never
// overlap, the holes are exactly the gaps before, between and after them.
bool complete(const Datagram& d) {
  if (!d.end) return false;
  size_t covered = 0;
  for (const HeldFragment& f : d.fragments) {
    if (f.begin != covered) return false;
    covered = f.end;
  }
  return covered == *d.end;
}

// A fragment's data, its header cut off. adjust leaves emptied mbufs in front; they are freed so
// the datagram has no empty links.
MbufPtr payload_of(MbufPtr packet, size_t header_length) {
  buf::adjust(*packet, static_cast<long>(header_length));
  while (packet->len == 0 && packet->next != nullptr) {
    MbufPtr rest(packet->next);
    packet->next = nullptr;
    packet = std::move(rest);
  }
  return packet;
}

enum class Placement { fits, duplicate, overlap };

Placement placement(const Datagram& d, std::vector<HeldFragment>::const_iterator next,
                    const FragmentInfo& f) {
  if (next != d.fragments.end() && next->begin == f.begin && next->end == f.end) {
    return Placement::duplicate;
  }
  if (next != d.fragments.begin() && std::prev(next)->end > f.begin) return Placement::overlap;
  if (next != d.fragments.end() && next->begin < f.end) return Placement::overlap;
  return Placement::fits;
}

}  // namespace

struct Reassembler::Impl {
  using Datagrams = std::map<DatagramKey, Datagram>;

  Impl(const ReassemblyConfig& c, ReassemblyStats& s) : config(c), stats(s) {}

  MbufPtr input(MbufPtr packet, time::TimePoint now);
  size_t expire(time::TimePoint now, std::vector<MbufPtr>* first_fragments);
  Datagrams::iterator find_or_create(const DatagramKey& key, size_t bytes, time::TimePoint now);
  MbufPtr add(Datagrams::iterator it, const FragmentInfo& f, MbufPtr packet);
  MbufPtr assemble(Datagrams::iterator it);
  void drop(Datagrams::iterator it);

  const ReassemblyConfig& config;
  ReassemblyStats& stats;
  // An ordered map rather than a hash table: the keys come from the network, and a tree cannot be
  // driven into its worst case by chosen keys.
  Datagrams datagrams;
  std::set<std::pair<time::TimePoint, DatagramKey>> by_deadline;
  size_t bytes = 0;
};

// What a held fragment costs: the buffers it pins, not its length (Linux charges truesize too).
// A flood of tiny fragments received into clusters would otherwise hold the whole pool while
// counting only a few octets each.
static size_t memory_charge(const buf::Mbuf& packet) {
  size_t charge = 0;
  for (const buf::Mbuf* m = &packet; m != nullptr; m = m->next) charge += sizeof(buf::Mbuf) + m->buf_size();
  return charge;
}

MbufPtr Reassembler::Impl::input(MbufPtr packet, time::TimePoint now) {
  if (!packet) return nullptr;
  const std::optional<FragmentInfo> f = read_fragment(*packet);
  if (f && !f->is_fragment) return packet;  // a whole datagram: nothing to reassemble
  ++stats.fragments;
  if (!f || !well_formed(*f)) {
    ++stats.bad_fragment;
    return nullptr;
  }
  auto it = find_or_create(f->key, memory_charge(*packet), now);
  if (it == datagrams.end()) {
    ++stats.over_limit;
    return nullptr;
  }
  return add(it, *f, std::move(packet));
}

// The datagram key belongs to, created (its timer started now, RFC 1122 3.3.2) if it is new and
// max_queues allows. Over max_bytes or max_queues, datagrams whose timer has run out make room
// first; their fragment zero is freed without a Time Exceeded message (only expire() can hand it
// out), which loses at most what arrived within the caller's timer granularity.
Reassembler::Impl::Datagrams::iterator Reassembler::Impl::find_or_create(const DatagramKey& key,
                                                                        size_t new_bytes,
                                                                        time::TimePoint now) {
  if (bytes + new_bytes > config.max_bytes) expire(now, nullptr);
  auto it = datagrams.find(key);
  if (it != datagrams.end()) return it;
  if (datagrams.size() >= config.max_queues) expire(now, nullptr);
  if (datagrams.size() >= config.max_queues) return datagrams.end();
  Datagram d;
  d.deadline = now + config.timeout;
  by_deadline.emplace(d.deadline, key);
  return datagrams.emplace(key, std::move(d)).first;
}

// Places fragment f (in packet) into datagram it; returns the datagram when it is complete.
MbufPtr Reassembler::Impl::add(Datagrams::iterator it, const FragmentInfo& f, MbufPtr packet) {
  Datagram& d = it->second;
  if (!consistent_with_end(d, f)) {
    ++stats.bad_fragment;
    drop(it);
    return nullptr;
  }
  auto next = std::lower_bound(d.fragments.begin(), d.fragments.end(), f.begin,
                               [](const HeldFragment& h, size_t begin) { return h.begin < begin; });
  switch (placement(d, next, f)) {
    case Placement::duplicate:
      ++stats.duplicates;
      return nullptr;
    case Placement::overlap:  // RFC 5722 section 4 policy; see the top of this file
      ++stats.overlaps;
      drop(it);
      return nullptr;
    case Placement::fits:
      break;
  }
  // The datagram cannot complete without this fragment's data, so rather than hold the rest
  // until its timer runs out, it goes now, freeing memory for datagrams that can complete.
  const size_t charge = memory_charge(*packet);
  if (d.fragments.size() >= config.max_fragments || bytes + charge > config.max_bytes) {
    ++stats.over_limit;
    drop(it);
    return nullptr;
  }
  d.bytes += charge;
  bytes += charge;
  d.pkt_flags |= packet->pkthdr.flags;
  if (f.last) d.end = f.end;
  d.fragments.insert(next, HeldFragment{f.begin, f.end, f.header_length, std::move(packet)});
  if (too_long(d)) {
    ++stats.bad_fragment;
    drop(it);
    return nullptr;
  }
  return complete(d) ? assemble(it) : nullptr;
}

// Fragment zero's header (every option kept) with MF and the offset cleared, Total Length and
// checksum recomputed, followed by the data of every fragment in order.
MbufPtr Reassembler::Impl::assemble(Datagrams::iterator it) {
  std::vector<HeldFragment> fragments = std::move(it->second.fragments);
  const size_t data_length = *it->second.end;
  const uint32_t pkt_flags = it->second.pkt_flags;
  drop(it);
  const Mbuf& zero = *fragments.front().packet;
  const std::optional<HeaderCopy> copy = copy_header(zero);  // checked when it arrived
  wire::Ipv4Header h = header_value(*copy, data_length);
  h.more_fragments = false;
  h.fragment_offset = 0;
  MbufPtr out = header_packet(h, zero.pkthdr.rcvif);
  if (!out) {
    ++stats.over_limit;  // out of buffers: a memory limit too; the fragments are freed
    return nullptr;
  }
  out->pkthdr.flags = pkt_flags;  // one fragment sent to a group address marks the datagram
  Mbuf* tail = out.get();
  for (HeldFragment& f : fragments) {
    link_after(*out, &tail, payload_of(std::move(f.packet), f.header_length));
  }
  ++stats.reassembled;
  return out;
}

void Reassembler::Impl::drop(Datagrams::iterator it) {
  bytes -= it->second.bytes;
  by_deadline.erase({it->second.deadline, it->first});
  datagrams.erase(it);
}

size_t Reassembler::Impl::expire(time::TimePoint now, std::vector<MbufPtr>* first_fragments) {
  size_t dropped = 0;
  while (!by_deadline.empty() && by_deadline.begin()->first <= now) {
    auto it = datagrams.find(by_deadline.begin()->second);
    std::vector<HeldFragment>& held = it->second.fragments;
    // RFC 1122 3.3.2: Time Exceeded is sent only when fragment zero is available.
    if (first_fragments != nullptr && !held.empty() && held.front().begin == 0) {
      held.front().packet->pkthdr.flags |= it->second.pkt_flags;
      first_fragments->push_back(std::move(held.front().packet));
    }
    drop(it);
    ++stats.timeouts;
    ++dropped;
  }
  return dropped;
}

Reassembler::Reassembler(ReassemblyConfig config)
    : config_(config), impl_(new Impl(config_, stats_)) {}

Reassembler::~Reassembler() { delete impl_; }

buf::MbufPtr Reassembler::input(buf::MbufPtr fragment, time::TimePoint now) {
  return impl_->input(std::move(fragment), now);
}

size_t Reassembler::expire(time::TimePoint now, std::vector<buf::MbufPtr>* first_fragments) {
  return impl_->expire(now, first_fragments);
}

std::optional<time::TimePoint> Reassembler::next_expiry() const {
  if (impl_->by_deadline.empty()) return std::nullopt;
  return impl_->by_deadline.begin()->first;
}

void Reassembler::clear() {
  impl_->datagrams.clear();
  impl_->by_deadline.clear();
  impl_->bytes = 0;
}

size_t Reassembler::queues() const { return impl_->datagrams.size(); }

size_t Reassembler::bytes() const { return impl_->bytes; }

}  // namespace pktd::inet
