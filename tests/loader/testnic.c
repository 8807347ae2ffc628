/* A minimal driver written in C against include/pktd/driver.h, for the loader's tests.
 * Options: count=N interfaces (default 1), fail (attach fails with EINVAL after making an
 * interface, which pktd must clean up), stuck (a tracked thread deaf to quiesce and to die, until
 * testnic_release_stuck), anything else is recorded for the test to read. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pktd/driver.h"

static const struct pktd_host* host;
static char last_options[256];
static int attached, detached;

__attribute__((visibility("default"))) const char* testnic_last_options(void) { return last_options; }
__attribute__((visibility("default"))) int testnic_live_interfaces(void) { return attached - detached; }

static int tn_init(pktd_ifnet* ifp, void* softc) {
  (void)softc;
  host->if_set_flags(ifp, PKTD_IFF_RUNNING, 0);
  return 0;
}

static void tn_start(pktd_ifnet* ifp, void* softc) {
  (void)softc;
  pktd_mbuf* m;
  while ((m = host->if_dequeue(ifp)) != NULL) host->m_freem(m); /* a black hole */
  host->if_tx_unlock(ifp);
}

static void tn_stop(pktd_ifnet* ifp, void* softc, int disable) {
  (void)softc, (void)disable;
  host->if_set_flags(ifp, 0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
}

/* stuck: a tracked thread that answers neither quiesce nor die, until the test releases it. */
static pktd_thread* stuck_thread;
static int stuck_released;

__attribute__((visibility("default"))) void testnic_release_stuck(void) {
  __atomic_store_n(&stuck_released, 1, __ATOMIC_RELEASE);
}

static void stuck_body(void* arg) {
  (void)arg;
  while (!__atomic_load_n(&stuck_released, __ATOMIC_ACQUIRE)) usleep(1000);
}

static void stuck_quiesce(void* arg, int die) { (void)arg, (void)die; /* deaf, on purpose */ }

static void tn_detach(pktd_ifnet* ifp, void* softc) {
  (void)ifp;
  free(softc);
  ++detached;
  if (stuck_thread != NULL && host->thread_reap(stuck_thread) == 0) stuck_thread = NULL;
}

static const struct pktd_if_ops tn_ops = {tn_init, tn_start, tn_stop, NULL, tn_detach};

static int tn_attach(const struct pktd_host* h, pktd_driver* drv, const char* options) {
  host = h;
  strncpy(last_options, options, sizeof last_options - 1);
  char copy[256];
  strncpy(copy, options, sizeof copy - 1);
  copy[sizeof copy - 1] = '\0';
  char *cursor = copy, *key, *value;
  long count = 1;
  int fail = 0;
  while (pktd_next_option(&cursor, &key, &value)) {
    if (strcmp(key, "count") == 0) count = strtol(value, NULL, 10);
    if (strcmp(key, "fail") == 0) fail = 1;
    if (strcmp(key, "stuck") == 0) {
      __atomic_store_n(&stuck_released, 0, __ATOMIC_RELEASE);
      if (host->thread_create(&stuck_thread, "tn stuck", stuck_body, NULL, stuck_quiesce, NULL))
        return EIO;
    }
  }
  for (long i = 0; i < count; ++i) {
    struct pktd_if_config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.name = "tn";
    cfg.unit = -1;
    cfg.flags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;
    cfg.ops = &tn_ops;
    cfg.softc = malloc(16);
    if (host->if_attach(drv, &cfg) == NULL) {
      free(cfg.softc);
      return EEXIST;
    }
    ++attached;
  }
  return fail ? EINVAL : 0;
}

/* Built twice: devnp-resident.so asks to stay loaded after its last interface is gone. */
#ifdef TESTNIC_RESIDENT
#define TESTNIC_FLAGS PKTD_DRIVER_STAY_RESIDENT
#else
#define TESTNIC_FLAGS 0u
#endif
static const struct pktd_driver_info info = {PKTD_DRIVER_ABI_VERSION, "testnic", TESTNIC_FLAGS,
                                             tn_attach, NULL};

__attribute__((visibility("default"))) const struct pktd_driver_info* pktd_driver_entry(void) {
  return &info;
}
