#include "daemon/transmit_hand_off.h"

namespace pktd::net {
namespace {

class WorkerHandOff final : public TransmitHandOff {
 public:
  WorkerHandOff(rt::Runtime& rt, rt::Interrupt* irq, std::shared_ptr<bool> alive)
      : rt_(rt), irq_(irq), alive_(std::move(alive)) {}
  ~WorkerHandOff() override {
    rt_.detach_interrupt(irq_);
    *alive_ = false;  // stack context, as the restarts that read it
  }
  WorkerHandOff(const WorkerHandOff&) = delete;
  WorkerHandOff& operator=(const WorkerHandOff&) = delete;

  bool hand() override { return rt_.hand_to_poller(irq_); }

 private:
  rt::Runtime& rt_;
  rt::Interrupt* irq_;
  std::shared_ptr<bool> alive_;
};

}  // namespace

std::unique_ptr<TransmitHandOff> make_worker_hand_off(rt::Runtime& rt, Ifnet& ifp) {
  rt::InterruptSpec spec;
  spec.name = ifp.name() + " tx";
  spec.owner = "pktd";
  auto alive = std::make_shared<bool>(true);
  spec.process = [&rt, &ifp, alive] {
    if (ifp.run_handed_start()) {
      // The device was busy: start again in the stack context, where the driver can arm its
      // kick; unless the interface is being destroyed by then (both run in the stack context).
      rt.post([&ifp, alive] {
        if (!*alive) return;
        ifp.tx_lock();
        ifp.start_locked();
      }, "transmit restart");
    }
    return rt::Process::done;
  };
  spec.enable = [] {};
  rt::Interrupt* irq = rt.attach_interrupt(std::move(spec));
  if (irq == nullptr) return nullptr;
  return std::make_unique<WorkerHandOff>(rt, irq, std::move(alive));
}

}  // namespace pktd::net
