#include "tools/pkt/session.h"

#include <cerrno>
#include <chrono>

namespace pktd::pkt {

using nlohmann::json;

namespace {

// Longer than the longest wait a request may ask for (60 s: ping, udp_receive) and than a
// driver's attach; a pktd that takes longer is stuck, and saying so beats hanging the shell.
constexpr std::chrono::seconds kReplyTimeout{75};

std::string show(const json& j) {
  return j.dump(2, ' ', false, json::error_handler_t::replace) + "\n";
}

// The text or JSON of a plan's results; throws like the plan's functions.
std::string output(const Plan& plan, std::vector<json> results, bool as_json) {
  if (plan.select) results.back() = plan.select(results.back());
  if (as_json) return show(results.size() == 1 ? results.back() : json(results));
  return plan.text(results.back());
}

}  // namespace

bool SocketPktd::connect(const Target& target, std::string* error) {
  std::string why;
  description_ = target.description;
  if (int e = client_.connect(target.path, &why)) {
    *error = "cannot reach " + target.description + ": " + why +
             (e == ENOENT || e == ECONNREFUSED ? " (is pktd running?)" : "");
    return false;
  }
  client_.set_timeout(kReplyTimeout);
  return true;
}

bool SocketPktd::call(const std::string& op, const json& args, ctl::Reply* reply) {
  std::string why;
  if (client_.call(op, args, reply, &why)) return true;
  reply->error = {EIO, description_ + ": " + why};
  return false;
}

std::optional<json> Session::call(const std::string& op, const json& args) {
  ctl::Reply reply;
  if (!pktd.call(op, args, &reply) || reply.error) {
    err << "pkt: " << reply.error.message << "\n";
    return std::nullopt;
  }
  return std::move(reply.result);
}

int run_plan(const Plan& plan, Session& session) {
  std::vector<json> results;
  for (const Call& c : plan.calls) {
    auto result = session.call(c.op, c.args);
    if (!result) return kExitError;
    results.push_back(std::move(*result));
  }
  std::string text;
  try {
    text = output(plan, std::move(results), session.as_json);
  } catch (const Failure& e) {
    session.err << "pkt " << e.what() << "\n";
    return kExitError;
  } catch (const json::exception& e) {
    session.err << "pkt: unexpected reply from pktd: " << e.what() << "\n";
    return kExitError;
  }
  session.out << text;
  if (!text.empty() && text.back() != '\n') session.out << "\n";
  return kExitOk;
}

Plan one_call(std::string op, json args, Formatter text) {
  Plan plan;
  plan.calls.push_back({std::move(op), std::move(args)});
  plan.text = std::move(text);
  return plan;
}

std::string nothing(const json&) { return {}; }

}  // namespace pktd::pkt
