#include "daemon/options.h"

#include <algorithm>
#include <array>
#include <cstdint>
#include <limits>
#include <string_view>

#include "transport/tcp/congestion.h"

namespace pktd::daemon {
namespace {

using namespace std::string_literals;

// ---- numbers -----------------------------------------------------------------------------------

// Plain decimal only: no sign, no spaces, no base prefix, nothing trailing. strtoul() would
// accept " -1" (as a huge value) and "12abc" (as 12), which is how typos go unnoticed.
// With allow_k a final k/K multiplies by 1024. Overflow yields nullopt like any other garbage.
std::optional<uint64_t> parse_decimal(std::string_view text, bool allow_k) {
  uint64_t multiplier = 1;
  if (allow_k && !text.empty() && (text.back() == 'k' || text.back() == 'K')) {
    multiplier = 1024;
    text.remove_suffix(1);
  }
  if (text.empty()) return std::nullopt;
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  uint64_t value = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return std::nullopt;
    const auto digit = static_cast<uint64_t>(c - '0');
    if (value > (kMax - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  if (value > kMax / multiplier) return std::nullopt;
  return value * multiplier;
}

// The user's text in quotes. Control characters are escaped so that an error stays one line
// and cannot move the terminal's cursor; other bytes (UTF-8 included) are shown as given.
std::string quoted(std::string_view text) {
  constexpr std::string_view kHex = "0123456789abcdef";
  std::string out = "'";
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (c == '\n') {
      out += "\\n";
    } else if (byte < 0x20 || byte == 0x7f) {
      out += "\\x";
      out += kHex[byte >> 4];
      out += kHex[byte & 0xf];
    } else {
      out += c;
    }
  }
  return out + "'";
}

// Every error is one line that names the option first, so the user sees what to fix.
std::string error_for(std::string_view option, std::string_view what) {
  return "pktd: "s.append(option) + ": " + std::string(what);
}

// ---- -p tcpip options --------------------------------------------------------------------------

enum class Rule { range, power_of_two, zero_or_range };

// One table drives parsing, error messages and usage(), so they cannot disagree; defaults are
// read from StackOptions{} through get() rather than repeated here.
struct StackField {
  std::string_view name;
  std::string_view help;
  uint64_t min;
  uint64_t max;
  Rule rule;
  bool k_suffix;  // sizes and counts that are naturally written as 4k, 64K
  uint64_t (*get)(const StackOptions&);
  void (*set)(StackOptions&, uint64_t);  // value already validated, so the narrowing is safe
};

constexpr std::array kStackFields{
    StackField{"threads_min", "pseudo-threads kept ready", 1, 1024, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.threads_min; },
               [](StackOptions& s, uint64_t v) { s.threads_min = static_cast<unsigned>(v); }},
    StackField{"threads_max", "pseudo-thread limit (>= threads_min)", 1, 4096, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.threads_max; },
               [](StackOptions& s, uint64_t v) { s.threads_max = static_cast<unsigned>(v); }},
    StackField{"mclbytes", "cluster size in bytes", 2048, 65536, Rule::power_of_two, true,
               [](const StackOptions& s) -> uint64_t { return s.mclbytes; },
               [](StackOptions& s, uint64_t v) { s.mclbytes = static_cast<size_t>(v); }},
    StackField{"mbuf_max", "mbufs in use at once", 64, 16777216, Rule::range, true,
               [](const StackOptions& s) -> uint64_t { return s.mbuf_max; },
               [](StackOptions& s, uint64_t v) { s.mbuf_max = static_cast<size_t>(v); }},
    StackField{"cluster_max", "clusters in use at once", 64, 16777216, Rule::range, true,
               [](const StackOptions& s) -> uint64_t { return s.cluster_max; },
               [](StackOptions& s, uint64_t v) { s.cluster_max = static_cast<size_t>(v); }},
    StackField{"stack_watchdog_ms", "stack watchdog period", 10, 600000, Rule::zero_or_range, false,
               [](const StackOptions& s) -> uint64_t { return s.stack_watchdog_ms; },
               [](StackOptions& s, uint64_t v) { s.stack_watchdog_ms = static_cast<unsigned>(v); }},
    StackField{"quiesce_timeout_ms", "stack quiesce timeout", 10, 600000, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.quiesce_timeout_ms; },
               [](StackOptions& s, uint64_t v) {
                 s.quiesce_timeout_ms = static_cast<unsigned>(v);
               }},
    StackField{"tx_stall_ms", "driver transmit stall check", 100, 600000, Rule::zero_or_range,
               false, [](const StackOptions& s) -> uint64_t { return s.tx_stall_ms; },
               [](StackOptions& s, uint64_t v) { s.tx_stall_ms = static_cast<unsigned>(v); }},
    StackField{"sockets_per_user", "application sockets one user may hold", 1, 1048576, Rule::range,
               false, [](const StackOptions& s) -> uint64_t { return s.sockets_per_user; },
               [](StackOptions& s, uint64_t v) { s.sockets_per_user = static_cast<unsigned>(v); }},
    StackField{"pt_stack_kb", "pseudo-thread stack, KiB", 16, 8192, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.pt_stack_kb; },
               [](StackOptions& s, uint64_t v) { s.pt_stack_kb = static_cast<size_t>(v); }},
    StackField{"ifq_maxlen", "interface send queue length, packets", 1, 65536, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.ifq_maxlen; },
               [](StackOptions& s, uint64_t v) { s.ifq_maxlen = static_cast<size_t>(v); }},
    StackField{"admin_gid", "group allowed to change the configuration (0: root only)", 0,
               4294967294u, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.admin_gid; },
               [](StackOptions& s, uint64_t v) { s.admin_gid = static_cast<unsigned>(v); }},
    StackField{"poll_us", "worker busy-poll after work, us", 0, 100000, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.poll_us; },
               [](StackOptions& s, uint64_t v) { s.poll_us = static_cast<unsigned>(v); }},
    StackField{"tx_handoff", "drivers' start on a polling worker (0: in the stack context)", 0, 1,
               Rule::range, false, [](const StackOptions& s) -> uint64_t { return s.tx_handoff; },
               [](StackOptions& s, uint64_t v) { s.tx_handoff = static_cast<unsigned>(v); }},
    StackField{"arp_max_age", "seconds an ARP entry stays valid", 1, 86400, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.arp_max_age; },
               [](StackOptions& s, uint64_t v) { s.arp_max_age = static_cast<unsigned>(v); }},
    StackField{"ipfrag_time", "seconds to reassemble a datagram", 1, 600, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.ipfrag_time; },
               [](StackOptions& s, uint64_t v) { s.ipfrag_time = static_cast<unsigned>(v); }},
    StackField{"ipfrag_max_bytes", "octets held for reassembly", 65536, 1u << 30, Rule::range, false,
               [](const StackOptions& s) -> uint64_t { return s.ipfrag_max_bytes; },
               [](StackOptions& s, uint64_t v) { s.ipfrag_max_bytes = static_cast<size_t>(v); }},
    StackField{"tcp_syncookies", "SYN cookies when a SYN queue overflows (0: drop)", 0, 1, Rule::range,
               false, [](const StackOptions& s) -> uint64_t { return s.tcp_syncookies; },
               [](StackOptions& s, uint64_t v) { s.tcp_syncookies = static_cast<unsigned>(v); }},
};

const StackField* find_stack_field(std::string_view name) {
  for (const StackField& field : kStackFields) {
    if (field.name == name) return &field;
  }
  return nullptr;
}

bool in_rule(const StackField& field, uint64_t value) {
  switch (field.rule) {
    case Rule::range: return value >= field.min && value <= field.max;
    case Rule::power_of_two:
      return value >= field.min && value <= field.max && (value & (value - 1)) == 0;
    case Rule::zero_or_range: return value == 0 || (value >= field.min && value <= field.max);
  }
  return false;
}

// "a number from 1 to 1024" etc.; shared by error messages and usage().
std::string expectation(const StackField& field) {
  const std::string range =
      "from " + std::to_string(field.min) + " to " + std::to_string(field.max);
  std::string text;
  switch (field.rule) {
    case Rule::range: text = "a number " + range; break;
    case Rule::power_of_two: text = "a power of two " + range; break;
    case Rule::zero_or_range: text = "0 (off) or a number " + range; break;
  }
  if (field.k_suffix) text += " (suffix k = x1024)";
  return text;
}

// The same rule, compactly, for usage(): "1-1024", "power of two, 2048-65536", "0 = off or ...".
std::string short_rule(const StackField& field) {
  const std::string range = std::to_string(field.min) + "-" + std::to_string(field.max);
  switch (field.rule) {
    case Rule::range: return range;
    case Rule::power_of_two: return "power of two, " + range;
    case Rule::zero_or_range: return "0 = off or " + range;
  }
  return range;
}

constexpr std::string_view kCongestionOption = "tcp_congestion";

std::string known_stack_fields() {
  std::string names;
  for (const StackField& field : kStackFields) {
    if (!names.empty()) names += ", ";
    names += field.name;
  }
  return names;
}

// ---- the parser --------------------------------------------------------------------------------

constexpr std::string_view kInstanceChars =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

// The instance becomes a file name under /run/pktd, so only a safe alphabet is allowed: no '/',
// no '.', hence no "..", and nothing that needs quoting in a shell.
bool valid_instance(std::string_view name) {
  return !name.empty() && name.size() <= kMaxInstanceLength &&
         name.find_first_not_of(kInstanceChars) == std::string_view::npos;
}

// What a missing argument should have been, for the error message.
std::string_view argument_hint(char flag) {
  switch (flag) {
    case 'i': return "INSTANCE";
    case 't': return "WORKERS (1 to 256)";
    case 'd': return "DRIVER[,opt=val...]";
    case 'D': return "DIR";
    case 'p': return "tcpip[,opt=val...]";
    default: return "a value";
  }
}

class Parser {
 public:
  Parser(int argc, const char* const* argv, unsigned cpu_count)
      : argc_(argc), argv_(argv) {
    // sysconf() may report 0 or more CPUs than we allow; the default must itself be valid.
    options_.workers = std::clamp(cpu_count, 1u, kMaxWorkers);
  }

  ParseResult run() {
    while (next_ < argc_ && !options_.help) {
      if (!parse_word(argv_[next_++])) return {std::nullopt, error_};
    }
    // Checked last because -p may set threads_min and threads_max in either order or in
    // separate -p options. With -h nothing is started, so nothing needs to be consistent.
    if (!options_.help && !check_stack()) return {std::nullopt, error_};
    return {std::move(options_), {}};
  }

 private:
  bool fail(std::string message) {
    error_ = std::move(message);
    return false;
  }

  bool parse_word(std::string_view word) {
    if (word == "--") return reject_rest();
    if (word.starts_with("--")) return parse_long(word);
    if (word.size() > 1 && word[0] == '-') return parse_short_group(word);
    return fail("pktd: unexpected argument " + quoted(word) + " (drivers are given with -d)");
  }

  // "--" ends the options, but pktd has no positional arguments, so anything after it is wrong.
  bool reject_rest() {
    if (next_ >= argc_) return true;
    return fail("pktd: unexpected argument " + quoted(argv_[next_]));
  }

  bool parse_long(std::string_view word) {
    const size_t eq = word.find('=');
    const std::string_view name = word.substr(0, eq);
    const std::optional<std::string_view> inline_value =
        eq == std::string_view::npos ? std::nullopt : std::optional(word.substr(eq + 1));
    if (name == "--help") {
      if (inline_value) return fail(error_for(name, "takes no value"));
      options_.help = true;
      return true;
    }
    if (name == "--driver-path") {
      const std::optional<std::string_view> value =
          inline_value ? inline_value : take_next(name, argument_hint('D'));
      return value && add_driver_path(name, *value);
    }
    return fail("pktd: unknown option " + quoted(name));
  }

  // Like getopt: flags may be grouped ("-vvf"), and a flag that takes a value takes the rest of
  // the word ("-t2") or else the next word ("-t 2").
  bool parse_short_group(std::string_view word) {
    for (size_t i = 1; i < word.size(); ++i) {
      const char flag = word[i];
      switch (flag) {
        case 'v': ++options_.verbosity; continue;
        case 'f': options_.foreground = true; continue;
        case 'h': options_.help = true; return true;  // the rest is ignored, as documented
        case 'i': case 't': case 'd': case 'D': case 'p':
          return parse_short_value(flag, word.substr(i + 1));
        default:
          return fail("pktd: unknown option " + quoted("-"s + flag));
      }
    }
    return true;
  }

  bool parse_short_value(char flag, std::string_view attached) {
    const std::string name = "-"s + flag;
    const std::optional<std::string_view> value =
        attached.empty() ? take_next(name, argument_hint(flag)) : std::optional(attached);
    if (!value) return false;
    switch (flag) {
      case 'i': return set_instance(name, *value);
      case 't': return set_workers(name, *value);
      case 'd': return add_driver(name, *value);
      case 'D': return add_driver_path(name, *value);
      case 'p': return apply_stack(name, *value);
      default: return fail(error_for(name, "internal error: no handler"));
    }
  }

  // The next word as a separate value. A word that looks like an option is refused rather than
  // swallowed: "pktd -d -v" is far more likely a forgotten driver name than a driver called -v.
  // A value that really starts with '-' can still be attached: -d-odd.
  std::optional<std::string_view> take_next(std::string_view name, std::string_view hint) {
    if (next_ >= argc_) {
      fail(error_for(name, "missing argument " + std::string(hint)));
      return std::nullopt;
    }
    const std::string_view word = argv_[next_];
    if (word.size() > 1 && word[0] == '-') {
      fail(error_for(name, "missing argument " + std::string(hint) + " before " + quoted(word)));
      return std::nullopt;
    }
    ++next_;
    return word;
  }

  bool set_instance(std::string_view name, std::string_view value) {
    if (!valid_instance(value)) {
      return fail(error_for(name, "expected an instance name of 1 to " +
                                      std::to_string(kMaxInstanceLength) +
                                      " characters from A-Z a-z 0-9 _ -, got " + quoted(value)));
    }
    options_.instance = value;
    return true;
  }

  bool set_workers(std::string_view name, std::string_view value) {
    const std::optional<uint64_t> n = parse_decimal(value, false);
    if (!n || *n < 1 || *n > kMaxWorkers) {
      return fail(error_for(name, "expected a number from 1 to " + std::to_string(kMaxWorkers) +
                                      ", got " + quoted(value)));
    }
    options_.workers = static_cast<unsigned>(*n);
    return true;
  }

  bool add_driver(std::string_view name, std::string_view value) {
    const size_t comma = value.find(',');
    const std::string_view driver = value.substr(0, comma);
    if (driver.empty()) {
      return fail(error_for(name, "expected DRIVER[,opt=val...], got " + quoted(value)));
    }
    const std::string_view driver_options =
        comma == std::string_view::npos ? std::string_view{} : value.substr(comma + 1);
    options_.drivers.push_back({std::string(driver), std::string(driver_options)});
    return true;
  }

  bool add_driver_path(std::string_view name, std::string_view value) {
    if (value.empty()) return fail(error_for(name, "expected a directory, got ''"));
    options_.driver_paths.emplace_back(value);
    return true;
  }

  // -p tcpip,opt=val,...: applied straight into options_.stack, so a later -p overrides only
  // the options it names.
  bool apply_stack(std::string_view name, std::string_view value) {
    const size_t comma = value.find(',');
    const std::string_view module = value.substr(0, comma);
    if (module != "tcpip") {
      return fail(error_for(name, "unknown module " + quoted(module) +
                                      " (only 'tcpip' is supported)"));
    }
    if (comma == std::string_view::npos) return true;
    std::array<bool, kStackFields.size()> seen{};
    std::string_view rest = value.substr(comma + 1);
    for (;;) {
      const size_t next_comma = rest.find(',');
      if (!apply_stack_item(rest.substr(0, next_comma), seen)) return false;
      if (next_comma == std::string_view::npos) return true;
      rest.remove_prefix(next_comma + 1);
    }
  }

  bool apply_stack_item(std::string_view item, std::array<bool, kStackFields.size()>& seen) {
    constexpr std::string_view kWhere = "-p tcpip";
    const size_t eq = item.find('=');
    const std::string_view key = item.substr(0, eq);
    if (item.empty()) return fail(error_for(kWhere, "empty option (stray comma?)"));
    if (key.empty()) return fail(error_for(kWhere, "missing option name in " + quoted(item)));
    if (key == kCongestionOption) return parse_congestion(item, eq);
    const StackField* field = find_stack_field(key);
    if (field == nullptr) {
      return fail(error_for(kWhere, "unknown option " + quoted(key) +
                                        " (known: " + known_stack_fields() + ", " +
                                        std::string(kCongestionOption) + ")"));
    }
    if (eq == std::string_view::npos) {
      return fail(error_for(kWhere, "option " + quoted(key) + " needs a value: " +
                                        std::string(key) + "=VALUE"));
    }
    const std::string_view text = item.substr(eq + 1);
    const auto index = static_cast<size_t>(field - kStackFields.data());
    if (seen[index]) {
      return fail(error_for(kWhere, "option " + quoted(key) + " given twice (again as " +
                                        quoted(text) + ")"));
    }
    seen[index] = true;
    const std::optional<uint64_t> number = parse_decimal(text, field->k_suffix);
    if (!number || !in_rule(*field, *number)) {
      return fail(error_for(kWhere, std::string(key) + ": expected " + expectation(*field) +
                                        ", got " + quoted(text)));
    }
    field->set(options_.stack, *number);
    return true;
  }

  // tcp_congestion=NAME: the one option that is a name (Linux's net.ipv4.tcp_congestion_control).
  bool parse_congestion(std::string_view item, size_t eq) {
    const std::string_view name = eq == std::string_view::npos ? "" : item.substr(eq + 1);
    for (std::string_view known : tcp::congestion_control_names()) {
      if (known == name) {
        options_.stack.tcp_congestion = std::string(name);
        return true;
      }
    }
    std::string names;
    for (std::string_view known : tcp::congestion_control_names())
      names += (names.empty() ? "" : ", ") + std::string(known);
    return fail(error_for("-p tcpip", std::string(kCongestionOption) + ": expected one of " + names +
                                          ", got " + quoted(name)));
  }

  bool check_stack() {
    const StackOptions& stack = options_.stack;
    if (stack.threads_max >= stack.threads_min) return true;
    return fail("pktd: -p tcpip: threads_max (" + std::to_string(stack.threads_max) +
                ") must be at least threads_min (" + std::to_string(stack.threads_min) + ")");
  }

  int argc_;
  const char* const* argv_;
  int next_ = 1;  // argv[0] is the program name
  Options options_;
  std::string error_;
};

// "  -t WORKERS            text": left column padded so the descriptions line up.
void add_usage_line(std::string& out, std::string_view left, std::string_view text) {
  constexpr size_t kColumn = 28;
  std::string line = "  "s.append(left);
  line.resize(std::max(kColumn, line.size() + 1), ' ');
  out += line;
  out += text;
  out += '\n';
}

}  // namespace

ParseResult parse_options(int argc, const char* const* argv, unsigned cpu_count) {
  return Parser(argc, argv, cpu_count).run();
}

std::string usage() {
  std::string out =
      "usage: pktd [-i INSTANCE] [-t WORKERS] [-d DRIVER[,opt=val...]]... [-D DIR]...\n"
      "            [-p tcpip[,opt=val...]] [-v]... [-f] [-h]\n";
  add_usage_line(out, "-i INSTANCE",
                 "socket /run/pktd/INSTANCE.sock; 1-32 of A-Za-z0-9_- (default: 0)");
  add_usage_line(out, "-t WORKERS", "worker threads, 1-256 (default: number of online CPUs)");
  add_usage_line(out, "-d DRIVER[,opt=val...]",
                 "driver by name or path, with options; repeatable (default: none)");
  add_usage_line(out, "-D, --driver-path DIR",
                 "where to look for drivers; repeatable (default: none)");
  add_usage_line(out, "-p tcpip[,opt=val...]",
                 "stack options below (k = x1024); repeatable, later wins");
  const StackOptions defaults;
  for (const StackField& field : kStackFields) {
    add_usage_line(out, "   "s.append(field.name) + (field.k_suffix ? "=N[k]" : "=N"),
                   std::string(field.help) + ", " + short_rule(field) +
                       " (default: " + std::to_string(field.get(defaults)) + ")");
  }
  add_usage_line(out, "   "s.append(kCongestionOption) + "=NAME",
                 "congestion control of new TCP connections, cubic or newreno (default: cubic)");
  add_usage_line(out, "-v", "more logging; repeat for more (default: info level)");
  add_usage_line(out, "-f", "stay in the foreground (default: detach)");
  add_usage_line(out, "-h, --help", "print this help and exit");
  return out;
}

}  // namespace pktd::daemon
