// Packet buffers: mbufs with a packet header, clusters, chains, headroom and shared data.
//
// Ownership: an Mbuf* chain has exactly one owner. MbufPtr is the move-only handle that frees the
// chain when it goes out of scope; functions that consume a chain take MbufPtr&&. Cluster data may
// be shared by several mbufs (share/copy); it is reference counted and writable() says whether
// this mbuf is its only user.
//
// Threads (seed guide, "Thread Creation"): the main thread, workers and tracked threads may
// allocate and free. An untracked thread's allocation fails (nullptr, errno-style reason counted,
// a log line naming the thread); its free is logged and counted and then done anyway, so that a
// misuse never leaks. M_WAITOK sleeps the calling pseudo-thread until a buffer is freed; outside a
// pseudo-thread in the stack context it is refused (nullptr, counted, logged).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>

namespace pktd::buf {

enum class Wait { nowait, waitok };  // io-pkt's M_NOWAIT, M_WAITOK

struct PoolConfig {
  size_t mclbytes = 2048;        // cluster size: a power of two from 2048 to 65536
  size_t max_mbufs = 65536;      // mbufs in use at once
  size_t max_clusters = 32768;   // clusters in use at once
  size_t cache_size = 128;       // per-thread cache of free objects, each kind
};

// Counters for `pkt netstat -m`. Failures are counted by kind.
struct PoolStats {
  size_t mbufs_in_use = 0, mbufs_peak = 0, mbufs_limit = 0;
  size_t clusters_in_use = 0, clusters_peak = 0, clusters_limit = 0;
  size_t mclbytes = 0;
  uint64_t fail_nowait_exhausted = 0;   // M_NOWAIT found the limit reached
  uint64_t waitok_sleeps = 0;           // M_WAITOK slept for a free buffer
  uint64_t fail_waitok_refused = 0;     // M_WAITOK outside a pseudo-thread
  uint64_t fail_waitok_interrupted = 0; // M_WAITOK given up because the stack shut down
  uint64_t fail_untracked_thread = 0;   // allocation attempted by an untracked thread
  uint64_t untracked_frees = 0;         // free by an untracked thread (logged, then done)
};

// How M_WAITOK sleeps: the runtime installs this (buf/ sits below runtime/).
class Waiter {
 public:
  virtual ~Waiter() = default;
  // True when the caller runs on a pseudo-thread in the stack context and may sleep.
  virtual bool can_sleep() = 0;
  // Sleeps the calling pseudo-thread on chan until wake(chan) or timeout_ms (0: no timeout).
  // EINTR means no wake will come (shutdown): M_WAITOK then fails instead of sleeping again.
  virtual int sleep(const void* chan, uint32_t timeout_ms) = 0;
  // Wakes every sleeper on chan; callable from any thread (buffers are freed anywhere).
  // The pool checks for a free buffer and then calls sleep(); a wake(chan) that lands in between
  // must not be lost (the sleeper still holds the stack context then, so a runtime that delivers
  // wakes through the stack context, or keeps a pending wake per channel, satisfies this).
  // Spurious returns from sleep() are fine: the pool checks again.
  virtual void wake(const void* chan) = 0;
};

struct Mbuf;
struct MbufDeleter {
  void operator()(Mbuf* m) const noexcept;
};
using MbufPtr = std::unique_ptr<Mbuf, MbufDeleter>;

// Packet header carried by the first mbuf of a packet.
struct PktHdr {
  size_t len = 0;          // total bytes in the chain
  uint32_t rcvif = 0;      // receiving interface index, 0 if none
  uint32_t csum_flags = 0; // offload flags (later)
  uint32_t flags = 0;      // kPkt* below
};
// The frame came to a link-layer group address (broadcast or multicast; BSD's M_BCAST|M_MCAST).
// RFC 1122 3.2.2 forbids ICMP errors about such datagrams, so it outlives reassembly.
inline constexpr uint32_t kPktLinkGroup = 1u << 0;

// Made only by the Pool (its inline buffer lives next to it); never construct one yourself.
struct Mbuf {
  Mbuf* next = nullptr;      // next mbuf of this packet
  Mbuf* nextpkt = nullptr;   // next packet in a queue
  std::byte* data = nullptr; // first valid byte
  size_t len = 0;            // valid bytes in this mbuf
  bool has_pkthdr = false;
  PktHdr pkthdr;

  // Buffer this mbuf points into (its internal buffer or a cluster).
  std::byte* buf_start() const;
  size_t buf_size() const;
  size_t headroom() const { return static_cast<size_t>(data - buf_start()); }
  size_t tailroom() const { return buf_size() - headroom() - len; }
  bool has_cluster() const;
  // True if no other mbuf shares this one's cluster (always true without a cluster).
  bool writable() const;
  std::span<std::byte> bytes() { return {data, len}; }
  std::span<const std::byte> bytes() const { return {data, len}; }

  // Implementation details (the pool's); not for drivers.
  struct Cluster* cluster = nullptr;
  uint32_t generation = 0;
};

// Size of an mbuf's internal buffer (for small packets and headers).
inline constexpr size_t kMbufInlineBytes = 224;
// Headroom that get_packet leaves for prepending link headers.
inline constexpr size_t kDefaultHeadroom = 64;

class Pool {
 public:
  // The process-wide pool (never destroyed).
  static Pool& instance();

  // Only while nothing is in use; returns false otherwise. Cached objects of an older
  // configuration are discarded lazily.
  bool configure(const PoolConfig& config);
  PoolConfig config() const;
  // With a waiter, M_WAITOK on a thread whose can_sleep() is false is refused at once (counted,
  // logged). nullptr (unit tests, no runtime yet): M_WAITOK behaves like M_NOWAIT plus a refusal
  // (counted, logged) where it would have had to sleep.
  void set_waiter(Waiter* waiter);

  PoolStats stats() const;
  // Leak check for tests: true when nothing is in use. On false, describes what is.
  bool check_no_leaks(std::string* report = nullptr) const;

  // Raw allocation (io-pkt m_get / m_getcl). nullptr on failure.
  Mbuf* get(Wait how, bool pkthdr);
  Mbuf* get_cluster(Wait how, bool pkthdr);  // mbuf with a cluster of mclbytes
  void free_one(Mbuf* m);                    // returns m->next's owner duty to the caller
  void free_chain(Mbuf* m);                  // m_freem: the whole chain

  struct Impl;
 private:
  Pool();
  Impl* impl_;
};

// --- chain operations (io-pkt names in comments) ---

// A packet with a packet header able to hold capacity bytes, headroom reserved, len set to 0.
// One mbuf (inline buffer or cluster) when headroom + capacity fits a cluster; otherwise a chain
// of clusters (like m_getm2), to be filled with append(). nullptr on failure.
MbufPtr get_packet(Wait how, size_t capacity, size_t headroom = kDefaultHeadroom);
// A packet holding a copy of bytes (m_devget).
MbufPtr packet_from(std::span<const std::byte> bytes, Wait how = Wait::nowait,
                    size_t headroom = kDefaultHeadroom);
// Total length of a chain.
size_t chain_length(const Mbuf* m);
// M_PREPEND: n bytes in front, in the headroom when there is room (and the data is writable),
// else in a new mbuf linked in front. Returns the new head, or nullptr (chain freed) on failure.
MbufPtr prepend(MbufPtr m, size_t n, Wait how = Wait::nowait);
// m_append: copy bytes to the end of the chain, adding mbufs as needed. False on failure
// (the chain keeps what was appended so far; pkthdr.len stays consistent).
bool append(Mbuf& m, std::span<const std::byte> bytes, Wait how = Wait::nowait);
// m_adj: trim n bytes from the front (n > 0) or the back (n < 0).
void adjust(Mbuf& m, long n);
// m_pullup: make the first n bytes contiguous in the first mbuf. nullptr (chain freed) on failure.
MbufPtr pullup(MbufPtr m, size_t n);
// m_copydata: copy len bytes from offset out of the chain. False if the chain is too short.
bool copy_data(const Mbuf& m, size_t offset, std::span<std::byte> out);
// m_copym: a new chain sharing clusters (reference counted) for [offset, offset + len).
MbufPtr share(const Mbuf& m, size_t offset, size_t len, Wait how = Wait::nowait);
// m_dup: a deep copy.
MbufPtr dup(const Mbuf& m, Wait how = Wait::nowait);
// The chain's bytes as one vector (tests, capture).
std::string to_string(const Mbuf& m);

}  // namespace pktd::buf
