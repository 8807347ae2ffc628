#include "tools/pkt/clock.h"

#include <cerrno>
#include <csignal>
#include <ctime>

namespace pktd::pkt {

namespace {

volatile std::sig_atomic_t g_stop = 0;
struct sigaction g_old_int {
}, g_old_term{};

extern "C" void on_stop_signal(int) { g_stop = 1; }

void sleep_unless_stopped(std::chrono::nanoseconds d) {
  if (d.count() <= 0 || g_stop) return;
  auto s = std::chrono::duration_cast<std::chrono::seconds>(d);
  timespec ts{static_cast<time_t>(s.count()), static_cast<long>((d - s).count())};
  // A signal ends the sleep (EINTR) whatever SA_RESTART says; then the caller sees g_stop.
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !g_stop) {
  }
}

}  // namespace

StopSignals::StopSignals() {
  g_stop = 0;
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sa.sa_flags = static_cast<int>(SA_RESETHAND);
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &g_old_int);
  sigaction(SIGTERM, &sa, &g_old_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &g_old_int, nullptr);
  sigaction(SIGTERM, &g_old_term, nullptr);
}

Clock system_clock() {
  return {[] { return std::chrono::steady_clock::now(); }, sleep_unless_stopped,
          [] { return g_stop != 0; }};
}

}  // namespace pktd::pkt
