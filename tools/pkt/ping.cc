#include "tools/pkt/ping.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <numeric>

#include "ctl/inet_text.h"
#include "ctl/protocol.h"
#include "tools/pkt/text.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

constexpr double kMinIntervalS = 0.01, kMinUserIntervalS = 0.2;

bool usage(std::string* error, std::string text) {
  *error = "ping: " + std::move(text);
  return false;
}

// A number option's value in [min, max].
bool take_number(const std::string& option, const std::string& value, uint32_t min, uint32_t max,
                 uint32_t* out, std::string* error) {
  auto n = parse_u32(value);
  if (!n || *n < min || *n > max)
    return usage(error, option + " " + value + ": expected " + std::to_string(min) + " to " +
                            std::to_string(max));
  *out = *n;
  return true;
}

bool take_interval(const std::string& value, bool root, PingOptions* o, std::string* error) {
  auto s = parse_seconds(value);
  double min = root ? kMinIntervalS : kMinUserIntervalS;
  if (!s || *s < min || *s > 3600)
    return usage(error, "-i " + value + ": expected seconds, at least " + format_seconds(min) +
                            (root ? "" : " (0.01 for root)"));
  o->interval = std::chrono::microseconds(std::llround(*s * 1e6));
  return true;
}

bool take_timeout(const std::string& value, PingOptions* o, std::string* error) {
  auto s = parse_seconds(value);
  if (!s || *s < 0.001 || *s * 1000 > ctl::kMaxTimeoutMs)
    return usage(error, "-W " + value + ": expected seconds, 0.001 to 60");
  o->timeout_ms = static_cast<uint32_t>(std::lround(*s * 1000));
  return true;
}

bool take_option(char option, const std::string& value, bool root, PingOptions* o,
                 std::string* error) {
  uint32_t n = 0;
  switch (option) {
    case 'c':
      if (!take_number("-c", value, 1, UINT32_MAX, &n, error)) return false;
      o->count = n;
      return true;
    case 's':
      if (!take_number("-s", value, 0, ctl::kMaxPingSize, &n, error)) return false;
      o->size = n;
      return true;
    case 't':
      if (!take_number("-t", value, 1, 255, &n, error)) return false;
      o->ttl = static_cast<uint8_t>(n);
      return true;
    case 'i':
      return take_interval(value, root, o, error);
    case 'W':
      return take_timeout(value, o, error);
  }
  return usage(error, std::string("unknown option -") + option);
}

// What one echo's reply says, printed as ping(8) does.
void print_result(const PingOptions& o, uint16_t sequence, const ctl::PingResult& r,
                  std::ostream& out) {
  std::string from = r.from.empty() ? o.host : r.from;
  char line[256];
  if (r.replied)
    std::snprintf(line, sizeof line, "%u bytes from %s: icmp_seq=%u ttl=%u time=%.3f ms\n",
                  r.bytes != 0 ? r.bytes : o.size + 8, from.c_str(), sequence, r.ttl, r.rtt_ms);
  else if (!r.icmp_error.empty())
    std::snprintf(line, sizeof line, "From %s icmp_seq=%u %s\n", from.c_str(), sequence,
                  r.icmp_error.c_str());
  else
    return;  // no reply in time: ping(8) says nothing until the summary
  out << line << std::flush;
}

// Errors of the network rather than of pktd or the request: said, and the echoes go on (as
// ping(8) does after a failed sendto).
bool transient(int code) {
  return code == ENETUNREACH || code == EHOSTUNREACH || code == EHOSTDOWN || code == ENOBUFS ||
         code == EAGAIN || code == ETIMEDOUT;
}

class Pinger {
 public:
  Pinger(const PingOptions& o, Session& s, const Clock& c) : o_(o), s_(s), clock_(c) {}

  int run() {
    if (!s_.as_json)
      s_.out << "PING " << o_.host << " (" << o_.host << "): " << o_.size << " data bytes\n"
             << std::flush;
    bool ok = true;
    while (ok && !clock_.interrupted() && !all_sent()) {
      Clock::Time sent_at = clock_.now();
      ok = echo();
      if (ok && !all_sent()) clock_.sleep(o_.interval - (clock_.now() - sent_at));
    }
    if (s_.as_json)
      s_.out << summary_json().dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    else if (stats_.transmitted > 0)
      s_.out << format_ping_summary(o_.host, stats_) << std::flush;
    return ok && stats_.received > 0 ? kExitOk : kExitError;
  }

 private:
  bool all_sent() const { return o_.count && stats_.transmitted >= *o_.count; }

  // One request; false when ping must stop (pktd gone, or it refused the request).
  bool echo() {
    ctl::PingRequest request{o_.host, o_.id,  static_cast<uint16_t>(stats_.transmitted & 0xffffu),
                             o_.size, o_.ttl, o_.timeout_ms};
    ctl::Reply reply;
    bool answered = s_.pktd.call("ping", json(request), &reply);
    if (!answered || (reply.error && !transient(reply.error.code))) {
      s_.err << "pkt: " << reply.error.message << "\n";
      return false;
    }
    stats_.transmitted++;
    if (reply.error) {
      if (reply.error.code != ETIMEDOUT) s_.err << "pkt ping: " << reply.error.message << "\n";
      return true;
    }
    return take(request.sequence, reply.result);
  }

  bool take(uint16_t sequence, const json& result) {
    ctl::PingResult r;
    try {
      r = result.get<ctl::PingResult>();
    } catch (const json::exception& e) {
      s_.err << "pkt: unexpected reply from pktd: " << e.what() << "\n";
      return false;
    }
    results_.push_back(result);
    if (r.replied) {
      stats_.received++;
      stats_.rtts_ms.push_back(r.rtt_ms);
    }
    if (!s_.as_json) print_result(o_, sequence, r, s_.out);
    return true;
  }

  json summary_json() const {
    return {{"destination", o_.host},
            {"transmitted", stats_.transmitted},
            {"received", stats_.received},
            {"results", results_}};
  }

  const PingOptions& o_;
  Session& s_;
  const Clock& clock_;
  PingStats stats_;
  std::vector<json> results_;
};

}  // namespace

std::optional<PingOptions> parse_ping(const Args& args, bool root, std::string* error) {
  PingOptions o;
  std::vector<std::string> hosts;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (!word.starts_with("-") || word.size() < 2) {
      hosts.push_back(word);
      continue;
    }
    // -c 5 or -c5
    std::string value = word.size() > 2 ? word.substr(2) : i + 1 < args.size() ? args[++i] : "";
    bool ok = value.empty() ? usage(error, word + " needs a value")
                            : take_option(word[1], value, root, &o, error);
    if (!ok) return std::nullopt;
  }
  bool ok = hosts.size() != 1            ? usage(error, "expected one HOST")
            : !ctl::parse_ipv4(hosts[0]) ? usage(error, hosts[0] + ": not a numeric IPv4 address")
                                         : true;
  if (!ok) return std::nullopt;
  o.host = hosts[0];
  return o;
}

int run_ping(const PingOptions& options, Session& session, const Clock& clock) {
  return Pinger(options, session, clock).run();
}

std::string format_ping_summary(const std::string& host, const PingStats& stats) {
  char line[256];
  std::string out = "\n--- " + host + " ping statistics ---\n";
  double loss =
      stats.transmitted == 0 ? 0 : 100.0 * (stats.transmitted - stats.received) / stats.transmitted;
  std::snprintf(line, sizeof line,
                "%u packets transmitted, %u packets received, %.1f%% packet loss\n",
                stats.transmitted, stats.received, loss);
  out += line;
  const auto& rtts = stats.rtts_ms;
  if (rtts.empty()) return out;
  double n = static_cast<double>(rtts.size());
  double sum = std::accumulate(rtts.begin(), rtts.end(), 0.0);
  double squares = std::inner_product(rtts.begin(), rtts.end(), rtts.begin(), 0.0);
  double avg = sum / n;
  double stddev = std::sqrt(std::max(0.0, squares / n - avg * avg));
  std::snprintf(line, sizeof line, "round-trip min/avg/max/stddev = %.3f/%.3f/%.3f/%.3f ms\n",
                *std::min_element(rtts.begin(), rtts.end()), avg,
                *std::max_element(rtts.begin(), rtts.end()), stddev);
  return out + line;
}

std::optional<Program> launch_ping(const Args& args, std::string* error) {
  auto options = parse_ping(args, geteuid() == 0, error);
  if (!options) return std::nullopt;
  return Program([o = *options](Session& session) mutable {
    StopSignals stop;  // ^C ends the wait and prints the summary, as ping(8)
    o.id = static_cast<uint16_t>(getpid() & 0xffff);
    return run_ping(o, session, system_clock());
  });
}

}  // namespace pktd::pkt
