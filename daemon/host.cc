// The SDK's host table: what include/pktd/driver.h promises, mapped onto the runtime, the buffer
// pool and the interfaces. Each entry is a thin adapter; the rules live in the layers below.
#include <cerrno>
#include <cstdarg>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>
#include <new>

#include "base/log.h"
#include "buf/mbuf.h"
#include "daemon/drivers.h"
#include "runtime/runtime.h"
#include "time/timer_wheel.h"

namespace pktd::net {
namespace {

static_assert(sizeof(time::Callout) <= sizeof(pktd_callout), "pktd_callout too small");
static_assert(alignof(time::Callout) <= alignof(pktd_callout), "pktd_callout misaligned");

Ifnet* I(pktd_ifnet* h) { return Ifnet::from(h); }
buf::Mbuf* M(pktd_mbuf* m) { return reinterpret_cast<buf::Mbuf*>(m); }
const buf::Mbuf* M(const pktd_mbuf* m) { return reinterpret_cast<const buf::Mbuf*>(m); }
pktd_mbuf* P(buf::Mbuf* m) { return reinterpret_cast<pktd_mbuf*>(m); }
time::Callout* C(pktd_callout* c) { return reinterpret_cast<time::Callout*>(c->opaque); }
const time::Callout* C(const pktd_callout* c) {
  return reinterpret_cast<const time::Callout*>(c->opaque);
}
rt::Runtime& R() { return *rt::Runtime::current(); }
buf::Wait W(pktd_wait how) { return how == PKTD_M_WAITOK ? buf::Wait::waitok : buf::Wait::nowait; }

// --- interfaces ---
pktd_ifnet* if_attach(pktd_driver* d, const pktd_if_config* cfg) {
  LoadedDriver* drv = LoadedDriver::from(d);
  Ifnet* ifp = cfg != nullptr ? drv->manager->attach_interface(*drv, *cfg) : nullptr;
  return ifp != nullptr ? ifp->handle() : nullptr;
}
void if_destroy(pktd_ifnet* h) {
  Ifnet* ifp = I(h);
  ifp->driver()->manager->destroy_from_driver(ifp);
}
const char* if_name(pktd_ifnet* h) { return I(h)->name().c_str(); }
void if_mac(pktd_ifnet* h, uint8_t mac[6]) { std::copy(I(h)->mac().begin(), I(h)->mac().end(), mac); }
uint32_t if_mtu(pktd_ifnet* h) { return I(h)->mtu(); }
uint32_t if_flags(pktd_ifnet* h) { return I(h)->flags(); }
void if_set_flags(pktd_ifnet* h, uint32_t set, uint32_t clear) { I(h)->set_driver_flags(set, clear); }
void if_input(pktd_ifnet* h, pktd_mbuf* m) { I(h)->input(buf::MbufPtr(M(m))); }
void if_link_state_change(pktd_ifnet* h, pktd_link_state s) {
  I(h)->set_link_state(static_cast<LinkState>(s));
}
pktd_link_state if_link_state(pktd_ifnet* h) {
  return static_cast<pktd_link_state>(I(h)->link_state());
}
void if_count(pktd_ifnet* h, pktd_if_counter counter, uint64_t n) {
  IfCounters& c = I(h)->counters();
  std::atomic<uint64_t>* target = nullptr;
  switch (counter) {
    case PKTD_IFC_IERRORS: target = &c.ierrors; break;
    case PKTD_IFC_OERRORS: target = &c.oerrors; break;
    case PKTD_IFC_IQDROPS: target = &c.iqdrops; break;
    case PKTD_IFC_COLLISIONS: target = &c.collisions; break;
    case PKTD_IFC_OPACKETS: target = &c.opackets; break;
    case PKTD_IFC_OBYTES: target = &c.obytes; break;
  }
  if (target != nullptr) target->fetch_add(n, std::memory_order_relaxed);
}

// --- send queue ---
void if_tx_lock(pktd_ifnet* h) { I(h)->tx_lock(); }
void if_tx_unlock(pktd_ifnet* h) { I(h)->tx_unlock(); }
pktd_mbuf* if_dequeue(pktd_ifnet* h) { return P(I(h)->dequeue()); }
void if_prepend(pktd_ifnet* h, pktd_mbuf* m) { I(h)->prepend(M(m)); }
int if_queue_empty(pktd_ifnet* h) { return I(h)->queue_empty() ? 1 : 0; }
void if_purge(pktd_ifnet* h) { I(h)->purge(); }

// --- interrupts ---
pktd_irq* irq_attach(pktd_driver* d, const char* name, int fd, pktd_process (*process)(void*),
                     void (*enable)(void*), void* arg) {
  rt::InterruptSpec spec;
  spec.name = name != nullptr ? name : "?";
  spec.owner = LoadedDriver::from(d)->path;
  spec.fd = fd;
  if (process != nullptr)
    spec.process = [process, arg] {
      return process(arg) == PKTD_PROCESS_AGAIN ? rt::Process::again : rt::Process::done;
    };
  if (enable != nullptr) spec.enable = [enable, arg] { enable(arg); };
  return reinterpret_cast<pktd_irq*>(R().attach_interrupt(std::move(spec)));
}
void irq_detach(pktd_irq* irq) { R().detach_interrupt(reinterpret_cast<rt::Interrupt*>(irq)); }
pktd_irq_event* interrupt_queue(pktd_irq* irq) {
  return reinterpret_cast<pktd_irq_event*>(
      R().interrupt_queue(reinterpret_cast<rt::Interrupt*>(irq)));
}
void irq_send(pktd_irq_event* ev) { R().send_event(reinterpret_cast<rt::InterruptEvent*>(ev)); }

// --- callouts: the storage is raw, so init constructs (once, before first use) ---
void callout_init(pktd_callout* c) { new (c->opaque) time::Callout(); }
void callout_msec(pktd_callout* c, uint32_t ms, void (*fn)(void*), void* arg) {
  R().callout_msec(*C(c), ms, fn, arg);
}
int callout_stop(pktd_callout* c) { return R().callout_stop(*C(c)) ? 1 : 0; }
int callout_pending(const pktd_callout* c) { return C(c)->pending() ? 1 : 0; }

// --- stack context and threads ---
int blockop(void (*fn)(void*), void* arg) { return R().blockop([fn, arg] { fn(arg); }); }
int tsleep(const void* chan, uint32_t ms) { return R().tsleep(chan, ms); }
int wakeup(const void* chan) { return R().wakeup(chan); }
int in_stack_context() { return R().in_stack_context() ? 1 : 0; }
int thread_create(pktd_thread** out, const char* name, void (*body)(void*), void* arg,
                  void (*quiesce)(void*, int), void* quiesce_arg) {
  rt::TrackedThread* t = nullptr;
  int err = R().create_thread(&t, name != nullptr ? name : "", [body, arg] { body(arg); },
                              quiesce, quiesce_arg, reinterpret_cast<const void*>(body));
  if (err == 0 && out != nullptr) *out = reinterpret_cast<pktd_thread*>(t);
  return err;
}
int thread_reap(pktd_thread* t) { return R().reap_thread(reinterpret_cast<rt::TrackedThread*>(t)); }
int quiesce_all() { return R().quiesce_all(); }
int unquiesce_all() { return R().unquiesce_all(); }
void quiesce_block(int die) { R().quiesce_block(die); }

// --- mbufs ---
pktd_mbuf* m_getpacket(size_t len, pktd_wait how) {
  buf::MbufPtr m = buf::get_packet(W(how), len);
  if (!m) return nullptr;
  // Fill the chain to len: the driver writes the frame into the buffers it walks.
  size_t left = len;
  for (buf::Mbuf* b = m.get(); b != nullptr && left > 0; b = b->next) {
    size_t take = std::min(left, b->tailroom());
    b->len += take;
    left -= take;
  }
  if (left != 0) return nullptr;  // get_packet promised room; MbufPtr frees on this path
  m->pkthdr.len = len;
  return P(m.release());
}
pktd_mbuf* m_devget(const void* data, size_t len, pktd_wait how) {
  buf::MbufPtr m = buf::packet_from({static_cast<const std::byte*>(data), len}, W(how));
  return P(m.release());
}
void m_freem(pktd_mbuf* m) { buf::Pool::instance().free_chain(M(m)); }
size_t m_pktlen(const pktd_mbuf* m) { return buf::chain_length(M(m)); }
pktd_mbuf* m_next(const pktd_mbuf* m) { return P(M(m)->next); }
uint8_t* m_data(pktd_mbuf* m) { return reinterpret_cast<uint8_t*>(M(m)->data); }
size_t m_len(const pktd_mbuf* m) { return M(m)->len; }
int m_copydata(const pktd_mbuf* m, size_t offset, size_t len, void* out) {
  return buf::copy_data(*M(m), offset, {static_cast<std::byte*>(out), len}) ? 0 : EINVAL;
}
void m_trim(pktd_mbuf* m, size_t len) {
  size_t total = buf::chain_length(M(m));
  if (len < total) buf::adjust(*M(m), -static_cast<long>(total - len));
}

// Attaches in progress: which pseudo-thread runs each, and where its first error goes. Stack
// context only (the loader attaches there), so no lock.
std::vector<std::pair<const void*, std::string*>> g_attach_errors;

__attribute__((format(printf, 1, 0))) void keep_attach_error(const char* fmt, va_list args) {
  const void* self = R().current_pseudo_thread();
  for (auto& [pt, why] : g_attach_errors) {
    if (pt != self || !why->empty()) continue;
    char text[512];
    std::vsnprintf(text, sizeof text, fmt, args);
    *why = text;
  }
}

__attribute__((format(printf, 2, 3))) void log(pktd_log_level level, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  if (level == PKTD_LOG_ERROR && rt::Runtime::current() != nullptr &&
      R().in_stack_context()) {
    va_list copy;
    va_copy(copy, args);
    keep_attach_error(fmt, copy);
    va_end(copy);
  }
  pktd::log::vwrite(static_cast<pktd::log::Level>(level), fmt, args);
  va_end(args);
}

const pktd_host kHost = {
    PKTD_DRIVER_ABI_VERSION, sizeof(pktd_host),
    if_attach, if_destroy, if_name, if_mac, if_mtu, if_flags, if_set_flags, if_input,
    if_link_state_change, if_link_state, if_count,
    if_tx_lock, if_tx_unlock, if_dequeue, if_prepend, if_queue_empty, if_purge,
    irq_attach, irq_detach, interrupt_queue, irq_send,
    callout_init, callout_msec, callout_stop, callout_pending,
    blockop, tsleep, wakeup, in_stack_context,
    thread_create, thread_reap, quiesce_all, unquiesce_all, quiesce_block,
    m_getpacket, m_devget, m_freem, m_pktlen, m_next, m_data, m_len, m_copydata, m_trim,
    log,
};

}  // namespace

const pktd_host* driver_host() { return &kHost; }

AttachErrorScope::AttachErrorScope(std::string& why) : pseudo_thread_(R().current_pseudo_thread()) {
  g_attach_errors.emplace_back(pseudo_thread_, &why);
}

AttachErrorScope::~AttachErrorScope() {
  std::erase_if(g_attach_errors, [this](const auto& slot) { return slot.first == pseudo_thread_; });
}

}  // namespace pktd::net
