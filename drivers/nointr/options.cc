#include "options.h"

#include "option_parse.h"

#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace pktd_nointr {
namespace {

// sun_path holds the path and its terminating NUL.
constexpr size_t kMaxPath = sizeof(sockaddr_un::sun_path) - 1;

bool parse_socket_path(const pktd_host& host, const char* key, const char* value,
                       std::string& out) {
  if (!out.empty()) {
    host.log(PKTD_LOG_ERROR, "nointr: %s= given twice", key);
    return false;
  }
  size_t len = std::strlen(value);
  if (len == 0 || value[0] != '/' || len > kMaxPath) {
    host.log(PKTD_LOG_ERROR, "nointr: %s=%s: expected an absolute path of at most %zu bytes",
             key, value, kMaxPath);
    return false;
  }
  out = value;
  return true;
}

bool parse_one(const pktd_host& host, const char* key, const char* value, Options& out) {
  if (std::strcmp(key, "path") == 0) return parse_socket_path(host, key, value, out.path);
  if (std::strcmp(key, "peer") == 0) return parse_socket_path(host, key, value, out.peer);
  if (std::strcmp(key, "rxqueue") == 0)
    return pktd_kit::parse_u32(host, "nointr", key, value, 1, kMaxRxQueue, out.rxqueue);
  host.log(PKTD_LOG_ERROR, "nointr: unknown option '%s' (expected path=, peer=, rxqueue=)", key);
  return false;
}

bool complete(const pktd_host& host, const Options& opt) {
  if (opt.path.empty() || opt.peer.empty()) {
    host.log(PKTD_LOG_ERROR, "nointr: %s", opt.path.empty()
                                               ? "path=SOCKET is required (the socket to bind)"
                                               : "peer=SOCKET is required (where frames go)");
    return false;
  }
  // Our own frames would come straight back to us: not a link.
  if (opt.path == opt.peer) {
    host.log(PKTD_LOG_ERROR, "nointr: path= and peer= are both %s: a link needs two ends",
             opt.path.c_str());
    return false;
  }
  return true;
}

}  // namespace

int parse_options(const pktd_host& host, const char* text, Options& out) {
  if (int err = pktd_kit::for_each_option(
          text, [&](const char* key, const char* value) { return parse_one(host, key, value, out); });
      err != 0)
    return err;
  return complete(host, out) ? 0 : EINVAL;
}

}  // namespace pktd_nointr
