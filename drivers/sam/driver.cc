// devnp-sam.so: the sample driver. Attach (with the firmware load through blockop), the engine
// thread, init, stop (the seed's sam_stop), detach, the housekeeping callout and the entry
// point. docs/driver-guide.md walks through this driver section by section.
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <new>
#include <string>
#include <thread>
#include <vector>

#include "cable.h"
#include "softc.h"

namespace pktd_sam {


namespace {

constexpr uint32_t kIfFlags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;
// The engine looks for work this often even without a doorbell (a link that came back).
constexpr uint32_t kEngineIdleMs = 50;

// --- the engine: a tracked thread (seed: nw_pthread_create) playing the DMA engine ---

void engine_main(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  // No try/catch here: quiesce_block(1) ends the thread by unwinding it, which a catch-all
  // would stop. Nothing below throws.
  for (;;) {
    if (sc->engine_die.load()) sc->host.quiesce_block(1);
    // Seed: a tracked thread answers a quiesce by calling quiesce_block from its own loop.
    if (sc->engine_quiesce.exchange(false) && sc->mistake.load() != Mistake::deaf)
      sc->host.quiesce_block(0);
    sc->port.transmit_pending();
    sc->port.wait_for_work(kEngineIdleMs);
  }
}

// The quiesce callback: runs on the thread calling quiesce_all or reap; only asks.
void engine_quiesce(void* arg, int die) {
  auto* sc = static_cast<Softc*>(arg);
  (die != 0 ? sc->engine_die : sc->engine_quiesce).store(true);
  sc->port.wake();
}

// --- housekeeping: a periodic callout in the stack context ---

void housekeeping(void* arg) {
  auto* sc = static_cast<Softc*>(arg);
  guarded(&sc->host, "housekeeping", 0, [&] {
    purge_if_stale(*sc);
    // The "block" mistake: a callback that blocks the stack context, which the stack-context
    // watchdog names (seed: "Blocking Operations").
    if (uint32_t ms = sc->block_once_ms.exchange(0); ms != 0) ::usleep(ms * 1000);
    return 0;
  });
  sc->host.callout_msec(&sc->housekeeping, kHousekeepingMs, housekeeping, sc);
}

// --- pktd_if_ops ---

int sam_init(pktd_ifnet* ifp, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  return guarded(&sc->host, "init", EIO, [&] {
    // Idempotent (called again on every reconfiguration): the rings were set up at attach.
    if (sc->host.if_mtu(ifp) > kMaxMtu) {
      sc->host.log(PKTD_LOG_ERROR, "sam: %s: mtu %u is more than the hardware's %u",
                   sc->host.if_name(ifp), sc->host.if_mtu(ifp), kMaxMtu);
      return EINVAL;
    }
    sc->host.if_set_flags(ifp, PKTD_IFF_RUNNING, 0);
    return 0;
  });
}

// Seed guide, sam_stop: lock out the transmit side and cancel the kick. The seed then waits for
// OACTIVE to clear (10 times 50 ms) and quiesces everything as the last resort: that is for a
// driver whose start lets go of the transmit lock part-way through a transmission. sam's start
// never does, so holding the lock proves no transmission is in progress, and every way sam
// leaves OACTIVE set is a wait (the kick, the link, descriptors) that stop cancels here. Not
// sleeping matters too: a stop that slept would let another stop, an init or a detach run
// meanwhile and find the softc half stopped (or freed).
void stop_transmit(Softc& sc) {
  const pktd_host& h = sc.host;
  h.if_tx_lock(sc.ifp);
  if (h.callout_pending(&sc.kick) != 0) h.callout_stop(&sc.kick);
  sc.waiting_for_link = false;
  sc.waiting_for_descriptors = false;
  h.if_set_flags(sc.ifp, 0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
  h.if_tx_unlock(sc.ifp);
}

void sam_stop(pktd_ifnet* /*ifp*/, void* softc, int /*disable*/) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "stop", 0, [&] {
    stop_transmit(*sc);
    return 0;
  });
}

// Everything attach made for this port except the interface and the softc; safe on a
// half-built softc. Order: the interrupt first (irq_detach waits for a running process
// callback), then the callouts (nothing else arms them now), then the engine.
void release(Softc& sc) {
  const pktd_host& h = sc.host;
  if (sc.irq != nullptr) h.irq_detach(sc.irq);
  sc.irq = nullptr;
  h.callout_stop(&sc.kick);
  if (sc.housekeeping_armed) h.callout_stop(&sc.housekeeping);
  sc.housekeeping_armed = false;
  if (sc.engine != nullptr) h.thread_reap(sc.engine);
  sc.engine = nullptr;
}

// A port whose driver goes takes its partner's link down (a NIC sees no link without one); a
// cable end can then be taken again.
void leave_board(Softc& sc) {
  if (sc.board->ports() > 1) sc.board->set_present(sc.port_index, false);
  if (!sc.opt.cable.empty()) give_back_cable_end(sc.board, sc.port_index);
}

void sam_detach(pktd_ifnet* /*ifp*/, void* softc) {
  auto* sc = static_cast<Softc*>(softc);
  guarded(&sc->host, "detach", 0, [&] {
    release(*sc);
    leave_board(*sc);
    return 0;
  });
  delete sc;
}

constexpr pktd_if_ops kOps = {.init = sam_init, .start = sam_start, .stop = sam_stop,
                              .ioctl = sam_ioctl, .detach = sam_detach};

// --- the firmware load: slow but bounded, so a blockop (seed: "Blocking Operations") ---

struct FirmwareLoad {
  const Options* opt;
  std::string report;  // what was loaded
  int error = 0;
};

// Runs on pktd's main thread while the attaching pseudo-thread sleeps.
void load_firmware(void* arg) {
  auto* load = static_cast<FirmwareLoad*>(arg);
  // What a real device spends programming its flash; simulated.
  std::this_thread::sleep_for(std::chrono::milliseconds(load->opt->fwload_ms));
  if (load->opt->firmware.empty()) {
    load->report = "built-in image";
    return;
  }
  errno = 0;  // the main thread's errno may be left over from anything
  std::ifstream in(load->opt->firmware, std::ios::binary);
  if (!in) {
    load->error = errno != 0 ? errno : ENOENT;
    return;
  }
  std::vector<char> image((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  uint32_t sum = 0;
  for (char c : image) sum = sum * 31 + static_cast<unsigned char>(c);
  char text[256];
  std::snprintf(text, sizeof text, "%s, %zu bytes, checksum %08x", load->opt->firmware.c_str(),
                image.size(), sum);
  load->report = text;
}

int firmware(const pktd_host& h, const Options& opt, std::string& report) {
  FirmwareLoad load{&opt, {}, 0};
  if (int err = h.blockop(load_firmware, &load); err != 0) {
    h.log(PKTD_LOG_ERROR, "sam: firmware load: blockop refused: %s", std::strerror(err));
    return err;
  }
  if (load.error != 0) {
    h.log(PKTD_LOG_ERROR, "sam: cannot load firmware %s: %s", opt.firmware.c_str(),
          std::strerror(load.error));
    return load.error;
  }
  report = load.report;
  return 0;
}

// --- attach ---

// Until attach has succeeded, undoes what it made for one port. A softc whose interface exists
// belongs to pktd now: pktd destroys the interface, and its detach frees the softc.
class PendingPort {
 public:
  explicit PendingPort(Softc* sc) : sc_(sc) {}
  PendingPort(const PendingPort&) = delete;
  PendingPort& operator=(const PendingPort&) = delete;
  ~PendingPort() {
    if (sc_ == nullptr || sc_->ifp != nullptr) return;
    release(*sc_);
    leave_board(*sc_);
    delete sc_;
  }
  void commit() { sc_ = nullptr; }

 private:
  Softc* sc_;
};

int attach_port(const pktd_host& h, pktd_driver* drv, const std::shared_ptr<Board>& board,
                int index, const Options& opt, const std::string& fw) {
  auto* sc = new (std::nothrow) Softc(h, drv, board, index, opt);
  if (sc == nullptr) {
    if (!opt.cable.empty()) give_back_cable_end(board, index);
    return ENOMEM;
  }
  PendingPort pending(sc);
  sc->firmware = fw;
  h.callout_init(&sc->kick);
  h.callout_init(&sc->housekeeping);
  pktd_if_config cfg{};
  cfg.name = "sam";
  cfg.unit = -1;
  cfg.mtu = kDefaultMtu;
  cfg.flags = kIfFlags;
  cfg.ops = &kOps;
  cfg.softc = sc;
  sc->ifp = h.if_attach(drv, &cfg);
  if (sc->ifp == nullptr) return EEXIST;  // pktd has logged why
  pending.commit();                       // from here pktd's destroy frees it on failure
  // A cable end taken again: what the previous driver left in the rings (frames it never read,
  // the engine's positions, its missed count) is not this driver's.
  sc->port.reset_rings();
  sc->rx_missed_seen = sc->port.rx_missed();
  std::string name = std::string(h.if_name(sc->ifp)) + " engine";
  if (int err = h.thread_create(&sc->engine, name.c_str(), engine_main, sc, engine_quiesce, sc);
      err != 0)
    return err;
  sc->irq = h.irq_attach(drv, "sam rx/tx/link", sc->port.irq_fd(), sam_process, sam_enable, sc);
  if (sc->irq == nullptr) return EIO;
  // A cable end is present from now: its partner's link comes up through the link interrupt.
  if (!opt.cable.empty()) board->set_present(index, true);
  h.if_link_state_change(sc->ifp, board->link_up() ? PKTD_LINK_UP : PKTD_LINK_DOWN);
  h.callout_msec(&sc->housekeeping, kHousekeepingMs, housekeeping, sc);
  sc->housekeeping_armed = true;
  sc->port.unmask_interrupts();
  h.log(PKTD_LOG_INFO, "sam: %s: %s, %zu TX and %zu RX descriptors, firmware: %s",
        h.if_name(sc->ifp),
        describe(*sc).c_str(),
        sc->port.tx().size(), sc->port.rx().size(), fw.c_str());
  return 0;
}

int attach(const pktd_host& h, pktd_driver* drv, const char* options) {
  Options opt;
  if (int err = parse_options(h, options, opt); err != 0) return err;
  std::string fw;
  if (int err = firmware(h, opt, fw); err != 0) return err;
  if (!opt.cable.empty()) {
    CableEnd end;
    if (take_cable_end(opt.cable, opt, kFrameMax, end) != 0) {
      h.log(PKTD_LOG_ERROR, "sam: cable %s has both its ends attached already",
            opt.cable.c_str());
      return EBUSY;
    }
    return attach_port(h, drv, end.board, end.port, opt, fw);
  }
  auto board = std::make_shared<Board>(opt.pair ? 2 : 1, opt.txd, opt.rxd, kFrameMax,
                                      opt.flow_control);
  for (int i = 0; i < board->ports(); ++i)
    if (int err = attach_port(h, drv, board, i, opt, fw); err != 0) return err;
  return 0;
}

int sam_attach(const pktd_host* host, pktd_driver* drv, const char* options) {
  return pktd_kit::guarded_attach(host, kDriverName, [&] { return attach(*host, drv, options); });
}

}  // namespace
}  // namespace pktd_sam

extern "C" __attribute__((visibility("default"))) const pktd_driver_info* pktd_driver_entry(void) {
  static constexpr pktd_driver_info kInfo = {.abi_version = PKTD_DRIVER_ABI_VERSION,
                                             .name = "sam",
                                             .flags = 0,
                                             .attach = pktd_sam::sam_attach,
                                             .unload = nullptr};
  return &kInfo;
}
