#include "tools/pkt/run.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>

#include "ctl/paths.h"
#include "ctl/socket_protocol.h"

#ifndef PKTD_INSTALL_LIBDIR
#define PKTD_INSTALL_LIBDIR "/usr/local/lib"
#endif

namespace pktd::pkt {

namespace {

constexpr char kPreloadName[] = "libpkt-preload.so";

std::string env_or_empty(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr ? v : "";
}

bool exists(const std::string& path) {
  struct stat st;
  return stat(path.c_str(), &st) == 0;
}

// <dir of pkt>/../lib/libpkt-preload.so (the build tree and an install alike),
// else the install libdir; "" if neither exists.
std::string find_preload() {
  std::error_code ec;
  std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    std::filesystem::path beside = self.parent_path().parent_path() / "lib" / kPreloadName;
    if (exists(beside.string())) return beside.string();
  }
  std::string installed = std::string(PKTD_INSTALL_LIBDIR) + "/" + kPreloadName;
  return exists(installed) ? installed : "";
}

// run's own options: -i INSTANCE (or -iINSTANCE), then "--" or the program.
bool take_options(const std::vector<std::string>& args, size_t* i,
                  std::optional<std::string>* instance, std::string* error) {
  for (; *i < args.size() && args[*i].starts_with("-"); ++*i) {
    const std::string& word = args[*i];
    if (word == "--") {
      ++*i;
      return true;
    }
    if (!word.starts_with("-i")) {
      *error = "run: unknown option " + word;
      return false;
    }
    std::string value = word.substr(2);
    if (value.empty() && *i + 1 < args.size()) value = args[++*i];
    if (!valid_instance(value)) {
      *error = "run: -i: expected an instance name (A-Z a-z 0-9 _ -), got '" + value + "'";
      return false;
    }
    *instance = value;
  }
  return true;
}

void warn_if_absent(const RunPlan& plan, std::ostream& err) {
  if (exists(plan.service)) return;
  if (plan.instance.empty()) {
    err << "pkt run: no pktd service at " << plan.service << ": Internet sockets will fail\n";
  } else {
    err << "pkt run: no pktd instance " << plan.instance << " (" << plan.service
        << "): Internet sockets will fail\n";
  }
}

}  // namespace

std::optional<RunPlan> plan_run(const std::vector<std::string>& args,
                                const std::optional<std::string>& instance, const Environment& env,
                                const std::string& svc, std::string* error) {
  size_t i = 0;
  std::optional<std::string> chosen = instance;
  if (!take_options(args, &i, &chosen, error)) return std::nullopt;
  if (i >= args.size()) {
    *error = "run: which program?";
    return std::nullopt;
  }
  RunPlan plan;
  plan.argv.assign(args.begin() + static_cast<std::ptrdiff_t>(i), args.end());
  if (chosen) {
    plan.instance = *chosen;
  } else if (!svc.empty()) {
    plan.service = svc;
  } else if (!env.sock.empty()) {
    std::string base = env.sock;
    if (base.ends_with(".sock")) base.resize(base.size() - 5);
    plan.service = base + ".svc";
  } else {
    plan.instance = env.instance.empty() ? "0" : env.instance;
  }
  if (!plan.instance.empty()) plan.service = ctl::socket_service_path(plan.instance);
  return plan;
}

std::string preload_list(const std::string& preload, const std::string& existing) {
  if (existing.empty()) return preload;
  // LD_PRELOAD separates by ':' or ' '; a nested `pkt run` must not load it
  // twice.
  for (size_t start = 0; start <= existing.size();) {
    size_t end = existing.find_first_of(": ", start);
    if (end == std::string::npos) end = existing.size();
    if (existing.compare(start, end - start, preload) == 0) return existing;
    start = end + 1;
  }
  return preload + ":" + existing;
}

int run_program(const Invocation& inv, const Environment& env, std::ostream& err) {
  std::string error;
  auto plan = plan_run(inv.args, inv.instance, env, env_or_empty("PKTD_SVC"), &error);
  if (!plan) {
    err << "pkt " << error << "\n"
        << "usage: pkt run [-i INSTANCE] [--] PROGRAM [ARGS...]\n";
    return kExitUsage;
  }
  std::string preload = find_preload();
  if (preload.empty()) {
    err << "pkt run: cannot find " << kPreloadName << " (beside pkt's lib/ or in "
        << PKTD_INSTALL_LIBDIR << ")\n";
    return kExitError;
  }
  warn_if_absent(*plan, err);
  err.flush();
  setenv("PKTD_SVC", plan->service.c_str(), 1);
  setenv("LD_PRELOAD", preload_list(preload, env_or_empty("LD_PRELOAD")).c_str(), 1);
  std::vector<char*> argv;
  for (std::string& word : plan->argv) argv.push_back(word.data());
  argv.push_back(nullptr);
  execvp(argv[0], argv.data());
  int e = errno;
  err << "pkt run: " << plan->argv[0] << ": " << std::strerror(e) << "\n";
  return e == ENOENT ? 127 : 126;  // as a shell does
}

}  // namespace pktd::pkt
