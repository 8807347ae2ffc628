// pkt mount [-o opt,...] NAME|PATH, pkt umount IF|/dev/io-net/IF
#include "ctl/protocol.h"
#include "tools/pkt/commands.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

constexpr std::string_view kIoNet = "/dev/io-net/";

std::string show_mounted(const json& result) {
  return format_mounted(result.at("interfaces").get<std::vector<std::string>>());
}

// -o OPTS or -oOPTS, possibly repeated (joined with commas, as mount(8) does).
bool take_options(const Args& args, size_t* i, std::string* options, std::string* error) {
  const std::string& word = args[*i];
  std::string value = word.substr(2);
  if (value.empty()) {
    if (*i + 1 >= args.size()) {
      *error = "mount: -o needs options (opt=val,...)";
      return false;
    }
    value = args[++*i];
  }
  *options += (options->empty() ? "" : ",") + value;
  return true;
}

}  // namespace

std::string interface_of(const std::string& word) {
  return word.starts_with(kIoNet) ? word.substr(kIoNet.size()) : word;
}

std::string format_mounted(const std::vector<std::string>& interfaces) {
  std::string out;
  for (const auto& name : interfaces) out += name + "\n";
  return out;
}

std::optional<Plan> plan_mount(const Args& args, std::string* error) {
  std::string options, target;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i].starts_with("-o")) {
      if (!take_options(args, &i, &options, error)) return std::nullopt;
    } else if (args[i].starts_with("-") || !target.empty()) {
      *error = "mount: unexpected " + args[i];
      return std::nullopt;
    } else {
      target = args[i];
    }
  }
  if (target.empty()) {
    *error = "mount: which driver? (a name like tap, or a path to devnp-NAME.so)";
    return std::nullopt;
  }
  return one_call("mount", {{"path", target}, {"options", options}}, show_mounted);
}

std::optional<Plan> plan_umount(const Args& args, std::string* error) {
  if (args.size() != 1 || args[0].starts_with("-") || interface_of(args[0]).empty()) {
    *error = "umount: expected one interface (IF or /dev/io-net/IF)";
    return std::nullopt;
  }
  return one_call("destroy", {{"name", interface_of(args[0])}}, nothing);
}

}  // namespace pktd::pkt
