#include "tools/pkt/cli.h"

#include <cstdlib>
#include <cstring>

#include "ctl/paths.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/run.h"
#include "tools/pkt/session.h"

namespace pktd::pkt {

namespace {

struct Subcommand {
  const char* name;
  Planner plan;     // a fixed series of requests, or
  Launcher launch;  // a loop of its own
};

constexpr Subcommand kSubcommands[] = {
    {"ifconfig", plan_ifconfig, nullptr}, {"nicinfo", plan_nicinfo, nullptr},
    {"mount", plan_mount, nullptr},       {"umount", plan_umount, nullptr},
    {"threads", plan_threads, nullptr},   {"route", plan_route, nullptr},
    {"netstat", plan_netstat, nullptr},   {"arp", plan_arp, nullptr},
    {"ping", nullptr, launch_ping},       {"capture", nullptr, launch_capture},
    {"udp", plan_udp, nullptr},
};

bool usage_error(std::string* error, std::string text) {
  *error = std::move(text);
  return false;
}

// Options before the subcommand: -i INSTANCE (or -iINSTANCE), --json, -h/--help.
bool take_global(const std::vector<std::string>& argv, size_t* i, Invocation* inv,
                 std::string* error) {
  const std::string& word = argv[*i];
  if (word == "--json") {
    inv->json = true;
  } else if (word == "-h" || word == "--help") {
    inv->help = true;
  } else if (word.starts_with("-i")) {
    std::string value = word.substr(2);
    if (value.empty() && *i + 1 < argv.size()) value = argv[++*i];
    if (!valid_instance(value))
      return usage_error(error,
                         "-i: expected an instance name (A-Z a-z 0-9 _ -), got '" + value + "'");
    inv->instance = value;
  } else {
    return usage_error(error, "unknown option " + word);
  }
  return true;
}

// The subcommand's words; --json may come anywhere before "--" (but not as -o's value).
void take_subcommand_args(const std::vector<std::string>& argv, size_t i, Invocation* inv) {
  bool literal = false;
  for (; i < argv.size(); ++i) {
    const std::string& word = argv[i];
    if (!literal && word == "--") {
      literal = true;
    } else if (!literal && word == "--json") {
      inv->json = true;
    } else {
      inv->args.push_back(word);
      if (!literal && word == "-o" && i + 1 < argv.size()) inv->args.push_back(argv[++i]);
    }
  }
}

const Subcommand* find_subcommand(const std::string& name) {
  for (const Subcommand& s : kSubcommands)
    if (name == s.name) return &s;
  return nullptr;
}

// The usage lines of one subcommand (all of them for an unknown one).
std::string usage_of(const std::string& command) {
  std::string all = usage(), out;
  size_t start = 0;
  for (size_t end; (end = all.find('\n', start)) != std::string::npos; start = end + 1) {
    std::string line = all.substr(start, end - start + 1);
    if (start == 0 || line.starts_with("  " + command + " ")) out += line;
  }
  return out.find('\n') == out.size() - 1 ? all : out;
}

int fail_usage(std::ostream& err, const std::string& what) {
  err << "pkt: " << what << "\n" << usage();
  return kExitUsage;
}

// A subcommand's own usage error ("ping: 1.2.3: not a numeric IPv4 address").
int fail_subcommand_usage(std::ostream& err, const std::string& command, const std::string& what) {
  err << "pkt " << what << "\n" << usage_of(command);
  return kExitUsage;
}

// The subcommand's program, or nullopt with *error on bad usage.
std::optional<Program> program_of(const Subcommand& sub, const Args& args, std::string* error) {
  if (sub.launch != nullptr) return sub.launch(args, error);
  auto plan = sub.plan(args, error);
  if (!plan) return std::nullopt;
  return Program([plan = std::move(*plan)](Session& s) { return run_plan(plan, s); });
}

int ask_pktd(const Program& program, const Invocation& inv, const Environment& env,
             std::ostream& out, std::ostream& err) {
  SocketPktd pktd;
  std::string why;
  if (!pktd.connect(resolve_target(inv.instance, env), &why)) {
    err << "pkt: " << why << "\n";
    return kExitError;
  }
  Session session{pktd, inv.json, out, err};
  return program(session);
}

}  // namespace

// The daemon's rule (daemon/options.cc): the instance names a file, so no '/' and no '.'.
bool valid_instance(const std::string& name) {
  return !name.empty() && name.size() <= 32 &&
         name.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
             std::string::npos;
}

Environment environment_from_process() {
  auto get = [](const char* name) {
    const char* v = std::getenv(name);
    return std::string(v != nullptr ? v : "");
  };
  return {get("PKTD_SOCK"), get("PKTD_INSTANCE")};
}

std::optional<Invocation> parse_invocation(const std::vector<std::string>& argv,
                                           std::string* error) {
  Invocation inv;
  size_t i = 0;
  for (; i < argv.size() && argv[i].starts_with("-"); ++i)
    if (!take_global(argv, &i, &inv, error)) return std::nullopt;
  if (i < argv.size()) inv.command = argv[i++];
  if (inv.command == "help") inv.help = true;
  if (inv.command == "run") {
    // The program's words are not pkt's: no --json, no "--" taken out.
    inv.args.assign(argv.begin() + static_cast<std::ptrdiff_t>(i), argv.end());
  } else {
    take_subcommand_args(argv, i, &inv);
  }
  if (inv.command.empty() && !inv.help) {
    *error = "which subcommand?";
    return std::nullopt;
  }
  return inv;
}

Target resolve_target(const std::optional<std::string>& instance, const Environment& env) {
  if (!instance && !env.sock.empty()) return {env.sock, "pktd at " + env.sock};
  std::string name = instance.value_or(env.instance.empty() ? "0" : env.instance);
  std::string path = ctl::socket_path(name);
  return {path, "pktd instance " + name + " at " + path};
}

std::string usage() {
  return "usage: pkt [-i INSTANCE] [--json] SUBCOMMAND [ARGS]\n"
         "  ifconfig [-a]                  every interface\n"
         "  ifconfig IF                    one interface\n"
         "  ifconfig IF up|down            bring it up or down\n"
         "  ifconfig IF mtu N              set its MTU\n"
         "  ifconfig IF destroy            destroy it (the driver unloads with its last one)\n"
         "  ifconfig IF create             load driver IF's letters with unit=IF's number\n"
         "  ifconfig IF [inet] A.B.C.D/LEN [alias|-alias] [up|down]\n"
         "  ifconfig IF [inet] A.B.C.D netmask M [alias] [up|down]\n"
         "  ifconfig IF [inet] A.B.C.D -alias   delete the address\n"
         "  nicinfo [IF]                   driver, link and counters\n"
         "  nicinfo IF REQUEST...          a request for IF's driver (e.g. sam0 link down)\n"
         "  mount [-o opt=val,...] DRIVER  load a driver (a name like tap, or a path)\n"
         "  umount IF|/dev/io-net/IF       the same as ifconfig IF destroy\n"
         "  threads                        pktd's threads; * marks the stack context's holder\n"
         "  route add [-net|-host] DEST GATEWAY|-interface IF   DEST: default, A.B.C.D[/LEN]\n"
         "  route delete DEST              remove a route\n"
         "  route get ADDR                 the route to ADDR\n"
         "  route show                     the routing table (netstat -rn)\n"
         "  netstat -rn|-s|-m|-an          routes, protocol counters, buffers, sockets\n"
         "  arp -a | arp ADDR              the ARP cache, or one entry\n"
         "  arp -d ADDR | arp -s ADDR MAC  delete an entry, add a permanent one\n"
         "  ping [-c COUNT] [-s SIZE] [-i INTERVAL] [-W TIMEOUT] [-t TTL] HOST\n"
         "  capture IF [-w FILE|-] [-c COUNT] [-s SNAPLEN] [-T SECONDS]   pcap with -w\n"
         "  udp send [-p LOCALPORT] HOST PORT TEXT   test hook: send one datagram\n"
         "  udp recv [-c COUNT] [-W TIMEOUT] PORT    test hook: wait for datagrams\n"
         "  run [-i INSTANCE] [--] PROGRAM [ARGS...]  PROGRAM with its Internet sockets in pktd\n"
         "Addresses are numeric. The instance: -i, else PKTD_SOCK (a socket path), else\n"
         "PKTD_INSTANCE, else 0. --json prints pktd's result as JSON.\n"
         "Exit status: 0 ok, 1 error, 2 bad usage.\n";
}

int run(const std::vector<std::string>& argv, const Environment& env, std::ostream& out,
        std::ostream& err) {
  std::string error;
  auto inv = parse_invocation(argv, &error);
  if (!inv) return fail_usage(err, error);
  if (inv->help) {
    out << usage();
    return kExitOk;
  }
  if (inv->command == "run") return run_program(*inv, env, err);  // no request: it execs
  const Subcommand* sub = find_subcommand(inv->command);
  if (sub == nullptr) return fail_usage(err, "unknown subcommand '" + inv->command + "'");
  auto program = program_of(*sub, inv->args, &error);
  if (!program) return fail_subcommand_usage(err, inv->command, error);
  return ask_pktd(*program, *inv, env, out, err);
}

}  // namespace pktd::pkt
