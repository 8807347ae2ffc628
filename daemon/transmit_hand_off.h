// The transmit hand-off of a driver's interface: its start runs on the worker that is polling
// epoll when the stack queues a packet, instead of in the stack context (net::TransmitHandOff).
//
// Why: a TAP write runs Linux's whole receive of the frame inside the system call, several
// microseconds a frame, and in the stack context that time is lost to TCP. A worker that is
// polling anyway takes it over and the two run side by side; with no worker polling, start runs
// in the stack context as before, so nothing waits for a wake-up.
#pragma once

#include <memory>

#include "net/ifnet.h"
#include "runtime/runtime.h"

namespace pktd::net {

// Null when the runtime refuses the software source (logged): start stays in the stack context.
std::unique_ptr<TransmitHandOff> make_worker_hand_off(rt::Runtime& rt, Ifnet& ifp);

}  // namespace pktd::net
