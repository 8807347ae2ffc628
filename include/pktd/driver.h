/* The pktd driver SDK: everything a NIC driver (devnp-NAME.so) sees of pktd.
 *
 * A C ABI, so drivers can be written in C or C++ and built out of tree: the driver exports one
 * symbol, pktd_driver_entry, returning a description with the ABI version it was built for; pktd
 * calls its attach with a table of host functions (struct pktd_host) and the option string.
 * Nothing else is shared: no C++ types, no exceptions (a C++ driver must catch its own).
 *
 * io-pkt's names for these calls are given beside each one; docs/driver-guide.md has the table.
 */
#ifndef PKTD_DRIVER_H
#define PKTD_DRIVER_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PKTD_DRIVER_ABI_VERSION 1u

/* Opaque handles. */
typedef struct pktd_driver pktd_driver;  /* one loaded driver instance (one -d or mount) */
typedef struct pktd_ifnet pktd_ifnet;    /* an interface */
typedef struct pktd_mbuf pktd_mbuf;      /* a packet (a chain of buffers) */
typedef struct pktd_irq pktd_irq;        /* an interrupt source */
typedef struct pktd_irq_event pktd_irq_event;
typedef struct pktd_thread pktd_thread;  /* a tracked thread */

/* Storage for a callout, embedded in the driver's softc (io-pkt: struct callout). */
typedef struct pktd_callout {
  uint64_t opaque[8];
} pktd_callout;

enum pktd_link_state { PKTD_LINK_UNKNOWN = 0, PKTD_LINK_DOWN = 1, PKTD_LINK_UP = 2 };
enum pktd_wait { PKTD_M_NOWAIT = 0, PKTD_M_WAITOK = 1 };
enum pktd_process { PKTD_PROCESS_DONE = 0, PKTD_PROCESS_AGAIN = 1 };
enum pktd_log_level { PKTD_LOG_ERROR = 0, PKTD_LOG_WARNING = 1, PKTD_LOG_INFO = 2, PKTD_LOG_DEBUG = 3 };

/* Interface flags, BSD values. Admin flags are written by the stack and the user; the driver
 * reads them. Driver flags are written by the driver (pktd_host.if_set_flags). */
#define PKTD_IFF_UP 0x1u
#define PKTD_IFF_BROADCAST 0x2u
#define PKTD_IFF_LOOPBACK 0x8u
#define PKTD_IFF_POINTOPOINT 0x10u
#define PKTD_IFF_RUNNING 0x40u  /* driver */
#define PKTD_IFF_PROMISC 0x100u
#define PKTD_IFF_ALLMULTI 0x200u
#define PKTD_IFF_OACTIVE 0x400u /* driver: transmission in progress, do not call start */
#define PKTD_IFF_SIMPLEX 0x800u
#define PKTD_IFF_MULTICAST 0x8000u
#define PKTD_IFF_DRIVER_FLAGS (PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE)

/* Capabilities (offloads), reported by the driver. */
#define PKTD_IFCAP_RXCSUM 0x1u
#define PKTD_IFCAP_TXCSUM 0x2u
#define PKTD_IFCAP_TSO4 0x4u
#define PKTD_IFCAP_TSO6 0x8u

/* Counters a driver adds to (pktd_host.if_count). The stack counts packets and bytes in and out
 * itself; the driver counts what only it sees. */
enum pktd_if_counter {
  PKTD_IFC_IERRORS = 0,   /* frames received in error */
  PKTD_IFC_OERRORS = 1,   /* frames the hardware failed to send */
  PKTD_IFC_IQDROPS = 2,   /* received frames dropped for lack of resources */
  PKTD_IFC_COLLISIONS = 3,
  PKTD_IFC_OPACKETS = 4,  /* frames sent (the driver counts when the hardware is done) */
  PKTD_IFC_OBYTES = 5
};

/* Per-interface callbacks. softc is the pointer given at attach. */
struct pktd_if_ops {
  /* (Re)configure and bring up: called when the interface goes up and again on every
   * reconfiguration (MTU, flags, ...), so it must be idempotent. 0 or an errno. */
  int (*init)(pktd_ifnet* ifp, void* softc);
  /* Transmit (io-pkt if_start): called with the transmit lock held, unless OACTIVE is set; the
   * driver dequeues with if_dequeue and MUST release the lock (if_tx_unlock) before returning.
   * In the stack context, or on a worker for a driver with PKTD_DRIVER_START_ON_WORKER. */
  void (*start)(pktd_ifnet* ifp, void* softc);
  /* Stop (io-pkt if_stop): the interface went down (disable = 0) or is being detached (1). */
  void (*stop)(pktd_ifnet* ifp, void* softc, int disable);
  /* Driver-specific requests from `pkt ifconfig IF ...` / `pkt nicinfo`; may be null.
   * request and reply are text; reply_len is the size of reply. 0 or an errno. */
  int (*ioctl)(pktd_ifnet* ifp, void* softc, const char* request, char* reply, size_t reply_len);
  /* The interface is being destroyed (after stop(1)): free what attach made for it. */
  void (*detach)(pktd_ifnet* ifp, void* softc);
};

/* What the driver asks for when it creates an interface. The user's name=, unit=, mac= and mtu=
 * options override name, unit, mac and mtu. */
struct pktd_if_config {
  const char* name;       /* e.g. "tap": the interface is name + unit, "tap0" */
  int unit;               /* -1: the first free unit */
  uint8_t mac[6];         /* all zero: pktd makes a locally administered one */
  uint32_t mtu;           /* 0: 1500 */
  uint32_t flags;         /* admin flags it supports: BROADCAST, MULTICAST, SIMPLEX, ... */
  uint32_t capabilities;  /* PKTD_IFCAP_* */
  const struct pktd_if_ops* ops;
  void* softc;
};

/* What pktd offers the driver. Valid from attach until the driver is unloaded. */
struct pktd_host {
  uint32_t abi_version;
  uint32_t size; /* sizeof(struct pktd_host) as pktd built it */

  /* --- interfaces --- */
  /* Creates an interface. Returns null (and logs why) if the name is taken or cfg is bad. */
  pktd_ifnet* (*if_attach)(pktd_driver* drv, const struct pktd_if_config* cfg);
  /* Destroys one of the driver's interfaces from within the driver (rarely needed). */
  void (*if_destroy)(pktd_ifnet* ifp);
  const char* (*if_name)(pktd_ifnet* ifp);
  void (*if_mac)(pktd_ifnet* ifp, uint8_t mac[6]);
  uint32_t (*if_mtu)(pktd_ifnet* ifp);
  uint32_t (*if_flags)(pktd_ifnet* ifp);                      /* admin | driver flags */
  void (*if_set_flags)(pktd_ifnet* ifp, uint32_t set, uint32_t clear); /* driver flags only */
  /* io-pkt if_input / ether_input: a received frame; consumes m. Any worker or tracked thread. */
  void (*if_input)(pktd_ifnet* ifp, pktd_mbuf* m);
  /* io-pkt if_link_state_change: from any context. */
  void (*if_link_state_change)(pktd_ifnet* ifp, enum pktd_link_state state);
  enum pktd_link_state (*if_link_state)(pktd_ifnet* ifp);
  void (*if_count)(pktd_ifnet* ifp, enum pktd_if_counter counter, uint64_t n);

  /* --- the send queue (io-pkt ifp->if_snd) and the transmit lock (NW_SIGLOCK(&ifp->if_snd_ex)) --- */
  void (*if_tx_lock)(pktd_ifnet* ifp);
  void (*if_tx_unlock)(pktd_ifnet* ifp);
  pktd_mbuf* (*if_dequeue)(pktd_ifnet* ifp);     /* IF_DEQUEUE; lock held; null when empty */
  void (*if_prepend)(pktd_ifnet* ifp, pktd_mbuf* m); /* IF_PREPEND: put back what could not go */
  int (*if_queue_empty)(pktd_ifnet* ifp);         /* IFQ_IS_EMPTY */
  void (*if_purge)(pktd_ifnet* ifp);              /* IFQ_PURGE; lock held */

  /* --- interrupts --- */
  /* An fd-based source (fd >= 0) or a software one (fd = -1, for interrupt_queue). process runs
   * on a worker and returns PKTD_PROCESS_DONE or _AGAIN; enable unmasks. After DONE, enable is
   * called by the same worker straight away (a software source is already idle then, so a
   * thread unblocked by enable gets a fresh event from interrupt_queue); after AGAIN the source
   * stays masked and process is called again later, possibly on another worker. */
  pktd_irq* (*irq_attach)(pktd_driver* drv, const char* name, int fd,
                          enum pktd_process (*process)(void* arg), void (*enable)(void* arg),
                          void* arg);
  void (*irq_detach)(pktd_irq* irq);
  pktd_irq_event* (*interrupt_queue)(pktd_irq* irq); /* null when already queued */
  void (*irq_send)(pktd_irq_event* event);           /* io-pkt MsgSendPulse of the event */

  /* --- callouts ---
   * In the stack context (init, start, stop, detach, ioctl, callouts) these act at once. From a
   * worker or a tracked thread they are forwarded to the stack context and happen later: stop
   * such callouts in stop/detach (stack context) before freeing their storage, and do not arm
   * them from elsewhere once detach may have run. */
  void (*callout_init)(pktd_callout* c);
  void (*callout_msec)(pktd_callout* c, uint32_t ms, void (*fn)(void* arg), void* arg);
  int (*callout_stop)(pktd_callout* c);     /* 1 if it was pending */
  int (*callout_pending)(const pktd_callout* c);

  /* --- the stack context --- */
  int (*blockop)(void (*fn)(void* arg), void* arg);  /* io-pkt blockop_dispatch */
  int (*tsleep)(const void* chan, uint32_t timeout_ms);
  int (*wakeup)(const void* chan);
  int (*in_stack_context)(void);

  /* --- tracked threads --- */
  int (*thread_create)(pktd_thread** out, const char* name, void (*body)(void* arg), void* arg,
                       void (*quiesce)(void* arg, int die), void* quiesce_arg);
  int (*thread_reap)(pktd_thread* thread);
  int (*quiesce_all)(void);
  int (*unquiesce_all)(void);
  /* From the tracked thread itself, when its quiesce callback asked. die = 0: blocks until
   * unquiesce_all. die = 1: ends the thread by unwinding it (pthread_exit), so call it outside
   * any catch (...) and any noexcept function, or the unwinding aborts the process. */
  void (*quiesce_block)(int die);

  /* --- mbufs --- */
  /* A packet with room for len bytes, contiguous when len fits a cluster, length already len. */
  pktd_mbuf* (*m_getpacket)(size_t len, enum pktd_wait how);
  /* A packet holding a copy of len bytes (io-pkt m_devget). */
  pktd_mbuf* (*m_devget)(const void* data, size_t len, enum pktd_wait how);
  void (*m_freem)(pktd_mbuf* m);
  size_t (*m_pktlen)(const pktd_mbuf* m);
  /* Walking a chain: each buffer's bytes. */
  pktd_mbuf* (*m_next)(const pktd_mbuf* m);
  uint8_t* (*m_data)(pktd_mbuf* m);
  size_t (*m_len)(const pktd_mbuf* m);
  /* Copies len bytes from offset out of the chain; 0 or an errno. */
  int (*m_copydata)(const pktd_mbuf* m, size_t offset, size_t len, void* out);
  /* Trims the packet to len bytes (after filling an m_getpacket buffer partly). */
  void (*m_trim)(pktd_mbuf* m, size_t len);

  /* --- diagnostics --- */
  void (*log)(enum pktd_log_level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
};

/* What the shared object exports. */
#define PKTD_DRIVER_STAY_RESIDENT 0x1u /* keep the .so loaded after its last interface is gone */
/* start may run on a worker instead of in the stack context (pktd's transmit hand-off, on by
 * default: -p tcpip,tx_handoff). Such a start keeps to the transmit lock, OACTIVE and its own
 * state and calls no callout_* (from a worker they are only posted, and could land after
 * detach): when the device cannot take a frame now it leaves the frame first in the queue and
 * OACTIVE clear, and pktd calls start again in the stack context, where the kick may be armed.
 * pktd waits for a start on a worker before the driver's stop and detach. */
#define PKTD_DRIVER_START_ON_WORKER 0x2u

struct pktd_driver_info {
  uint32_t abi_version; /* PKTD_DRIVER_ABI_VERSION the driver was built against */
  const char* name;     /* "tap" for devnp-tap.so */
  uint32_t flags;       /* PKTD_DRIVER_STAY_RESIDENT */
  /* Creates the driver's interfaces (if_attach). options: the driver-specific part of the -d
   * or mount options ("opt=val,..."), with name=, unit=, mac=, mtu= already taken out.
   * Runs in the stack context. 0, or an errno after logging why: then release what is not an
   * interface (fds, threads, interrupts); pktd destroys the interfaces it made (stop, detach). */
  int (*attach)(const struct pktd_host* host, pktd_driver* drv, const char* options);
  /* Called once before the shared object is unloaded; may be null. */
  void (*unload)(void);
};

#define PKTD_DRIVER_ENTRY_SYMBOL "pktd_driver_entry"
typedef const struct pktd_driver_info* (*pktd_driver_entry_fn)(void);

/* Splits "a=1,b,c=x" one option at a time: returns 0 at the end. key and value point into buf
 * (a writable copy the caller owns); value is "" for a bare key. */
static inline int pktd_next_option(char** cursor, char** key, char** value) {
  char* p = *cursor;
  while (p != 0 && *p == ',') ++p;
  if (p == 0 || *p == '\0') return 0;
  *key = p;
  while (*p != '\0' && *p != ',') ++p;
  if (*p == ',') *p++ = '\0';
  *cursor = p;
  *value = *key;
  while (**value != '\0' && **value != '=') ++*value;
  if (**value == '=') *(*value)++ = '\0';
  return 1;
}

#ifdef __cplusplus
}
#endif

#endif /* PKTD_DRIVER_H */
