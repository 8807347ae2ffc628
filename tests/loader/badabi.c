/* A driver built for an ABI this pktd does not speak. */
#include "pktd/driver.h"

static int attach(const struct pktd_host* h, pktd_driver* d, const char* o) {
  (void)h, (void)d, (void)o;
  return 0;
}
static const struct pktd_driver_info info = {99, "badabi", 0, attach, 0};
const struct pktd_driver_info* pktd_driver_entry(void) { return &info; }
