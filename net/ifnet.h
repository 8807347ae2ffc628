// Interfaces (ifnet): identity, flags split by who writes them, link state, counters, and the
// bounded send queue with io-pkt's transmit protocol.
//
// Who writes what (FreeBSD marks these "(n)" and "(d)"):
//   admin flags (UP, PROMISC, ...)     the stack and the user, in the stack context
//   driver flags (RUNNING, OACTIVE)    the driver
//   link state (unknown, down, up)     the driver, from any context
// The interface state and the link state are independent (seed guide): an UP interface with its
// link down still queues packets; an interface that is not UP drops them with ENETDOWN.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

#include "buf/mbuf.h"
#include "pktd/driver.h"

namespace pktd::net {

enum class LinkState : uint8_t { unknown = PKTD_LINK_UNKNOWN, down = PKTD_LINK_DOWN, up = PKTD_LINK_UP };
const char* to_string(LinkState s);

using Mac = std::array<uint8_t, 6>;

// Counters; every drop has a named reason. Relaxed atomics: drivers count from any thread.
struct IfCounters {
  std::atomic<uint64_t> ipackets{0}, ibytes{0}, opackets{0}, obytes{0};
  std::atomic<uint64_t> ierrors{0}, oerrors{0}, iqdrops{0}, collisions{0};
  std::atomic<uint64_t> link_changes{0};
  // Drops by reason.
  std::atomic<uint64_t> in_admin_down{0};   // received while not UP
  std::atomic<uint64_t> in_no_handler{0};   // received with no protocol to take it
  std::atomic<uint64_t> out_admin_down{0};  // sent while not UP (ENETDOWN)
  std::atomic<uint64_t> out_queue_full{0};  // send queue full (ENOBUFS)
  std::atomic<uint64_t> out_purged{0};      // purged from the send queue
  std::atomic<uint64_t> start_calls{0};     // driver start callbacks made
  std::atomic<uint64_t> start_lock_leaks{0};// start returned holding the transmit lock
  std::atomic<uint64_t> tx_stalls{0};       // packets left queued with no start (check_tx_stall)
};

// Packets queued for a driver, linked through Mbuf::nextpkt. Guarded by the transmit lock.
class SendQueue {
 public:
  explicit SendQueue(size_t max_len) : max_len_(max_len) {}
  ~SendQueue() { purge(); }
  bool full() const { return len_ >= max_len_; }
  bool empty() const { return head_ == nullptr; }
  size_t length() const { return len_; }
  size_t max_length() const { return max_len_; }
  void set_max_length(size_t n) { max_len_ = n; }
  void enqueue(buf::Mbuf* m);
  void prepend(buf::Mbuf* m);
  buf::Mbuf* dequeue();
  size_t purge();  // frees everything; returns how many packets

 private:
  buf::Mbuf* head_ = nullptr;
  buf::Mbuf* tail_ = nullptr;
  size_t len_ = 0;
  size_t max_len_;
};

struct LoadedDriver;  // daemon/: the shared object an interface came from

// Where the driver's start may run instead of in the stack context: the daemon hands it to a
// worker that is polling epoll at that moment (rt::Runtime::hand_to_poller), so that the stack
// goes on making packets while that worker writes them. Destroying it waits for a start it runs.
class TransmitHandOff {
 public:
  virtual ~TransmitHandOff() = default;
  // True when start will run elsewhere soon (Ifnet::run_handed_start); false: call it here.
  virtual bool hand() = 0;
};

class Ifnet {
 public:
  struct Config {
    std::string name;  // full name, e.g. "tap0"
    Mac mac{};
    uint32_t mtu = 1500;
    uint32_t flags = 0;  // supported admin flags (BROADCAST, MULTICAST, SIMPLEX, LOOPBACK)
    uint32_t capabilities = 0;
    size_t send_queue_len = 256;  // set by Interfaces::attach
    const pktd_if_ops* ops = nullptr;
    void* softc = nullptr;
  };
  Ifnet(uint32_t index, Config config);
  ~Ifnet();
  Ifnet(const Ifnet&) = delete;
  Ifnet& operator=(const Ifnet&) = delete;

  // The handle drivers hold (include/pktd/driver.h) is this object.
  static Ifnet* from(pktd_ifnet* handle) { return reinterpret_cast<Ifnet*>(handle); }
  pktd_ifnet* handle() { return reinterpret_cast<pktd_ifnet*>(this); }

  const std::string& name() const { return config_.name; }
  uint32_t index() const { return index_; }
  const Mac& mac() const { return config_.mac; }
  uint32_t mtu() const { return mtu_.load(std::memory_order_relaxed); }
  uint32_t capabilities() const { return config_.capabilities; }
  uint32_t flags() const { return admin_flags_.load() | driver_flags_.load(); }
  bool up() const { return (admin_flags_.load() & PKTD_IFF_UP) != 0; }
  LinkState link_state() const { return link_.load(); }
  IfCounters& counters() { return counters_; }
  const IfCounters& counters() const { return counters_; }
  size_t send_queue_length();
  size_t send_queue_max();
  LoadedDriver* driver() const { return driver_; }
  void set_driver(LoadedDriver* d) { driver_ = d; }
  const pktd_if_ops* ops() const { return config_.ops; }
  void* softc() const { return config_.softc; }

  // --- the stack and the user (stack context) ---
  // UP: calls the driver's init (again on every reconfiguration); DOWN: purges the send queue and
  // calls stop(0). 0 or the driver's errno (the interface stays down then).
  int set_up(bool up);
  int set_mtu(uint32_t mtu);
  void set_admin_flag(uint32_t flag, bool on);  // PROMISC, ALLMULTI: reconfigures through init
  void set_send_queue_max(size_t n);

  // --- transmit (io-pkt ifp->if_output then if_start) ---
  // Queues m and starts the driver unless OACTIVE. 0, ENETDOWN (not UP), ENOBUFS (queue full).
  int output(buf::MbufPtr m);
  // io-pkt NW_SIGLOCK(&ifp->if_snd_ex). The driver's start is entered holding it.
  void tx_lock();
  void tx_unlock();
  bool tx_locked_by_me() const;
  buf::Mbuf* dequeue();           // lock held
  void prepend(buf::Mbuf* m);     // lock held
  bool queue_empty();
  void purge();                   // lock held
  // Calls start with the lock held, unless OACTIVE. The caller holds the lock; start releases it.
  void start_locked();
  // The transmit hand-off (stack context, before traffic flows; null: none). end_ detaches it,
  // waiting for a handed start to finish: before the driver's stop and detach.
  void set_transmit_hand_off(std::unique_ptr<TransmitHandOff> h);
  void end_transmit_hand_off();
  // Where a handed start runs (the hand-off's worker): start, as output would have called it.
  // True when start left packets queued with OACTIVE clear (a device busy for a moment: the
  // driver arms no kick off the stack): the hand-off restarts it in the stack context.
  bool run_handed_start();

  // --- driver-mistake check (stack context, periodically) ---
  // The seed's classic mistake: start returned with OACTIVE clear but packets still queued (the
  // link was down, descriptors were short) and nothing restarts it when the link comes back.
  // True once per episode: UP, link not down, queue not empty, OACTIVE clear and no start call
  // for at least `threshold_ns`; then counts tx_stalls and logs it with the interface's name.
  bool check_tx_stall(int64_t now_ns, int64_t threshold_ns);

  // --- the driver ---
  void set_driver_flags(uint32_t set, uint32_t clear);
  void set_link_state(LinkState s);  // any context
  // Received frame (io-pkt if_input): counted, dropped if not UP, else given to the handler.
  void input(buf::MbufPtr m);

  // What the stack does with received frames (Ethernet input later). Set before traffic flows.
  using InputHandler = std::function<void(Ifnet&, buf::MbufPtr)>;
  void set_input_handler(InputHandler h) { input_handler_ = std::move(h); }
  // Told of link changes (after the counter moves), from whatever context set it.
  using LinkHandler = std::function<void(Ifnet&, LinkState)>;
  void set_link_handler(LinkHandler h) { link_handler_ = std::move(h); }

 private:
  uint32_t index_;
  Config config_;
  std::atomic<uint32_t> mtu_;
  std::atomic<uint32_t> admin_flags_{0};
  std::atomic<uint32_t> driver_flags_{0};
  std::atomic<LinkState> link_{LinkState::unknown};
  IfCounters counters_;
  std::mutex tx_mutex_;
  std::atomic<uint64_t> tx_owner_{0};  // thread holding tx_mutex_ (diagnostics and checks)
  SendQueue snd_;
  // The stack waits while a handed start has this many packets left to write (at most half the
  // queue), for at most kHandOffWaitLimit per packet.
  static constexpr size_t kHandOffBacklog = 64;
  static constexpr std::chrono::milliseconds kHandOffWaitLimit{10};
  bool handed_wait_expired_ = false;  // under tx_mutex_: a wait ran out; none until the next run
  void wait_for_handed_backlog_locked();
  std::unique_ptr<TransmitHandOff> hand_off_;
  bool start_handed_ = false;    // under tx_mutex_: a handed start will drain the queue
  bool handed_running_ = false;  // under tx_mutex_: run_handed_start is in the driver's start
  LoadedDriver* driver_ = nullptr;
  // check_tx_stall's memory between calls (stack context only).
  struct StallWatch {
    uint64_t start_calls = 0;
    int64_t since_ns = -1;  // -1: not stalled
    bool reported = false;
  } stall_;
  InputHandler input_handler_;
  LinkHandler link_handler_;
};

std::string format_mac(const Mac& mac);

}  // namespace pktd::net
