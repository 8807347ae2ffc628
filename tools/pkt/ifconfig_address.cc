// pkt ifconfig IF [inet] A.B.C.D/LEN [alias|-alias] [up|down]
//     ifconfig IF [inet] A.B.C.D netmask M.M.M.M|0xffffff00 [alias] [up|down]
//     ifconfig IF [inet] A.B.C.D -alias                       (delete)
// BSD's syntax. Without alias the address replaces the primary one; up or down is applied after
// the address (a second request).
#include <cstdlib>

#include "ctl/inet_text.h"
#include "tools/pkt/commands.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

// What the words after the address say.
struct AddressWords {
  std::optional<uint32_t> prefix_len;  // from /LEN or netmask
  bool alias = false, remove = false;
  std::optional<bool> up;
};

bool usage(std::string* error, std::string text) {
  *error = "ifconfig: " + std::move(text);
  return false;
}

// "255.255.255.0" or "0xffffff00" -> 24; contiguous masks only.
std::optional<uint32_t> parse_netmask(const std::string& word) {
  std::optional<uint32_t> mask = ctl::parse_ipv4(word);
  bool hex = word.size() == 10 && word.starts_with("0x") &&
             word.find_first_not_of("0123456789abcdefABCDEF", 2) == std::string::npos;
  if (hex) mask = static_cast<uint32_t>(std::strtoul(word.c_str() + 2, nullptr, 16));
  return mask ? ctl::prefix_length_of(*mask) : std::nullopt;
}

bool take_word(const Args& args, size_t* i, AddressWords* w, std::string* error) {
  const std::string& word = args[*i];
  if (word == "netmask") {
    if (++*i >= args.size())
      return usage(error, "netmask needs a mask (255.255.255.0 or 0xffffff00)");
    w->prefix_len = parse_netmask(args[*i]);
    if (!w->prefix_len) return usage(error, "netmask " + args[*i] + ": not a contiguous mask");
  } else if (word == "alias" || word == "-alias") {
    if (w->alias || w->remove) return usage(error, "alias or -alias, once");
    (word == "alias" ? w->alias : w->remove) = true;
  } else if (word == "up" || word == "down") {
    if (w->up) return usage(error, "up or down, once");
    w->up = word == "up";
  } else {
    return usage(error, "unexpected " + word + " (netmask M, alias, -alias, up or down)");
  }
  return true;
}

// The address and the words after it.
bool take_address(const Args& args, size_t i, std::string* address, AddressWords* w,
                  std::string* error) {
  if (i >= args.size()) return usage(error, "inet needs an address (A.B.C.D/LEN)");
  const std::string& word = args[i];
  if (auto prefix = ctl::parse_prefix(word)) {
    *address = word.substr(0, word.find('/'));
    w->prefix_len = prefix->length;
  } else if (ctl::parse_ipv4(word)) {
    *address = word;
  } else {
    return usage(error, word + ": not an IPv4 address (A.B.C.D/LEN)");
  }
  for (++i; i < args.size(); ++i)
    if (!take_word(args, &i, w, error)) return false;
  if (!w->remove && !w->prefix_len)
    return usage(error, *address + " needs a prefix length (/LEN) or a netmask");
  return true;
}

}  // namespace

bool is_address_word(const std::string& word) {
  return word == "inet" ||
         (!word.empty() && word[0] >= '0' && word[0] <= '9' && word.find('.') != std::string::npos);
}

std::optional<Plan> plan_ifconfig_address(const Args& args, std::string* error) {
  const std::string& name = args[0];
  std::string address;
  AddressWords w;
  if (!take_address(args, args[1] == "inet" ? 2 : 1, &address, &w, error)) return std::nullopt;
  Plan plan;
  if (w.remove)
    plan.calls.push_back({"delete_address", {{"name", name}, {"address", address}}});
  else
    plan.calls.push_back({"add_address",
                          {{"name", name},
                           {"cidr", address + "/" + std::to_string(*w.prefix_len)},
                           {"alias", w.alias}}});
  if (w.up) plan.calls.push_back({"set_up", {{"name", name}, {"up", *w.up}}});
  plan.text = nothing;
  return plan;
}

}  // namespace pktd::pkt
