// pkt threads
#include <algorithm>

#include "ctl/protocol.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/text.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

std::string show(const json& result) {
  return format_threads(result.get<std::vector<ctl::ThreadInfo>>());
}

}  // namespace

std::string format_threads(const std::vector<ctl::ThreadInfo>& threads) {
  size_t tid_w = 3, kind_w = 4, state_w = 5, name_w = 4;
  for (const auto& t : threads) {
    tid_w = std::max(tid_w, std::to_string(t.tid).size());
    kind_w = std::max(kind_w, t.kind.size());
    state_w = std::max(state_w, t.state.size());
    name_w = std::max(name_w, t.name.size());
  }
  auto row = [&](const std::string& tid, const std::string& kind, const std::string& state,
                 const std::string& name, const std::string& stack) {
    std::string line = pad(tid, tid_w) + "  " + pad(kind, kind_w) + "  " + pad(state, state_w) +
                       "  " + pad(name, name_w) + "  " + stack;
    return trim_right(line) + "\n";
  };
  std::string out = row("TID", "KIND", "STATE", "NAME", "STACK");
  for (const auto& t : threads)
    out += row(std::to_string(t.tid), t.kind, t.state, t.name, t.holds_stack ? "*" : "");
  return out;
}

std::optional<Plan> plan_threads(const Args& args, std::string* error) {
  if (!args.empty()) {
    *error = "threads: takes no arguments";
    return std::nullopt;
  }
  return one_call("threads", json::object(), show);
}

}  // namespace pktd::pkt
