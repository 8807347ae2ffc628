// The set of interfaces of one pktd instance: names, indexes, creation and destruction.
#pragma once

#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "net/ifnet.h"

namespace pktd::net {

class Interfaces {
 public:
  Interfaces() = default;
  ~Interfaces();  // destroys every interface (stop, detach)
  Interfaces(const Interfaces&) = delete;
  Interfaces& operator=(const Interfaces&) = delete;

  // Creates an interface named prefix + unit (unit < 0: the first free one). A zero MAC gets a
  // locally administered one derived from the instance and index. nullptr (logged) when the name
  // is taken or invalid.
  Ifnet* attach(const std::string& prefix, int unit, Ifnet::Config config);
  // Stops (stop(1)), detaches (the driver frees its state) and deletes it.
  void destroy(Ifnet* ifp);

  Ifnet* find(const std::string& name) const;
  Ifnet* find(uint32_t index) const;
  std::vector<Ifnet*> list() const;  // in index order
  size_t size() const;

  // The send queue length of interfaces attached from now on (-p tcpip,ifq_maxlen=N).
  void set_send_queue_len(size_t n) { send_queue_len_ = n; }
  // Told of every interface attached (after it is listed) and destroyed (before its driver
  // stops): the protocol stack hooks in here. Stack context, outside this object's lock.
  struct Observer {
    virtual void attached(Ifnet& ifp) = 0;
    virtual void destroying(Ifnet& ifp) = 0;

   protected:
    virtual ~Observer() = default;
  };
  void set_observer(Observer* observer) { observer_ = observer; }

  // Distinguishes the MACs pktd makes in several instances on one host.
  void set_mac_seed(uint32_t seed) { mac_seed_ = seed; }

 private:
  int first_free_unit(const std::string& prefix) const;
  Mac make_mac(uint32_t index) const;

  mutable std::mutex mutex_;
  std::vector<std::unique_ptr<Ifnet>> ifs_;
  uint32_t next_index_ = 1;
  uint32_t mac_seed_ = 0;
  size_t send_queue_len_ = 256;
  Observer* observer_ = nullptr;
};

// lo0: the software loopback, present from start-up; what it sends it receives.
Ifnet* attach_loopback(Interfaces& ifs);

}  // namespace pktd::net
