#include "tools/pkt/cli.h"

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>

#include "ctl/client.h"
#include "ctl/paths.h"
#include "tools/pkt/commands.h"

namespace pktd::pkt {

namespace {

// Long enough for a driver's attach; a pktd that takes longer is stuck, and saying so beats
// hanging the user's shell.
constexpr std::chrono::seconds kReplyTimeout{60};

struct Subcommand {
  const char* name;
  Planner plan;
};

constexpr Subcommand kSubcommands[] = {
    {"ifconfig", plan_ifconfig}, {"nicinfo", plan_nicinfo}, {"mount", plan_mount},
    {"umount", plan_umount},     {"threads", plan_threads},
};

// The daemon's rule (daemon/options.cc): the instance names a file, so no '/' and no '.'.
bool valid_instance(const std::string& name) {
  return !name.empty() && name.size() <= 32 &&
         name.find_first_not_of(
             "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-") ==
             std::string::npos;
}

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

int fail_usage(std::ostream& err, const std::string& what) {
  err << "pkt: " << what << "\n" << usage();
  return kExitUsage;
}

// Prints the result: JSON as pktd sent it, or the subcommand's text.
int print(const Plan& plan, const nlohmann::json& result, bool json, std::ostream& out,
          std::ostream& err) {
  std::string text;
  try {
    text = json ? result.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n"
                : plan.text(result);
  } catch (const nlohmann::json::exception& e) {
    err << "pkt: unexpected reply from pktd: " << e.what() << "\n";
    return kExitError;
  }
  out << text;
  if (!text.empty() && text.back() != '\n') out << "\n";
  return kExitOk;
}

int ask_pktd(const Plan& plan, const Invocation& inv, const Environment& env, std::ostream& out,
             std::ostream& err) {
  Target target = resolve_target(inv.instance, env);
  ctl::Client client;
  std::string why;
  if (int e = client.connect(target.path, &why)) {
    err << "pkt: cannot reach " << target.description << ": " << why
        << (e == ENOENT || e == ECONNREFUSED ? " (is pktd running?)" : "") << "\n";
    return kExitError;
  }
  client.set_timeout(kReplyTimeout);
  ctl::Reply reply;
  if (!client.call(plan.op, plan.args, &reply, &why)) {
    err << "pkt: " << target.description << ": " << why << "\n";
    return kExitError;
  }
  if (reply.error) {
    err << "pkt: " << reply.error.message << "\n";
    return kExitError;
  }
  return print(plan, reply.result, inv.json, out, err);
}

}  // namespace

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
  take_subcommand_args(argv, i, &inv);
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
         "  nicinfo [IF]                   driver, link and counters\n"
         "  mount [-o opt=val,...] DRIVER  load a driver (a name like tap, or a path)\n"
         "  umount IF|/dev/io-net/IF       the same as ifconfig IF destroy\n"
         "  threads                        pktd's threads; * marks the stack context's holder\n"
         "The instance: -i, else PKTD_SOCK (a socket path), else PKTD_INSTANCE, else 0.\n"
         "--json prints pktd's result as JSON. Exit status: 0 ok, 1 error, 2 bad usage.\n";
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
  const Subcommand* sub = find_subcommand(inv->command);
  if (sub == nullptr) return fail_usage(err, "unknown subcommand '" + inv->command + "'");
  auto plan = sub->plan(inv->args, &error);
  if (!plan) return fail_usage(err, error);
  return ask_pktd(*plan, *inv, env, out, err);
}

}  // namespace pktd::pkt
