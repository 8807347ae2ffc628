// pktd: the network manager daemon. Parses the command line, detaches unless -f, starts the
// runtime and serves until SIGINT or SIGTERM, then stops every thread and exits 0.
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "base/log.h"
#include "base/thread_identity.h"
#include "buf/mbuf.h"
#include "ctl/server.h"
#include "daemon/backend.h"
#include "daemon/drivers.h"
#include "daemon/instance.h"
#include "daemon/options.h"
#include "daemon/stack_env.h"
#include "daemon/tx_stall_watch.h"
#include "inet/stack.h"
#include "runtime/runtime.h"
#include "sockets/service.h"

namespace pktd::daemon {
namespace {

constexpr int kExitUsage = 2;

rt::RuntimeConfig runtime_config(const Options& o) {
  rt::RuntimeConfig c;
  c.workers = o.workers;
  c.threads_min = o.stack.threads_min;
  c.threads_max = o.stack.threads_max;
  c.pt_stack_bytes = o.stack.pt_stack_kb * 1024;
  c.stack_watchdog = std::chrono::milliseconds(o.stack.stack_watchdog_ms);
  c.quiesce_timeout = std::chrono::milliseconds(o.stack.quiesce_timeout_ms);
  c.poll = std::chrono::microseconds(o.stack.poll_us);
  return c;
}

inet::StackConfig stack_config(const StackOptions& o) {
  inet::StackConfig c;
  c.arp.reachable_time = std::chrono::seconds(o.arp_max_age);
  c.reassembly.timeout = std::chrono::seconds(o.ipfrag_time);
  c.reassembly.max_bytes = o.ipfrag_max_bytes;
  c.tcp.syncookies = o.tcp_syncookies != 0;
  c.tcp.connection.congestion = o.tcp_congestion;
  return c;
}

// Every application socket costs pktd one descriptor (its end of the pair), and each client
// process one more: the default soft limit of 1024 would let one user's sockets starve
// everyone's. The hard limit is what the administrator allows.
void raise_descriptor_limit() {
  rlimit r{};
  if (getrlimit(RLIMIT_NOFILE, &r) != 0 || r.rlim_cur >= r.rlim_max) return;
  r.rlim_cur = r.rlim_max;
  if (setrlimit(RLIMIT_NOFILE, &r) != 0)
    PKTD_LOG_WARN("cannot raise the descriptor limit: %s", std::strerror(errno));
}

bool configure_buffers(const StackOptions& s) {
  buf::PoolConfig pc;
  pc.mclbytes = s.mclbytes;
  pc.max_mbufs = s.mbuf_max;
  pc.max_clusters = s.cluster_max;
  return buf::Pool::instance().configure(pc);
}

// Detaches like a daemon: the parent waits until the child reports that it is serving (one
// byte on a pipe), so "pktd && pkt ..." works, and exits 1 if the child failed to start.
int detach(int* ready_fd) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return -1;
  pid_t pid = fork();
  if (pid < 0) return -1;
  if (pid > 0) {
    close(fds[1]);
    char ok = 0;
    ssize_t n = read(fds[0], &ok, 1);
    return n == 1 && ok == 1 ? 0 : 1;  // parent: exit status
  }
  close(fds[0]);
  setsid();
  if (chdir("/") != 0) return 1;
  int null = open("/dev/null", O_RDWR);
  if (null >= 0) {
    dup2(null, 0);
    dup2(null, 1);
    dup2(null, 2);
    if (null > 2) close(null);
  }
  *ready_fd = fds[1];
  return -2;  // child: go on
}

void report_ready(int ready_fd) {
  if (ready_fd < 0) return;
  char ok = 1;
  [[maybe_unused]] ssize_t n = write(ready_fd, &ok, 1);
  close(ready_fd);
}

int serve(const Options& opts, int ready_fd) {
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  // Blocked before any thread starts, so every thread inherits the mask and only the main
  // thread's signalfd sees them.
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);
  signal(SIGPIPE, SIG_IGN);

  rt::Runtime runtime(runtime_config(opts));
  runtime.start();
  net::Interfaces interfaces;
  interfaces.set_send_queue_len(opts.stack.ifq_maxlen);
  interfaces.set_mac_seed(static_cast<uint32_t>(std::hash<std::string>{}(opts.instance)));
  net::DriverManager drivers(runtime, interfaces, net::default_driver_path(opts.driver_paths));
  drivers.set_transmit_hand_off(opts.stack.tx_handoff != 0);
  Backend backend(runtime, interfaces, drivers);
  RuntimeEnv stack_env(runtime);
  TxStallWatch tx_stall_watch(runtime, interfaces, opts.stack.tx_stall_ms);
  // Made and stopped in the stack context (it arms callouts); destroyed after the runtime stops,
  // so a request still sleeping on a pseudo-thread never holds a dangling stack.
  std::optional<inet::Stack> stack;
  std::optional<gid_t> admin_group;
  if (opts.stack.admin_gid != 0) admin_group = static_cast<gid_t>(opts.stack.admin_gid);
  ctl::Server server(runtime, backend, opts.instance, admin_group);
  std::string error;
  if (server.start(&error) != 0) {
    PKTD_LOG_ERR("control socket: %s", error.c_str());
    runtime.stop();
    return 1;
  }
  sockets::ServiceLimits limits;
  limits.sockets_per_user = opts.stack.sockets_per_user;
  sockets::SocketService socket_service(runtime, opts.instance, limits);
  if (socket_service.start(&error) != 0) {
    PKTD_LOG_ERR("socket service: %s", error.c_str());
    runtime.spawn([&] { server.stop(); runtime.request_stop(); }, "abandon");
    runtime.run_main();
    runtime.stop();
    return 1;
  }

  // Start-up runs on a pseudo-thread (drivers attach in the stack context; dlopen is a blockop
  // that this thread serves in run_main). A driver that fails is logged; pktd stays up.
  runtime.spawn([&] {
    stack.emplace(stack_env, interfaces, stack_config(opts.stack));
    backend.set_stack(&*stack);
    socket_service.set_stack(&*stack);
    backend.set_socket_service(&socket_service);
    net::attach_loopback(interfaces);
    tx_stall_watch.start();
    for (const DriverSpec& d : opts.drivers) drivers.load(d.name_or_path, d.options);
    PKTD_LOG_INFO("instance %s ready: pid %d, %u workers, pseudo-threads %u..%u, mclbytes %zu",
                  opts.instance.c_str(), getpid(), opts.workers, opts.stack.threads_min,
                  opts.stack.threads_max, opts.stack.mclbytes);
    report_ready(ready_fd);
  }, "start-up");
  int signo = runtime.run_main(&stop_signals);
  PKTD_LOG_INFO("instance %s stopping on %s", opts.instance.c_str(),
                signo != 0 ? strsignal(signo) : "request");
  // Drivers detach in the stack context; their blockops are served here until it is done.
  runtime.spawn([&] {
    server.stop();  // no new requests (a mount) while the drivers go; in the stack context it does not wait
    backend.set_socket_service(nullptr);
    socket_service.stop();  // applications see end of file on their sockets: ENETDOWN
    tx_stall_watch.stop();
    drivers.unload_all();
    if (stack) stack->shutdown();
    runtime.request_stop();
  }, "shutdown");
  runtime.run_main();
  runtime.stop();
  backend.set_stack(nullptr);
  stack.reset();
  std::string leaks;
  if (!buf::Pool::instance().check_no_leaks(&leaks))
    PKTD_LOG_WARN("buffers still in use at exit: %s", leaks.c_str());
  PKTD_LOG_INFO("instance %s stopped", opts.instance.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  long cpus = sysconf(_SC_NPROCESSORS_ONLN);
  ParseResult parsed = parse_options(argc, argv, cpus > 0 ? static_cast<unsigned>(cpus) : 1);
  if (!parsed.options) {
    std::fprintf(stderr, "%s\nTry 'pktd -h' for the options.\n", parsed.error.c_str());
    return kExitUsage;
  }
  const Options& opts = *parsed.options;
  if (opts.help) {
    std::fputs(usage().c_str(), stdout);
    return 0;
  }
  log::set_level(opts.verbosity >= 1 ? log::Level::debug : log::Level::info);
  if (!configure_buffers(opts.stack)) {
    std::fprintf(stderr, "pktd: -p tcpip: buffer options rejected\n");
    return kExitUsage;
  }
  // Taken before detaching, so that a refusal reaches the user's terminal; the lock is shared
  // with the child across fork, which then writes its own pid.
  InstanceLock lock;
  std::string error;
  if (!lock.acquire(opts.instance, &error)) {
    std::fprintf(stderr, "%s\n", error.c_str());
    return 1;
  }
  int ready_fd = -1;
  if (!opts.foreground) {
    int r = detach(&ready_fd);
    if (r == -1) {
      std::fprintf(stderr, "pktd: cannot detach: %s\n", std::strerror(errno));
      return 1;
    }
    if (r >= 0) {
      lock.release_without_unlink();  // the parent: the child owns the files now
      return r;
    }
    log::use_syslog("pktd");
    if (!lock.write_pid(&error)) {
      PKTD_LOG_ERR("%s", error.c_str());
      return 1;
    }
  }
  register_current_thread(ThreadKind::main, "pktd-main");
  raise_descriptor_limit();
  return serve(opts, ready_fd);
}

}  // namespace pktd::daemon

int main(int argc, char** argv) { return pktd::daemon::main(argc, argv); }
