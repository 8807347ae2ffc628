#include "net/interfaces.h"

#include <algorithm>
#include <cctype>

#include "base/log.h"

namespace pktd::net {

Interfaces::~Interfaces() {
  while (true) {
    Ifnet* last = nullptr;
    {
      std::lock_guard lock(mutex_);
      if (ifs_.empty()) break;
      last = ifs_.back().get();
    }
    destroy(last);
  }
}

int Interfaces::first_free_unit(const std::string& prefix) const {
  for (int unit = 0;; ++unit) {
    std::string name = prefix + std::to_string(unit);
    bool taken = std::any_of(ifs_.begin(), ifs_.end(),
                             [&](const auto& p) { return p->name() == name; });
    if (!taken) return unit;
  }
}

// Locally administered, unicast (IEEE 802: bit 1 of the first octet set, bit 0 clear).
Mac Interfaces::make_mac(uint32_t index) const {
  return Mac{0x02, 0x70, static_cast<uint8_t>(mac_seed_ >> 8), static_cast<uint8_t>(mac_seed_),
             static_cast<uint8_t>(index >> 8), static_cast<uint8_t>(index)};
}

namespace {
bool valid_prefix(const std::string& p) {
  // Linux-like names: 15 bytes at most with the unit, letters/digits/-/_ only.
  if (p.empty() || p.size() > 12) return false;
  return std::all_of(p.begin(), p.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-';
  });
}
}  // namespace

Ifnet* Interfaces::attach(const std::string& prefix, int unit, Ifnet::Config config) {
  if (!valid_prefix(prefix)) {
    PKTD_LOG_ERR("interface name '%s' refused: 1 to 12 letters, digits, '-' or '_'",
                 prefix.c_str());
    return nullptr;
  }
  Ifnet* ifp = nullptr;
  {
    std::lock_guard lock(mutex_);
    if (unit < 0) unit = first_free_unit(prefix);
    config.name = prefix + std::to_string(unit);
    if (std::any_of(ifs_.begin(), ifs_.end(),
                    [&](const auto& p) { return p->name() == config.name; })) {
      PKTD_LOG_ERR("interface %s already exists", config.name.c_str());
      return nullptr;
    }
    uint32_t index = next_index_++;
    if (config.mac == Mac{}) config.mac = make_mac(index);
    if (config.mtu == 0) config.mtu = 1500;
    config.send_queue_len = send_queue_len_;
    ifs_.push_back(std::make_unique<Ifnet>(index, std::move(config)));
    ifp = ifs_.back().get();
  }
  PKTD_LOG_INFO("%s: attached (index %u, address %s, mtu %u)", ifp->name().c_str(), ifp->index(),
                format_mac(ifp->mac()).c_str(), ifp->mtu());
  if (observer_ != nullptr) observer_->attached(*ifp);
  return ifp;
}

void Interfaces::destroy(Ifnet* ifp) {
  std::unique_ptr<Ifnet> owned;
  {
    std::lock_guard lock(mutex_);
    auto it = std::find_if(ifs_.begin(), ifs_.end(), [ifp](const auto& p) { return p.get() == ifp; });
    if (it == ifs_.end()) return;
    owned = std::move(*it);
    ifs_.erase(it);
  }
  if (observer_ != nullptr) observer_->destroying(*ifp);
  ifp->end_transmit_hand_off();  // no start on a worker once stop and detach begin
  ifp->set_up(false);
  const pktd_if_ops* ops = ifp->ops();
  if (ops != nullptr && ops->stop != nullptr) ops->stop(ifp->handle(), ifp->softc(), 1);
  if (ops != nullptr && ops->detach != nullptr) ops->detach(ifp->handle(), ifp->softc());
  PKTD_LOG_INFO("%s: destroyed", ifp->name().c_str());
}

Ifnet* Interfaces::find(const std::string& name) const {
  std::lock_guard lock(mutex_);
  for (const auto& p : ifs_)
    if (p->name() == name) return p.get();
  return nullptr;
}

Ifnet* Interfaces::find(uint32_t index) const {
  std::lock_guard lock(mutex_);
  for (const auto& p : ifs_)
    if (p->index() == index) return p.get();
  return nullptr;
}

std::vector<Ifnet*> Interfaces::list() const {
  std::lock_guard lock(mutex_);
  std::vector<Ifnet*> out;
  for (const auto& p : ifs_) out.push_back(p.get());
  return out;
}

size_t Interfaces::size() const {
  std::lock_guard lock(mutex_);
  return ifs_.size();
}

// --- lo0 ---

namespace {

// Everything queued goes straight back in: the transmit lock is released before input, so a
// handler that answers (and so sends again) does not deadlock.
void loopback_start(pktd_ifnet* handle, void*) {
  Ifnet* ifp = Ifnet::from(handle);
  std::vector<buf::Mbuf*> batch;
  while (buf::Mbuf* m = ifp->dequeue()) batch.push_back(m);
  ifp->tx_unlock();
  for (buf::Mbuf* m : batch) {
    size_t len = buf::chain_length(m);
    ifp->counters().opackets.fetch_add(1, std::memory_order_relaxed);
    ifp->counters().obytes.fetch_add(len, std::memory_order_relaxed);
    ifp->input(buf::MbufPtr(m));
  }
}

int loopback_init(pktd_ifnet* handle, void*) {
  Ifnet::from(handle)->set_driver_flags(PKTD_IFF_RUNNING, 0);
  return 0;
}

void loopback_stop(pktd_ifnet* handle, void*, int) {
  Ifnet::from(handle)->set_driver_flags(0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
}

const pktd_if_ops kLoopbackOps = {loopback_init, loopback_start, loopback_stop, nullptr, nullptr};

}  // namespace

Ifnet* attach_loopback(Interfaces& ifs) {
  Ifnet::Config config;
  config.mtu = 16384;  // BSD's loopback MTU
  config.flags = PKTD_IFF_LOOPBACK | PKTD_IFF_MULTICAST;
  config.mac = Mac{};  // loopback has no link-layer address; a made-up one is harmless
  config.ops = &kLoopbackOps;
  Ifnet* lo = ifs.attach("lo", 0, config);
  if (lo != nullptr) {
    lo->set_up(true);
    lo->set_link_state(LinkState::up);
  }
  return lo;
}

}  // namespace pktd::net
