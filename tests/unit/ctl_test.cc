// The control plane: protocol checks, the server over a real socket and runtime with a fake
// Backend, hostile and concurrent clients, and pkt's parsing and formatting.
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ctl/base64.h"
#include "ctl/client.h"
#include "ctl/inet_text.h"
#include "ctl/paths.h"
#include "ctl/protocol.h"
#include "ctl/requests.h"
#include "ctl/server.h"
#include "runtime/runtime.h"
#include "tests/support/wait.h"
#include "tools/pkt/capture.h"
#include "tools/pkt/cli.h"
#include "tools/pkt/commands.h"
#include "tools/pkt/ping.h"
#include "tools/pkt/session.h"
#include "wire/arp.h"
#include "wire/ethernet.h"
#include "wire/icmpv4.h"
#include "wire/ipv4.h"
#include "wire/udp.h"

using namespace std::chrono_literals;
using nlohmann::json;
using pktd::test::eventually;

namespace pktd::ctl {
namespace {

// --- a fake backend ---

InterfaceInfo make_tap(const std::string& name) {
  InterfaceInfo i;
  i.name = name;
  i.index = 2;
  i.mac = "02:70:00:00:00:02";
  i.mtu = 1500;
  i.flags = 0x8843;  // UP BROADCAST RUNNING SIMPLEX MULTICAST
  i.link = "up";
  i.driver = "tap";
  i.driver_path = "/usr/lib/pktd/devnp-tap.so";
  i.driver_options = "unit=0";
  i.send_queue_max = 256;
  i.counters = {{"ipackets", 10}, {"ibytes", 1000}, {"drop_in_admin_down", 3}};
  return i;
}

InterfaceInfo make_lo() {
  InterfaceInfo i;
  i.name = "lo0";
  i.index = 1;
  i.mtu = 16384;
  i.flags = 0x8049;  // UP LOOPBACK RUNNING MULTICAST
  i.link = "up";
  i.driver = "loopback";
  return i;
}

// Interfaces in a table; "slow0" blocks its caller (a pseudo-thread) until released, "boom"
// throws. Called in the stack context, read by the test thread: hence the mutex.
class FakeBackend : public Backend {
 public:
  explicit FakeBackend(rt::Runtime& rt) : rt_(rt) { ifs_ = {make_lo(), make_tap("tap0")}; }

  std::vector<InterfaceInfo> interfaces() override {
    std::lock_guard lock(mutex_);
    return ifs_;
  }
  Result<InterfaceInfo> interface(const std::string& name) override {
    if (name == "slow0") return slow();
    if (name == "boom") throw std::runtime_error("the fake exploded");
    std::lock_guard lock(mutex_);
    Result<InterfaceInfo> r;
    if (InterfaceInfo* i = find(name))
      r.value = *i;
    else
      r.error = no_such(name);
    return r;
  }
  Error set_up(const std::string& name, bool up) override {
    changes++;
    std::lock_guard lock(mutex_);
    InterfaceInfo* i = find(name);
    if (i == nullptr) return no_such(name);
    i->flags = up ? (i->flags | 0x1u) : (i->flags & ~0x1u);
    return {};
  }
  Error set_mtu(const std::string& name, uint32_t mtu) override {
    changes++;
    std::lock_guard lock(mutex_);
    InterfaceInfo* i = find(name);
    if (i == nullptr) return no_such(name);
    if (mtu < 68 || mtu > 65535)
      return {EINVAL, "mtu " + std::to_string(mtu) + ": expected 68 to 65535"};
    i->mtu = mtu;
    return {};
  }
  Error destroy(const std::string& name) override {
    changes++;
    std::lock_guard lock(mutex_);
    auto it = std::find_if(ifs_.begin(), ifs_.end(), [&](auto& i) { return i.name == name; });
    if (it == ifs_.end()) return no_such(name);
    ifs_.erase(it);
    return {};
  }
  Result<std::vector<std::string>> mount(const std::string& path,
                                         const std::string& options) override {
    changes++;
    std::lock_guard lock(mutex_);
    Result<std::vector<std::string>> r;
    if (path != "tap") {
      r.error = {ENOENT, path + ": no such driver"};
      return r;
    }
    InterfaceInfo i = make_tap("tap" + std::to_string(ifs_.size() + 5));
    i.driver_options = options;
    ifs_.push_back(i);
    r.value = {i.name};
    return r;
  }
  Result<std::string> driver_request(const std::string& name, const std::string& request) override {
    changes++;
    Result<std::string> r;
    r.value = name + " says: " + request;
    return r;
  }
  std::vector<ThreadInfo> threads() override {
    return {{"pktd-main", 100, "main", false, "sleeping"},
            {"pktd-worker0", 101, "worker", true, "running"},
            {"pktd-worker1", 102, "worker", false, "sleeping"}};
  }

  // IPv4: enough for pkt's subcommands to run against the server.
  Error add_address(const std::string& name, const std::string& cidr, bool alias) override {
    changes++;
    std::lock_guard lock(mutex_);
    InterfaceInfo* i = find(name);
    if (i == nullptr) return no_such(name);
    size_t slash = cidr.find('/');
    InterfaceInfo::Inet inet{cidr.substr(0, slash),
                             static_cast<uint32_t>(std::stoul(cidr.substr(slash + 1))), ""};
    if (alias || i->inet.empty())
      i->inet.push_back(inet);
    else
      i->inet[0] = inet;
    return {};
  }
  Result<std::vector<RouteInfo>> routes() override {
    return {{{"default", "198.18.0.254", "UGS", "tap0", 7, 1500},
             {"198.18.0.0/24", "link#2", "UC", "tap0", 3, 1500}},
            {}};
  }
  Result<std::vector<ArpInfo>> arp_entries() override {
    return {{{"198.18.0.2", "02:70:00:00:00:02", "tap0", "reachable", 1190}}, {}};
  }
  Result<PingResult> ping(const PingRequest& r) override {
    Result<PingResult> out;
    if (r.destination == "198.18.0.2") out.value = {true, 0.25, r.size + 8, 64, r.destination, ""};
    return out;
  }
  Result<std::vector<UdpDatagramInfo>> udp_receive(uint16_t port, uint32_t, uint32_t) override {
    changes++;
    return {{{"198.18.0.2:40000", "198.18.0.1:" + std::to_string(port), std::string("hi\0\n", 4)}},
            {}};
  }

  bool has(const std::string& name) {
    std::lock_guard lock(mutex_);
    return find(name) != nullptr;
  }
  uint32_t mtu_of(const std::string& name) {
    std::lock_guard lock(mutex_);
    return find(name)->mtu;
  }
  uint32_t flags_of(const std::string& name) {
    std::lock_guard lock(mutex_);
    return find(name)->flags;
  }
  // Lets every slow0 caller finish (from any thread: the wakeup is posted to the stack).
  void release() {
    rt_.post([this] {
      released_ = true;
      rt_.wakeup(&released_);
    });
  }

  std::atomic<int> changes{0};
  std::atomic<int> slow_entered{0}, slow_finished{0};

 private:
  Result<InterfaceInfo> slow() {
    slow_entered++;
    while (!released_)
      if (rt_.tsleep(&released_, 0) == EINTR) break;  // shutting down
    slow_finished++;
    Result<InterfaceInfo> r;
    r.value = make_tap("slow0");
    return r;
  }
  InterfaceInfo* find(const std::string& name) {
    for (auto& i : ifs_)
      if (i.name == name) return &i;
    return nullptr;
  }
  static Error no_such(const std::string& name) { return {ENXIO, name + ": no such interface"}; }

  rt::Runtime& rt_;
  std::mutex mutex_;
  std::vector<InterfaceInfo> ifs_;
  bool released_ = false;  // stack context only
};

// --- helpers ---

rt::RuntimeConfig two_workers() {
  rt::RuntimeConfig c;
  c.workers = 2;
  return c;
}

// A run directory of the test's own, so that runs in parallel and in a row never meet.
class TempRunDir {
 public:
  TempRunDir() {
    char tmpl[] = "/tmp/pktd-ctl-test-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    path_ = tmpl;
    chmod(path_.c_str(), 0755);  // reachable by the unprivileged child of one test
    setenv("PKTD_RUNDIR", path_.c_str(), 1);
  }
  ~TempRunDir() {
    unsetenv("PKTD_RUNDIR");
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Reply call(Client& c, const std::string& op, json args = json::object()) {
  Reply r;
  std::string error;
  EXPECT_TRUE(c.call(op, args, &r, &error)) << op << ": " << error;
  return r;
}

// Sends text as one message and returns the reply as JSON (null if none came).
json raw_call(Client& c, const std::string& text) {
  std::string error, reply;
  if (!c.send_raw(text, &error) || !c.receive_raw(&reply, &error)) {
    ADD_FAILURE() << error;
    return nullptr;
  }
  return json::parse(reply, nullptr, false);
}

int error_of(const json& reply) {
  if (!reply.is_object()) {
    ADD_FAILURE() << "no reply";
    return 0;
  }
  EXPECT_EQ(reply.value("version", 0), 1) << reply.dump();
  EXPECT_FALSE(reply.value("ok", true)) << reply.dump();
  EXPECT_FALSE(reply.value("error", std::string()).empty()) << reply.dump();
  return reply.value("errno", 0);
}

class CtlServer : public ::testing::Test {
 protected:
  void SetUp() override {
    rt.start();
    // The test process may change the configuration whether or not it runs as root.
    server = std::make_unique<Server>(rt, fake, "t", getegid());
    std::string error;
    ASSERT_EQ(server->start(&error), 0) << error;
  }
  void TearDown() override {
    fake.release();  // whatever a test left blocked
    server->stop();
    rt.stop();
  }

  std::unique_ptr<Client> connect() {
    auto c = std::make_unique<Client>();
    std::string error;
    EXPECT_EQ(c->connect(server->path(), &error), 0) << error;
    c->set_timeout(10s);  // a failing test reports instead of hanging
    return c;
  }

  TempRunDir dir;
  rt::Runtime rt{two_workers()};
  FakeBackend fake{rt};
  std::unique_ptr<Server> server;
};

// --- protocol, without a socket ---

TEST(CtlProtocol, SocketPathFollowsRunDirectory) {
  TempRunDir dir;
  EXPECT_EQ(socket_path("7"), dir.path() + "/7.sock");
  unsetenv("PKTD_RUNDIR");
  EXPECT_EQ(socket_path("0"), "/run/pktd/0.sock");
}

TEST(CtlProtocol, ParsesEveryOpWithItsArguments) {
  auto p = parse_request(R"({"version":1,"op":"set_mtu","args":{"name":"tap0","mtu":9000}})");
  ASSERT_FALSE(p.error) << p.error.message;
  EXPECT_EQ(p.request.op, Op::set_mtu);
  EXPECT_EQ(p.request.name, "tap0");
  EXPECT_EQ(p.request.mtu, 9000u);
  p = parse_request(R"({"version":1,"op":"mount","args":{"path":"tap"}})");
  ASSERT_FALSE(p.error);
  EXPECT_EQ(p.request.path, "tap");
  EXPECT_EQ(p.request.options, "");                         // optional
  p = parse_request(R"({"version":1,"op":"interfaces"})");  // args may be left out
  EXPECT_FALSE(p.error);
  for (const char* op :
       {"interfaces",  "interface",      "set_up",         "set_mtu",       "destroy",
        "mount",       "driver_request", "threads",        "add_address",   "delete_address",
        "routes",      "add_route",      "delete_route",   "get_route",     "arp",
        "arp_delete",  "arp_set",        "protocol_stats", "buffer_stats",  "sockets",
        "ping",        "udp_send",       "udp_receive",    "capture_start", "capture_read",
        "capture_stop"}) {
    auto r = parse_request(encode(make_request(op, json::object())));
    EXPECT_TRUE(r.error.code == 0 || r.error.code == EINVAL) << op;  // known, maybe missing args
  }
}

TEST(CtlProtocol, RefusesBadRequestsWithAReason) {
  struct Case {
    const char* text;
    int code;
  };
  const Case cases[] = {
      {"{not json", EBADMSG},
      {"[1,2]", EBADMSG},
      {"", EBADMSG},
      {R"({"op":"interfaces"})", EPROTONOSUPPORT},
      {R"({"version":2,"op":"interfaces"})", EPROTONOSUPPORT},
      {R"({"version":0,"op":"interfaces"})", EPROTONOSUPPORT},
      {R"({"version":"1","op":"interfaces"})", EPROTONOSUPPORT},
      {R"({"version":1})", EINVAL},
      {R"({"version":1,"op":7})", EINVAL},
      {R"({"version":1,"op":"reboot"})", EOPNOTSUPP},
      {R"({"version":1,"op":"interface","args":[]})", EINVAL},
      {R"({"version":1,"op":"interface","args":{}})", EINVAL},
      {R"({"version":1,"op":"interface","args":{"name":5}})", EINVAL},
      {R"({"version":1,"op":"set_up","args":{"name":"tap0","up":"yes"}})", EINVAL},
      {R"({"version":1,"op":"set_mtu","args":{"name":"tap0","mtu":-1}})", EINVAL},
      {R"({"version":1,"op":"set_mtu","args":{"name":"tap0","mtu":1500.5}})", EINVAL},
      {R"({"version":1,"op":"set_mtu","args":{"name":"tap0","mtu":4294967296}})", EINVAL},
      {R"({"version":1,"op":"mount","args":{"path":"tap","options":3}})", EINVAL},
      {R"({"version":1,"op":"driver_request","args":{"name":"tap0"}})", EINVAL},
  };
  for (const Case& c : cases) {
    auto p = parse_request(c.text);
    EXPECT_EQ(p.error.code, c.code) << c.text << " -> " << p.error.message;
    EXPECT_EQ(p.error.message.find('\n'), std::string::npos) << c.text;
  }
  // Deep nesting within the size limit neither crashes nor passes.
  std::string deep = R"({"version":1,"op":"interfaces","x":)" + std::string(30000, '[') +
                     std::string(30000, ']') + "}";
  EXPECT_FALSE(parse_request(deep).error) << parse_request(deep).error.message;
  EXPECT_EQ(parse_request(std::string(60000, '[')).error.code, EBADMSG);
  EXPECT_NE(parse_request(R"({"version":9,"op":"x"})").error.message.find("version 9"),
            std::string::npos);
  EXPECT_NE(parse_request(R"({"version":1,"op":"reboot"})").error.message.find("reboot"),
            std::string::npos);
}

TEST(CtlProtocol, RepliesAreAlwaysEncodable) {
  // A driver's reply with bytes that are not UTF-8, and an error text with a newline.
  std::string text = encode(make_ok({{"reply", std::string("\xff\xfe bad")}}));
  EXPECT_NE(text.find("bad"), std::string::npos);
  json e = json::parse(encode(make_error({EIO, "two\nlines"})));
  EXPECT_EQ(e["error"], "two lines");
  EXPECT_EQ(json::parse(encode(make_error({0, "no code"})))["errno"], EIO);
}

TEST(CtlProtocol, ParseReply) {
  Reply r;
  std::string why;
  ASSERT_TRUE(parse_reply(R"({"version":1,"ok":true,"result":[1]})", &r, &why)) << why;
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.result, json::array({1}));
  ASSERT_TRUE(parse_reply(R"({"version":1,"ok":false,"errno":6,"error":"gone"})", &r, &why));
  EXPECT_EQ(r.error.code, 6);
  EXPECT_EQ(r.error.message, "gone");
  EXPECT_FALSE(parse_reply(R"({"version":2,"ok":true})", &r, &why));
  EXPECT_FALSE(parse_reply(R"({"version":1,"ok":false})", &r, &why));
  EXPECT_FALSE(parse_reply("garbage", &r, &why));
}

TEST(CtlProtocol, InterfaceInfoRoundTrips) {
  InterfaceInfo tap = make_tap("tap0");
  InterfaceInfo back = json(tap).get<InterfaceInfo>();
  EXPECT_EQ(back.name, tap.name);
  EXPECT_EQ(back.mac, tap.mac);
  EXPECT_EQ(back.flags, tap.flags);
  EXPECT_EQ(back.driver_path, tap.driver_path);
  EXPECT_EQ(back.send_queue_max, tap.send_queue_max);
  EXPECT_EQ(back.counters, tap.counters);
  ThreadInfo t = json(ThreadInfo{"w", 5, "worker", true, "running"}).get<ThreadInfo>();
  EXPECT_EQ(t.tid, 5);
  EXPECT_TRUE(t.holds_stack);
  EXPECT_EQ(t.state, "running");
  EXPECT_THROW(json::object().get<InterfaceInfo>(), json::exception);  // no name
}

TEST(CtlAccess, RootAndTheAdminGroupMayChange) {
  AccessPolicy root_only(std::nullopt);
  EXPECT_TRUE(root_only.privileged(0, 0, {}));
  EXPECT_FALSE(root_only.privileged(1000, 1000, {1000, 27}));
  AccessPolicy group(27);
  EXPECT_TRUE(group.privileged(1000, 27, {}));         // primary group
  EXPECT_TRUE(group.privileged(1000, 1000, {4, 27}));  // supplementary group
  EXPECT_FALSE(group.privileged(1000, 1000, {4}));

  Caller nobody{65534, 65534, 1, false};
  Request read;
  read.op = Op::interfaces;
  EXPECT_FALSE(root_only.authorize(read, nobody));
  for (Op op :
       {Op::set_up, Op::set_mtu, Op::destroy, Op::mount, Op::driver_request, Op::add_address,
        Op::delete_address, Op::add_route, Op::delete_route, Op::arp_delete, Op::arp_set,
        Op::udp_send, Op::udp_receive, Op::capture_start, Op::capture_read, Op::capture_stop}) {
    Request change;
    change.op = op;
    Error e = root_only.authorize(change, nobody);
    EXPECT_EQ(e.code, EPERM) << to_string(op);
    EXPECT_EQ(e.message, "permission denied: only root may change the configuration");
  }
  for (Op op : {Op::routes, Op::get_route, Op::arp, Op::protocol_stats, Op::buffer_stats,
                Op::sockets, Op::ping, Op::threads, Op::interface}) {
    Request reads;
    reads.op = op;
    EXPECT_FALSE(root_only.authorize(reads, nobody)) << to_string(op);
  }
  Request change;
  change.op = Op::set_up;
  EXPECT_NE(group.authorize(change, nobody).message.find("gid 27"), std::string::npos);
  EXPECT_FALSE(group.authorize(change, Caller{0, 0, 1, true}));
}

// --- base64 and address text ---

TEST(CtlBase64, Rfc4648VectorsRoundTrip) {
  const std::pair<const char*, const char*> vectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(base64_encode(plain), encoded);
    EXPECT_EQ(base64_decode(encoded), std::string(plain));
  }
  std::string every_octet;
  for (int i = 0; i < 256; ++i) every_octet += static_cast<char>(i);
  for (size_t n = 0; n <= every_octet.size(); n += 37) {
    std::string part = every_octet.substr(every_octet.size() - n);
    EXPECT_EQ(base64_decode(base64_encode(part)), part) << n;
  }
}

TEST(CtlBase64, RefusesAnythingElse) {
  for (const char* bad : {"Zg=", "Zg", "Z===", "====", "Zh==", "Zm9=", "Zm9v\n", "Zm=v",
                          "Zm9vYg==Zm9v", "Zm9*", "Zm9v Zm9v", "Zg==="})
    EXPECT_FALSE(base64_decode(bad)) << bad;
}

TEST(CtlInetText, AddressesPrefixesMasksAndMacs) {
  EXPECT_EQ(parse_ipv4("198.18.0.1"), 0xc6120001u);
  EXPECT_EQ(format_ipv4(0xc6120001u), "198.18.0.1");
  for (const char* bad : {"", "198.18.0", "198.18.0.256", "198.18.0.1.2", "a.b.c.d", " 1.2.3.4",
                          "1.2.3.4/24", "01.2.3.4"})
    EXPECT_FALSE(parse_ipv4(bad)) << bad;
  auto p = parse_prefix("198.18.0.0/24");
  ASSERT_TRUE(p);
  EXPECT_EQ(p->address, 0xc6120000u);
  EXPECT_EQ(p->length, 24u);
  for (const char* bad :
       {"198.18.0.0", "198.18.0.0/33", "198.18.0.0/", "198.18.0.0/x", "/24", "198.18.0.0/024"})
    EXPECT_FALSE(parse_prefix(bad)) << bad;
  for (const char* good : {"default", "198.18.0.7", "198.18.0.0/24", "0.0.0.0/0"})
    EXPECT_TRUE(is_route_destination(good)) << good;
  EXPECT_FALSE(is_route_destination("Default"));
  EXPECT_EQ(netmask_of(0), 0u);
  EXPECT_EQ(netmask_of(24), 0xffffff00u);
  EXPECT_EQ(netmask_of(32), 0xffffffffu);
  EXPECT_EQ(prefix_length_of(0xffffff00u), 24u);
  EXPECT_EQ(prefix_length_of(0), 0u);
  EXPECT_EQ(prefix_length_of(0xffffffffu), 32u);
  EXPECT_FALSE(prefix_length_of(0xff00ff00u));
  EXPECT_EQ(normalize_mac("2:70:0:0:0:A2"), "02:70:00:00:00:a2");
  for (const char* bad : {"02:70:00:00:00", "02:70:00:00:00:02:03", "02:70:00:00:00:002",
                          "02-70-00-00-00-02", "02:70:00:00:00:", "g2:70:00:00:00:02"})
    EXPECT_FALSE(normalize_mac(bad)) << bad;
}

// --- the IPv4 ops: arguments, results, privilege ---

Request parsed(const std::string& op, json args) {
  auto p = parse_request(encode(make_request(op, std::move(args))));
  EXPECT_FALSE(p.error) << op << ": " << p.error.message;
  return p.request;
}

TEST(CtlProtocol, ParsesTheIpv4OpsArguments) {
  Request r = parsed("add_address", {{"name", "tap0"}, {"cidr", "198.18.0.1/24"}, {"alias", true}});
  EXPECT_EQ(r.op, Op::add_address);
  EXPECT_EQ(r.name, "tap0");
  EXPECT_EQ(r.address.cidr, "198.18.0.1/24");
  EXPECT_TRUE(r.address.alias);
  EXPECT_FALSE(parsed("add_address", {{"name", "tap0"}, {"cidr", "10.0.0.1/8"}}).address.alias);
  r = parsed("add_route", {{"destination", "default"}, {"gateway", "198.18.0.254"}});
  EXPECT_EQ(r.route.destination, "default");
  EXPECT_EQ(r.route.gateway, "198.18.0.254");
  r = parsed("add_route", {{"destination", "10.0.0.0/8"}, {"gateway", ""}, {"interface", "tap0"}});
  EXPECT_EQ(r.route.interface, "tap0");
  EXPECT_EQ(parsed("arp_set", {{"address", "198.18.0.3"}, {"mac", "2:70:0:0:0:3"}}).address.mac,
            "02:70:00:00:00:03");
  r = parsed("ping", {{"destination", "198.18.0.2"}});  // the rest defaults
  EXPECT_EQ(r.ping.destination, "198.18.0.2");
  EXPECT_EQ(r.ping.size, 56u);
  EXPECT_EQ(r.ping.ttl, 64);
  EXPECT_EQ(r.ping.timeout_ms, 1000u);
  r = parsed("ping", json(PingRequest{"198.18.0.2", 77, 65535, 65507, 255, 60000}));
  EXPECT_EQ(r.ping.id, 77);
  EXPECT_EQ(r.ping.sequence, 65535);
  EXPECT_EQ(r.ping.size, 65507u);
  EXPECT_EQ(r.ping.ttl, 255);
  r = parsed("udp_send", {{"destination", "198.18.0.2"}, {"port", 7}, {"data", "aGkA"}});
  EXPECT_EQ(r.udp.data, std::string("hi\0", 3));
  EXPECT_EQ(r.udp.local_port, 0);
  r = parsed("udp_receive", {{"port", 7}, {"count", 10000}, {"timeout_ms", 60000}});
  EXPECT_EQ(r.udp.count, 10000u);
  EXPECT_EQ(parsed("capture_start", {{"name", "tap0"}, {"snaplen", 1}}).capture.snaplen, 1u);
  r = parsed("capture_read",
             {{"session", 18446744073709551615ull}, {"max_frames", 10000}, {"wait_ms", 10000}});
  EXPECT_EQ(r.capture.session, 18446744073709551615ull);
  EXPECT_EQ(r.capture.max_frames, 10000u);
}

TEST(CtlProtocol, RefusesBadIpv4ArgumentsNamingThem) {
  struct Case {
    const char* op;
    json args;
    const char* named;  // the argument the message must name
  };
  const Case cases[] = {
      {"add_address", {{"name", "tap0"}, {"cidr", "198.18.0.1"}}, "'cidr'"},
      {"add_address", {{"name", "tap0"}, {"cidr", "198.18.0.1/24"}, {"alias", 1}}, "'alias'"},
      {"delete_address", {{"name", "tap0"}, {"address", "198.18.0.1/24"}}, "'address'"},
      {"add_route", {{"destination", "10/8"}, {"gateway", "198.18.0.1"}}, "'destination'"},
      {"add_route", {{"destination", "default"}, {"gateway", "gw"}}, "'gateway'"},
      {"add_route", {{"destination", "default"}}, "'gateway' or an 'interface'"},
      {"delete_route", json::object(), "'destination'"},
      {"get_route", {{"address", "default"}}, "'address'"},
      {"arp_set", {{"address", "198.18.0.3"}, {"mac", "02:70"}}, "'mac'"},
      {"ping", {{"destination", "host.example"}}, "'destination'"},
      {"ping", {{"destination", "198.18.0.2"}, {"timeout_ms", 60001}}, "'timeout_ms'"},
      {"ping", {{"destination", "198.18.0.2"}, {"size", 65508}}, "'size'"},
      {"ping", {{"destination", "198.18.0.2"}, {"ttl", 0}}, "'ttl'"},
      {"ping", {{"destination", "198.18.0.2"}, {"id", 65536}}, "'id'"},
      {"udp_send", {{"destination", "198.18.0.2"}, {"port", 0}, {"data", ""}}, "'port'"},
      {"udp_send", {{"destination", "198.18.0.2"}, {"port", 7}, {"data", "!!"}}, "'data'"},
      {"udp_send",
       {{"destination", "198.18.0.2"}, {"port", 7}, {"data", "aGk="}, {"local_port", 70000}},
       "'local_port'"},
      {"udp_receive", {{"port", 7}, {"count", 10001}}, "'count'"},
      {"udp_receive", {{"port", 7}, {"count", 0}}, "'count'"},
      {"udp_receive", {{"port", 7}, {"timeout_ms", -1}}, "'timeout_ms'"},
      {"capture_start", {{"name", "tap0"}, {"snaplen", 0}}, "'snaplen'"},
      {"capture_start", {{"name", "tap0"}, {"snaplen", 262145}}, "'snaplen'"},
      {"capture_read", {{"session", -1}}, "'session'"},
      {"capture_read", {{"session", 1}, {"max_frames", 10001}}, "'max_frames'"},
      {"capture_read", {{"session", 1}, {"wait_ms", 10001}}, "'wait_ms'"},
      {"capture_stop", {{"session", "1"}}, "'session'"},
  };
  for (const Case& c : cases) {
    auto p = parse_request(encode(make_request(c.op, c.args)));
    EXPECT_EQ(p.error.code, EINVAL) << c.op << " " << c.args.dump();
    EXPECT_NE(p.error.message.find(c.named), std::string::npos) << p.error.message;
    EXPECT_EQ(p.error.message.find('\n'), std::string::npos);
  }
  auto big = parse_request(encode(
      make_request("udp_send", {{"destination", "198.18.0.2"},
                                {"port", 7},
                                {"data", base64_encode(std::string(kMaxUdpPayload + 1, 'x'))}})));
  EXPECT_EQ(big.error.code, EINVAL);  // (also beyond kMaxRequest, which the server checks first)
}

TEST(CtlProtocol, Ipv4TypesRoundTrip) {
  InterfaceInfo tap = make_tap("tap0");
  tap.inet = {{"198.18.0.1", 24, "198.18.0.255"}, {"10.0.0.1", 8, ""}};
  InterfaceInfo back = json(tap).get<InterfaceInfo>();
  ASSERT_EQ(back.inet.size(), 2u);
  EXPECT_EQ(back.inet[0].broadcast, "198.18.0.255");
  EXPECT_EQ(back.inet[1].prefix_len, 8u);
  EXPECT_TRUE((json{{"name", "old"}}.get<InterfaceInfo>().inet.empty()));  // an older pktd

  RouteInfo route =
      json(RouteInfo{"default", "198.18.0.254", "UGS", "tap0", 9, 1500}).get<RouteInfo>();
  EXPECT_EQ(route.gateway, "198.18.0.254");
  EXPECT_EQ(route.use, 9u);
  ArpInfo arp = json(ArpInfo{"198.18.0.2", "", "tap0", "incomplete", -1}).get<ArpInfo>();
  EXPECT_EQ(arp.state, "incomplete");
  EXPECT_EQ(arp.expires_in_s, -1);
  PingResult ping = json(PingResult{true, 0.5, 64, 63, "198.18.0.2", ""}).get<PingResult>();
  EXPECT_EQ(ping.ttl, 63);
  EXPECT_DOUBLE_EQ(ping.rtt_ms, 0.5);
  SocketInfo sock = json(SocketInfo{"udp", "0.0.0.0:7", "*:*", "", 12, 0}).get<SocketInfo>();
  EXPECT_EQ(sock.recv_queue, 12u);

  std::string octets("\0\xff\x80 text", 8);
  json d = UdpDatagramInfo{"198.18.0.2:40000", "198.18.0.1:7", octets};
  EXPECT_EQ(d["data"], base64_encode(octets));  // text-safe on the wire
  EXPECT_EQ(d.get<UdpDatagramInfo>().data, octets);
  CaptureRead read;
  read.frames = {{1'700'000'000'123'456'789, true, 1514, octets}};
  read.dropped = 4;
  read.link_type = 101;
  read.closed = true;
  CaptureRead read_back = json::parse(json(read).dump()).get<CaptureRead>();
  ASSERT_EQ(read_back.frames.size(), 1u);
  EXPECT_EQ(read_back.frames[0].data, octets);
  EXPECT_EQ(read_back.frames[0].time_ns, 1'700'000'000'123'456'789);
  EXPECT_EQ(read_back.frames[0].original_length, 1514u);
  EXPECT_TRUE(read_back.frames[0].outgoing);
  EXPECT_EQ(read_back.dropped, 4u);
  EXPECT_EQ(read_back.link_type, 101u);
  EXPECT_TRUE(read_back.closed);
  EXPECT_THROW((json{{"data", "not base64!"}}.get<CapturedFrame>()), json::exception);
  EXPECT_THROW((json{{"from", "x"}, {"data", 5}}.get<UdpDatagramInfo>()), json::exception);
}

// Only what every Backend must have; the IPv4 methods keep their defaults.
class MinimalBackend : public Backend {
 public:
  std::vector<InterfaceInfo> interfaces() override { return {}; }
  Result<InterfaceInfo> interface(const std::string&) override { return {}; }
  Error set_up(const std::string&, bool) override { return {}; }
  Error set_mtu(const std::string&, uint32_t) override { return {}; }
  Error destroy(const std::string&) override { return {}; }
  Result<std::vector<std::string>> mount(const std::string&, const std::string&) override {
    return {};
  }
  Result<std::string> driver_request(const std::string&, const std::string&) override { return {}; }
  std::vector<ThreadInfo> threads() override { return {}; }
};

TEST(CtlExecute, Ipv4OpsDefaultToNotSupported) {
  MinimalBackend b;
  const std::pair<const char*, json> requests[] = {
      {"add_address", {{"name", "tap0"}, {"cidr", "198.18.0.1/24"}}},
      {"delete_address", {{"name", "tap0"}, {"address", "198.18.0.1"}}},
      {"routes", json::object()},
      {"add_route", {{"destination", "default"}, {"gateway", "198.18.0.254"}}},
      {"delete_route", {{"destination", "default"}}},
      {"get_route", {{"address", "198.18.0.1"}}},
      {"arp", json::object()},
      {"arp_delete", {{"address", "198.18.0.1"}}},
      {"arp_set", {{"address", "198.18.0.1"}, {"mac", "02:00:00:00:00:01"}}},
      {"protocol_stats", json::object()},
      {"buffer_stats", json::object()},
      {"sockets", json::object()},
      {"ping", {{"destination", "198.18.0.2"}}},
      {"udp_send", {{"destination", "198.18.0.2"}, {"port", 7}, {"data", ""}}},
      {"udp_receive", {{"port", 7}}},
      {"capture_start", {{"name", "tap0"}}},
      {"capture_read", {{"session", 1}}},
      {"capture_stop", {{"session", 1}}},
  };
  for (const auto& [op, args] : requests) {
    json reply = execute(b, parsed(op, args));
    EXPECT_EQ(reply["errno"], ENOSYS) << op;
    EXPECT_EQ(reply["error"], std::string(op) + ": not supported by this pktd");
  }
}

// Records what the IPv4 methods were given and answers with canned values.
class RecordingBackend : public MinimalBackend {
 public:
  std::vector<std::string> calls;

  Error add_address(const std::string& name, const std::string& cidr, bool alias) override {
    calls.push_back("add_address " + name + " " + cidr + (alias ? " alias" : ""));
    return {};
  }
  Error add_route(const std::string& d, const std::string& g, const std::string& i) override {
    calls.push_back("add_route " + d + " gw=" + g + " if=" + i);
    return {};
  }
  Result<RouteInfo> get_route(const std::string& address) override {
    calls.push_back("get_route " + address);
    return {{"198.18.0.0/24", "link#2", "UC", "tap0", 0, 1500}, {}};
  }
  Error arp_set(const std::string& address, const std::string& mac) override {
    calls.push_back("arp_set " + address + " " + mac);
    return {};
  }
  Result<std::map<std::string, std::map<std::string, uint64_t>>> protocol_stats() override {
    return {{{"ip", {{"received", 5}}}}, {}};
  }
  Result<PingResult> ping(const PingRequest& r) override {
    calls.push_back("ping " + r.destination + " id " + std::to_string(r.id) + " seq " +
                    std::to_string(r.sequence));
    return {{false, 0, 0, 0, "198.18.0.254", "Destination Host Unreachable"}, {}};
  }
  Error udp_send(uint16_t local, const std::string& dst, uint16_t port,
                 const std::string& data) override {
    calls.push_back("udp_send " + std::to_string(local) + " " + dst + ":" + std::to_string(port) +
                    " " + std::to_string(data.size()));
    return {};
  }
  Result<std::vector<UdpDatagramInfo>> udp_receive(uint16_t, uint32_t, uint32_t) override {
    return {{{"198.18.0.2:40000", "198.18.0.1:7", std::string("\x01\x02", 2)}}, {}};
  }
  Result<uint64_t> capture_start(const std::string& name, uint32_t snaplen) override {
    calls.push_back("capture_start " + name + " " + std::to_string(snaplen));
    return {42, {}};
  }
  Result<CaptureRead> capture_read(uint64_t session, uint32_t max, uint32_t wait) override {
    calls.push_back("capture_read " + std::to_string(session) + " " + std::to_string(max) + " " +
                    std::to_string(wait));
    CaptureRead r;
    r.frames = {{5, false, 60, std::string("\xff\x00", 2)}};
    return {r, {}};
  }
  Error capture_stop(uint64_t session) override {
    return {ENOENT, "capture session " + std::to_string(session) + ": no such session"};
  }
};

TEST(CtlExecute, Ipv4OpsCallTheBackendAndAnswer) {
  RecordingBackend b;
  json r = execute(
      b, parsed("add_address", {{"name", "tap0"}, {"cidr", "198.18.0.1/24"}, {"alias", true}}));
  EXPECT_EQ(r["result"], (json{{"name", "tap0"}, {"cidr", "198.18.0.1/24"}, {"alias", true}}));
  execute(b, parsed("add_route", {{"destination", "10.0.0.0/8"}, {"interface", "tap0"}}));
  r = execute(b, parsed("get_route", {{"address", "198.18.0.9"}}));
  EXPECT_EQ(r["result"]["destination"], "198.18.0.0/24");
  execute(b, parsed("arp_set", {{"address", "198.18.0.3"}, {"mac", "2:70:0:0:0:3"}}));
  EXPECT_EQ(execute(b, parsed("protocol_stats", json::object()))["result"]["ip"]["received"], 5);
  r = execute(b, parsed("ping", {{"destination", "198.18.0.9"}, {"id", 7}, {"sequence", 3}}));
  EXPECT_EQ(r["result"]["icmp_error"], "Destination Host Unreachable");
  r = execute(
      b, parsed("udp_send",
                {{"destination", "198.18.0.2"}, {"port", 7}, {"data", base64_encode("hello")}}));
  EXPECT_EQ(r["result"]["length"], 5);
  r = execute(b, parsed("udp_receive", {{"port", 7}}));
  EXPECT_EQ(r["result"][0]["data"], base64_encode(std::string("\x01\x02", 2)));
  r = execute(b, parsed("capture_start", {{"name", "tap0"}}));
  EXPECT_EQ(r["result"]["session"], 42);
  r = execute(b, parsed("capture_read", {{"session", 42}}));
  EXPECT_EQ(r["result"]["frames"][0]["data"], base64_encode(std::string("\xff\x00", 2)));
  EXPECT_EQ(r["result"]["link_type"], 1);
  r = execute(b, parsed("capture_stop", {{"session", 42}}));
  EXPECT_EQ(r["errno"], ENOENT);
  EXPECT_EQ(b.calls, (std::vector<std::string>{
                         "add_address tap0 198.18.0.1/24 alias",
                         "add_route 10.0.0.0/8 gw= if=tap0",
                         "get_route 198.18.0.9",
                         "arp_set 198.18.0.3 02:70:00:00:00:03",
                         "ping 198.18.0.9 id 7 seq 3",
                         "udp_send 0 198.18.0.2:7 5",
                         "capture_start tap0 262144",
                         "capture_read 42 256 200",
                     }));
}

// --- the server ---

TEST_F(CtlServer, SocketIsWorldWritableAndInTheRunDirectory) {
  EXPECT_EQ(server->path(), dir.path() + "/t.sock");
  struct stat st {};
  ASSERT_EQ(stat(server->path().c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 0777, 0666u);
}

TEST_F(CtlServer, ListsAndShowsInterfaces) {
  auto c = connect();
  Reply r = call(*c, "interfaces");
  ASSERT_FALSE(r.error) << r.error.message;
  auto list = r.result.get<std::vector<InterfaceInfo>>();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "lo0");
  EXPECT_EQ(list[1].counters.at("ibytes"), 1000u);

  r = call(*c, "interface", {{"name", "tap0"}});
  ASSERT_FALSE(r.error);
  EXPECT_EQ(r.result.get<InterfaceInfo>().mac, "02:70:00:00:00:02");

  r = call(*c, "interface", {{"name", "tap7"}});
  EXPECT_EQ(r.error.code, ENXIO);
  EXPECT_EQ(r.error.message, "tap7: no such interface");
}

TEST_F(CtlServer, ChangesReachTheBackend) {
  auto c = connect();
  EXPECT_FALSE(call(*c, "set_up", {{"name", "tap0"}, {"up", false}}).error);
  EXPECT_EQ(fake.flags_of("tap0") & 0x1u, 0u);
  EXPECT_FALSE(call(*c, "set_up", {{"name", "tap0"}, {"up", true}}).error);
  EXPECT_EQ(fake.flags_of("tap0") & 0x1u, 1u);

  Reply r = call(*c, "set_mtu", {{"name", "tap0"}, {"mtu", 9000}});
  EXPECT_FALSE(r.error);
  EXPECT_EQ(r.result["mtu"], 9000);
  EXPECT_EQ(fake.mtu_of("tap0"), 9000u);
  r = call(*c, "set_mtu", {{"name", "tap0"}, {"mtu", 10}});
  EXPECT_EQ(r.error.code, EINVAL);
  EXPECT_EQ(r.error.message, "mtu 10: expected 68 to 65535");

  r = call(*c, "mount", {{"path", "tap"}, {"options", "unit=5"}});
  ASSERT_FALSE(r.error) << r.error.message;
  ASSERT_EQ(r.result["interfaces"].size(), 1u);
  std::string created = r.result["interfaces"][0];
  EXPECT_TRUE(fake.has(created));
  EXPECT_EQ(call(*c, "mount", {{"path", "nosuch"}}).error.code, ENOENT);

  EXPECT_FALSE(call(*c, "destroy", {{"name", created}}).error);
  EXPECT_FALSE(fake.has(created));
  EXPECT_EQ(call(*c, "destroy", {{"name", created}}).error.code, ENXIO);

  r = call(*c, "driver_request", {{"name", "tap0"}, {"request", "stats"}});
  EXPECT_EQ(r.result["reply"], "tap0 says: stats");
}

TEST_F(CtlServer, ListsThreads) {
  auto c = connect();
  Reply r = call(*c, "threads");
  ASSERT_FALSE(r.error);
  auto threads = r.result.get<std::vector<ThreadInfo>>();
  ASSERT_EQ(threads.size(), 3u);
  EXPECT_TRUE(threads[1].holds_stack);
}

TEST_F(CtlServer, BadRequestsGetErrorsAndTheConnectionStaysUsable) {
  auto c = connect();
  EXPECT_EQ(error_of(raw_call(*c, "{not json")), EBADMSG);
  EXPECT_EQ(error_of(raw_call(*c, R"({"version":2,"op":"interfaces"})")), EPROTONOSUPPORT);
  EXPECT_EQ(error_of(raw_call(*c, R"({"version":1,"op":"format_disk"})")), EOPNOTSUPP);
  EXPECT_EQ(
      error_of(raw_call(*c, R"({"version":1,"op":"set_mtu","args":{"name":"tap0","mtu":"big"}})")),
      EINVAL);
  EXPECT_EQ(error_of(raw_call(*c, std::string("\0\xff\x01", 3))), EBADMSG);
  EXPECT_FALSE(call(*c, "interfaces").error);
  EXPECT_EQ(fake.changes.load(), 0);
}

TEST_F(CtlServer, OversizeRequestIsRefused) {
  auto c = connect();
  EXPECT_EQ(error_of(raw_call(*c, std::string(kMaxRequest + 1, ' '))), EMSGSIZE);
  EXPECT_EQ(error_of(raw_call(*c, std::string(2 * kMaxRequest, 'x'))), EMSGSIZE);
  // Exactly at the limit is fine: a valid request padded with spaces.
  std::string edge = encode(make_request("interfaces", json::object()));
  edge.resize(kMaxRequest, ' ');
  json r = raw_call(*c, edge);
  EXPECT_TRUE(r.value("ok", false)) << r.dump();
}

TEST_F(CtlServer, ThrowingBackendGivesAnError) {
  auto c = connect();
  Reply r = call(*c, "interface", {{"name", "boom"}});
  EXPECT_EQ(r.error.code, EIO);
  EXPECT_NE(r.error.message.find("the fake exploded"), std::string::npos);
  EXPECT_FALSE(call(*c, "interfaces").error);
}

TEST_F(CtlServer, PipelinedRequestsAreAnsweredOneAtATimeInOrder) {
  auto c = connect();
  std::string error;
  // The slow one holds its pseudo-thread; the next must wait for it, not overtake it.
  ASSERT_TRUE(c->send_raw(encode(make_request("interface", {{"name", "slow0"}})), &error));
  ASSERT_TRUE(c->send_raw(encode(make_request("interface", {{"name", "tap0"}})), &error));
  ASSERT_TRUE(eventually([&] { return fake.slow_entered.load() == 1; }));
  fake.release();
  for (const char* expected : {"slow0", "tap0"}) {
    std::string text;
    ASSERT_TRUE(c->receive_raw(&text, &error)) << error;
    EXPECT_EQ(json::parse(text)["result"]["name"], expected);
  }
}

TEST_F(CtlServer, SilentAndSlowClientsBlockNobody) {
  auto silent = connect();  // connects and never sends
  auto slow = connect();
  std::string error;
  ASSERT_TRUE(slow->send_raw(encode(make_request("interface", {{"name", "slow0"}})), &error));
  ASSERT_TRUE(eventually([&] { return fake.slow_entered.load() == 1; }));
  auto other = connect();
  for (int i = 0; i < 5; ++i) EXPECT_FALSE(call(*other, "interfaces").error);
  fake.release();
  std::string text;
  EXPECT_TRUE(slow->receive_raw(&text, &error)) << error;
}

TEST_F(CtlServer, ManyClientsAtOnce) {
  constexpr int kClients = 50, kCalls = 20;
  std::atomic<int> good{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t)
    threads.emplace_back([&, t] {
      Client c;
      std::string error;
      if (c.connect(server->path(), &error) != 0) return;
      c.set_timeout(10s);
      for (int i = 0; i < kCalls; ++i) {
        Reply r;
        const char* name = (i + t) % 2 == 0 ? "tap0" : "lo0";
        if (c.call("interface", {{"name", name}}, &r, &error) && !r.error &&
            r.result["name"] == name)
          good++;
      }
    });
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients * kCalls);
  EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
}

TEST_F(CtlServer, ClientThatLeavesMidRequestIsCleanedUp) {
  auto c = connect();
  std::string error;
  ASSERT_TRUE(c->send_raw(encode(make_request("interface", {{"name", "slow0"}})), &error));
  ASSERT_TRUE(eventually([&] { return fake.slow_entered.load() == 1; }));
  EXPECT_EQ(server->connections(), 1u);
  c.reset();  // gone before its reply
  fake.release();
  EXPECT_TRUE(eventually([&] { return fake.slow_finished.load() == 1; }));
  EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
  auto again = connect();
  EXPECT_FALSE(call(*again, "interfaces").error);
}

TEST_F(CtlServer, ClientThatSendsAndLeavesAtOnce) {
  for (int i = 0; i < 20; ++i) {
    auto c = connect();
    std::string error;
    ASSERT_TRUE(c->send_raw(encode(make_request("threads", json::object())), &error));
  }
  EXPECT_TRUE(eventually([&] { return server->connections() == 0; }));
  auto c = connect();
  EXPECT_FALSE(call(*c, "threads").error);
}

TEST_F(CtlServer, TooManyConnectionsAreTurnedAwayWithAReason) {
  // 257 clients here and two fds per connection in the server.
  rlimit lim{};
  getrlimit(RLIMIT_NOFILE, &lim);
  if (lim.rlim_cur < 2048 && lim.rlim_max >= 2048) {
    lim.rlim_cur = 2048;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  if (lim.rlim_cur < 2048) GTEST_SKIP() << "needs 2048 file descriptors";
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 256; ++i) clients.push_back(connect());
  ASSERT_TRUE(eventually([&] { return server->connections() == 256; }));
  auto extra = connect();
  Reply r;
  std::string error;
  ASSERT_TRUE(extra->call("interfaces", json::object(), &r, &error)) << error;
  EXPECT_EQ(r.error.code, EUSERS);
  clients.clear();
  ASSERT_TRUE(eventually([&] { return server->connections() == 0; }));
  auto c = connect();
  EXPECT_FALSE(call(*c, "interfaces").error);
}

TEST_F(CtlServer, StopClosesClientsAndRemovesTheSocket) {
  auto c = connect();
  EXPECT_FALSE(call(*c, "interfaces").error);
  server->stop();
  EXPECT_NE(access(server->path().c_str(), F_OK), 0);
  std::string text, error;
  EXPECT_FALSE(c->receive_raw(&text, &error));
  EXPECT_EQ(error, "pktd closed the connection");
  server->stop();  // idempotent
}

TEST_F(CtlServer, StopWaitsForRequestsInFlight) {
  auto c = connect();
  std::string error;
  ASSERT_TRUE(c->send_raw(encode(make_request("interface", {{"name", "slow0"}})), &error));
  ASSERT_TRUE(eventually([&] { return fake.slow_entered.load() == 1; }));
  // Released once stop() is under way (it unlinks the socket before it waits).
  std::thread releaser([&] {
    eventually([&] { return access(server->path().c_str(), F_OK) != 0; });
    fake.release();
  });
  server->stop();
  EXPECT_EQ(fake.slow_finished.load(), 1);
  releaser.join();
}

TEST_F(CtlServer, SecondServerOnALiveSocketIsRefused) {
  Server second(rt, fake, "t", std::nullopt);
  std::string error;
  EXPECT_EQ(second.start(&error), EADDRINUSE);
  EXPECT_NE(error.find("another server listens"), std::string::npos) << error;
  auto c = connect();  // the first still serves
  EXPECT_FALSE(call(*c, "interfaces").error);
}

TEST(CtlServerStart, ReplacesAStaleSocketAndRefusesOtherFiles) {
  TempRunDir dir;
  rt::Runtime rt(two_workers());
  rt.start();
  FakeBackend fake(rt);
  {  // a socket left by a pktd that died: bound, nobody listening
    int s = socket(AF_UNIX, SOCK_SEQPACKET, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::string path = socket_path("stale");
    std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
    ASSERT_EQ(bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    close(s);
  }
  Server stale(rt, fake, "stale", std::nullopt);
  std::string error;
  EXPECT_EQ(stale.start(&error), 0) << error;
  std::ofstream(socket_path("file")) << "not a socket";
  Server file(rt, fake, "file", std::nullopt);
  EXPECT_EQ(file.start(&error), EEXIST);
  EXPECT_NE(error.find("not a socket"), std::string::npos) << error;
  stale.stop();
  rt.stop();
}

// An unprivileged caller reads but may not change. As root, a child that became nobody does it
// for real (forked before any thread starts); otherwise this process is itself unprivileged.
// The child answers through a pipe, not its exit status, which a sanitizer may rewrite.
char unprivileged_child(int go_fd, const std::string& path) {
  char go = 0;
  if (read(go_fd, &go, 1) != 1) return 'a';
  if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
      setresuid(65534, 65534, 65534) != 0)
    return 'b';
  Client c;
  std::string error;
  if (c.connect(path, &error) != 0) return 'c';
  c.set_timeout(10s);
  Reply r;
  if (!c.call("interfaces", json::object(), &r, &error) || r.error) return 'd';
  if (!c.call("set_up", {{"name", "tap0"}, {"up", false}}, &r, &error) || r.error.code != EPERM)
    return 'e';
  if (r.error.message.rfind("permission denied: only root", 0) != 0) return 'f';
  if (!c.call("mount", {{"path", "tap"}}, &r, &error) || r.error.code != EPERM) return 'g';
  if (!c.call("threads", json::object(), &r, &error) || r.error) return 'h';
  return 'y';
}

// The child's pipes; closing them unblocks a child still waiting, which is then reaped.
struct ChildPipes {
  int go[2] = {-1, -1}, result[2] = {-1, -1};
  pid_t child = -1;
  ~ChildPipes() {
    for (int fd : {go[0], go[1], result[0], result[1]})
      if (fd >= 0) close(fd);
    if (child > 0) waitpid(child, nullptr, 0);
  }
};

TEST(CtlServerAccess, UnprivilegedCallerMayReadButNotChange) {
  TempRunDir dir;
  std::string path = socket_path("priv");
  ChildPipes p;
  ASSERT_EQ(pipe(p.go), 0);
  ASSERT_EQ(pipe(p.result), 0);
  p.child = geteuid() == 0 ? fork() : -1;
  if (p.child == 0) {
    char answer = unprivileged_child(p.go[0], path);
    _exit(write(p.result[1], &answer, 1) == 1 ? 0 : 1);
  }
  rt::Runtime rt(two_workers());
  rt.start();
  FakeBackend fake(rt);
  Server server(rt, fake, "priv", std::nullopt);  // root only
  std::string error;
  ASSERT_EQ(server.start(&error), 0) << error;
  if (p.child > 0) {
    ASSERT_EQ(write(p.go[1], "g", 1), 1);
    char answer = 0;
    EXPECT_EQ(read(p.result[0], &answer, 1), 1);
    EXPECT_EQ(answer, 'y') << "see unprivileged_child for the step that failed";
  } else {
    Client c;
    ASSERT_EQ(c.connect(path, &error), 0) << error;
    c.set_timeout(10s);
    EXPECT_FALSE(call(c, "interfaces").error);
    EXPECT_EQ(call(c, "set_up", {{"name", "tap0"}, {"up", false}}).error.code, EPERM);
    EXPECT_EQ(call(c, "destroy", {{"name", "tap0"}}).error.code, EPERM);
  }
  EXPECT_EQ(fake.changes.load(), 0);
  server.stop();
  rt.stop();
}

}  // namespace
}  // namespace pktd::ctl

// --- pkt: formatting, arguments, and whole runs against the server ---

namespace pktd::pkt {
namespace {

using ctl::InterfaceInfo;

TEST(PktFormat, FlagsAreHexThenNames) {
  EXPECT_EQ(format_flags(0x8843), "8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST>");
  EXPECT_EQ(format_flags(0x8049), "8049<UP,LOOPBACK,RUNNING,MULTICAST>");
  EXPECT_EQ(format_flags(0x0711), "711<UP,POINTOPOINT,PROMISC,ALLMULTI,OACTIVE>");
  EXPECT_EQ(format_flags(0), "0<>");
  EXPECT_EQ(format_flags(0x10000), "10000<>");  // unknown bits: value only
  EXPECT_EQ(format_capabilities(0xf), "f<RXCSUM,TXCSUM,TSO4,TSO6>");
}

TEST(PktFormat, IfconfigLikeBsd) {
  InterfaceInfo tap = ctl::make_tap("tap0");
  EXPECT_EQ(format_ifconfig(tap),
            "tap0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
            "\taddress: 02:70:00:00:00:02\n"
            "\tmedia: Ethernet autoselect\n"
            "\tstatus: active\n");
  tap.link = "down";
  tap.capabilities = 0x3;
  EXPECT_EQ(format_ifconfig(tap),
            "tap0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
            "\toptions=3<RXCSUM,TXCSUM>\n"
            "\taddress: 02:70:00:00:00:02\n"
            "\tmedia: Ethernet autoselect\n"
            "\tstatus: no carrier\n");
  tap.link = "unknown";
  EXPECT_EQ(format_ifconfig(tap).find("status"), std::string::npos);
  InterfaceInfo lo = ctl::make_lo();
  lo.mac = "02:70:9a:04:00:01";  // pktd gives lo0 one, but BSD shows none
  EXPECT_EQ(format_ifconfig(lo), "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n");
}

TEST(PktFormat, NicinfoShowsEverything) {
  InterfaceInfo tap = ctl::make_tap("tap0");
  tap.send_queue_length = 3;
  tap.counters["future_counter"] = 42;
  std::string text = format_nicinfo(tap);
  for (const char* expected :
       {"tap0: tap driver\n", "  Shared object: /usr/lib/pktd/devnp-tap.so\n",
        "  Options: unit=0\n", "  MAC address: 02:70:00:00:00:02\n", "  MTU: 1500\n",
        "  Link is up\n", "  Send queue: 3 of 256 packets\n", "  Packets received", " 10\n",
        "  Bytes received", " 1000\n", "  Drops by reason:\n    in_admin_down", " 3\n",
        "  future_counter", " 42\n"})
    EXPECT_NE(text.find(expected), std::string::npos) << expected << " in:\n" << text;
  std::string lo = format_nicinfo(ctl::make_lo());
  EXPECT_NE(lo.find("Shared object: none (built in)"), std::string::npos) << lo;
  EXPECT_NE(lo.find("Options: none"), std::string::npos) << lo;
}

TEST(PktFormat, ThreadsTableMarksTheStackHolder) {
  std::vector<ctl::ThreadInfo> threads = {{"pktd-main", 100, "main", false, "sleeping"},
                                          {"pktd-worker0", 101, "worker", true, "running"}};
  EXPECT_EQ(format_threads(threads),
            "TID  KIND    STATE     NAME          STACK\n"
            "100  main    sleeping  pktd-main\n"
            "101  worker  running   pktd-worker0  *\n");
}

// Runs pkt as main() would, with a given environment.
struct PktRun {
  int status;
  std::string out, err;
};
PktRun pkt(std::vector<std::string> args, Environment env = {}) {
  std::ostringstream out, err;
  int status = run(args, env, out, err);
  return {status, out.str(), err.str()};
}

TEST(PktArgs, BadUsageExits2WithUsage) {
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"bogus"},
      {"--bogus", "ifconfig"},
      {"-i"},
      {"-i", "../x", "ifconfig"},
      {"ifconfig", "tap0", "sideways"},
      {"ifconfig", "tap0", "mtu"},
      {"ifconfig", "tap0", "mtu", "big"},
      {"ifconfig", "tap0", "mtu", "99999999999"},
      {"ifconfig", "tap0", "up", "now"},
      {"ifconfig", "-z"},
      {"nicinfo", "-x"},
      {"mount"},
      {"mount", "-o"},
      {"mount", "tap", "sam"},
      {"umount"},
      {"umount", "a", "b"},
      {"threads", "extra"},
  };
  for (const auto& args : bad) {
    PktRun r = pkt(args);
    std::string line;
    for (const auto& a : args) line += a + " ";
    EXPECT_EQ(r.status, kExitUsage) << line;
    EXPECT_NE(r.err.find("usage: pkt"), std::string::npos) << line;
    EXPECT_TRUE(r.out.empty()) << line;
  }
  PktRun help = pkt({"--help"});
  EXPECT_EQ(help.status, kExitOk);
  EXPECT_NE(help.out.find("usage: pkt"), std::string::npos);
}

TEST(PktArgs, JsonAndInstanceAnywhereBeforeTheArguments) {
  std::string error;
  auto inv = parse_invocation({"-i", "3", "--json", "ifconfig", "tap0"}, &error);
  ASSERT_TRUE(inv) << error;
  EXPECT_EQ(inv->instance, "3");
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(inv->command, "ifconfig");
  EXPECT_EQ(inv->args, std::vector<std::string>{"tap0"});
  inv = parse_invocation({"ifconfig", "--json", "tap0", "mtu", "9000"}, &error);
  ASSERT_TRUE(inv);
  EXPECT_TRUE(inv->json);
  EXPECT_EQ(inv->args.size(), 3u);
  inv = parse_invocation({"-i7", "mount", "-o", "--json", "tap"}, &error);  // -o's value stays
  ASSERT_TRUE(inv);
  EXPECT_FALSE(inv->json);
  EXPECT_EQ(inv->instance, "7");
  EXPECT_EQ(inv->args, (std::vector<std::string>{"-o", "--json", "tap"}));
}

TEST(PktArgs, WhichSocket) {
  ctl::TempRunDir dir;
  EXPECT_EQ(resolve_target(std::nullopt, {}).path, dir.path() + "/0.sock");
  EXPECT_EQ(resolve_target(std::nullopt, {"", "5"}).path, dir.path() + "/5.sock");
  EXPECT_EQ(resolve_target(std::nullopt, {"/x/y.sock", "5"}).path, "/x/y.sock");
  EXPECT_EQ(resolve_target(std::string("9"), {"/x/y.sock", "5"}).path, dir.path() + "/9.sock");
  EXPECT_EQ(resolve_target(std::nullopt, {}).description,
            "pktd instance 0 at " + dir.path() + "/0.sock");
}

TEST(PktArgs, PlansMapToOps) {
  std::string error;
  auto p = plan_ifconfig({"tap0", "mtu", "9000"}, &error);
  ASSERT_TRUE(p) << error;
  ASSERT_EQ(p->calls.size(), 1u);
  EXPECT_EQ(p->calls[0].op, "set_mtu");
  EXPECT_EQ(p->calls[0].args, (json{{"name", "tap0"}, {"mtu", 9000}}));
  p = plan_ifconfig({"tap0", "down"}, &error);
  EXPECT_EQ(p->calls[0].args, (json{{"name", "tap0"}, {"up", false}}));
  p = plan_umount({"/dev/io-net/tap3"}, &error);
  EXPECT_EQ(p->calls[0].op, "destroy");
  EXPECT_EQ(p->calls[0].args["name"], "tap3");
  p = plan_mount({"-o", "unit=3", "-omtu=9000", "/opt/devnp-tap.so"}, &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->calls[0].args,
            (json{{"path", "/opt/devnp-tap.so"}, {"options", "unit=3,mtu=9000"}}));
}

TEST(PktRunTest, UnreachablePktdIsOneLineAndExit1) {
  ctl::TempRunDir dir;
  PktRun r = pkt({"ifconfig"}, {"", "42"});
  EXPECT_EQ(r.status, kExitError);
  EXPECT_EQ(r.err, "pkt: cannot reach pktd instance 42 at " + dir.path() +
                       "/42.sock: No such file or directory (is pktd running?)\n");
}

class PktAgainstServer : public ctl::CtlServer {
 protected:
  PktRun run_pkt(std::vector<std::string> args) {
    return pkt(std::move(args), {server->path(), ""});
  }
};

TEST_F(PktAgainstServer, IfconfigNicinfoThreads) {
  PktRun r = run_pkt({"ifconfig"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_EQ(r.out, format_ifconfig(ctl::make_lo()) + format_ifconfig(ctl::make_tap("tap0")));
  r = run_pkt({"nicinfo", "tap0"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_EQ(r.out, format_nicinfo(ctl::make_tap("tap0")));
  r = run_pkt({"threads"});
  EXPECT_NE(r.out.find("pktd-worker0  *"), std::string::npos) << r.out;
}

TEST_F(PktAgainstServer, NicinfoWithWordsIsADriverRequest) {
  PktRun r = run_pkt({"nicinfo", "tap0", "link", "down"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_EQ(r.out, "tap0 says: link down\n");
}

TEST_F(PktAgainstServer, JsonOnEverySubcommand) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--json", "ifconfig"},
                                             {"ifconfig", "--json", "tap0"},
                                             {"--json", "nicinfo"},
                                             {"--json", "threads"},
                                             {"--json", "ifconfig", "tap0", "mtu", "1400"},
                                             {"--json", "mount", "tap"},
                                             {"--json", "umount", "tap0"}}) {
    PktRun r = run_pkt(args);
    EXPECT_EQ(r.status, kExitOk) << args[1] << ": " << r.err;
    EXPECT_FALSE(json::parse(r.out, nullptr, false).is_discarded()) << r.out;
  }
}

TEST_F(PktAgainstServer, ChangesAndErrors) {
  EXPECT_EQ(run_pkt({"ifconfig", "tap0", "down"}).status, kExitOk);
  EXPECT_EQ(fake.flags_of("tap0") & 0x1u, 0u);
  EXPECT_EQ(run_pkt({"ifconfig", "tap0", "mtu", "9000"}).status, kExitOk);
  EXPECT_EQ(fake.mtu_of("tap0"), 9000u);
  PktRun r = run_pkt({"ifconfig", "tap0", "mtu", "20"});
  EXPECT_EQ(r.status, kExitError);
  EXPECT_EQ(r.err, "pkt: mtu 20: expected 68 to 65535\n");
  r = run_pkt({"mount", "-o", "unit=5", "tap"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  std::string created = r.out.substr(0, r.out.find('\n'));
  EXPECT_TRUE(fake.has(created)) << r.out;
  EXPECT_EQ(run_pkt({"umount", "/dev/io-net/" + created}).status, kExitOk);
  EXPECT_FALSE(fake.has(created));
  EXPECT_EQ(run_pkt({"ifconfig", "tap0", "destroy"}).status, kExitOk);
  r = run_pkt({"nicinfo", "tap0"});
  EXPECT_EQ(r.status, kExitError);
  EXPECT_EQ(r.err, "pkt: tap0: no such interface\n");
}

// --- pkt: the IPv4 subcommands ---

// A plan's text for a canned result, as pkt would print it.
std::string shown(Planner planner, const Args& args, const json& result) {
  std::string error;
  auto plan = planner(args, &error);
  EXPECT_TRUE(plan) << error;
  if (!plan) return {};
  return plan->text(plan->select ? plan->select(result) : result);
}

// A plan's calls, as "op args" strings.
std::vector<std::string> calls_of(Planner planner, const Args& args) {
  std::string error;
  auto plan = planner(args, &error);
  EXPECT_TRUE(plan) << error;
  std::vector<std::string> out;
  if (plan)
    for (const Call& c : plan->calls) out.push_back(c.op + " " + c.args.dump());
  return out;
}

std::string usage_error(Planner planner, const Args& args) {
  std::string error;
  auto plan = planner(args, &error);
  EXPECT_FALSE(plan) << (args.empty() ? "" : args[0]);
  EXPECT_EQ(error.find('\n'), std::string::npos) << error;
  return error;
}

TEST(PktFormat, IfconfigShowsAddresses) {
  InterfaceInfo tap = ctl::make_tap("tap0");
  tap.inet = {{"198.18.0.1", 24, "198.18.0.255"}, {"10.1.0.1", 16, ""}};
  EXPECT_EQ(format_ifconfig(tap),
            "tap0: flags=8843<UP,BROADCAST,RUNNING,SIMPLEX,MULTICAST> mtu 1500\n"
            "\taddress: 02:70:00:00:00:02\n"
            "\tmedia: Ethernet autoselect\n"
            "\tstatus: active\n"
            "\tinet 198.18.0.1 netmask 0xffffff00 broadcast 198.18.0.255\n"
            "\tinet 10.1.0.1 netmask 0xffff0000\n");
  InterfaceInfo lo = ctl::make_lo();
  lo.inet = {{"127.0.0.1", 8, ""}};
  EXPECT_EQ(format_ifconfig(lo),
            "lo0: flags=8049<UP,LOOPBACK,RUNNING,MULTICAST> mtu 16384\n"
            "\tinet 127.0.0.1 netmask 0xff000000\n");
}

const json kRoutes = json::array({
    {{"destination", "default"},
     {"gateway", "198.18.0.254"},
     {"flags", "UGS"},
     {"interface", "tap0"},
     {"use", 12},
     {"mtu", 1500}},
    {{"destination", "198.18.0.0/24"},
     {"gateway", "link#2"},
     {"flags", "UC"},
     {"interface", "tap0"},
     {"use", 0},
     {"mtu", 1500}},
    {{"destination", "127.0.0.1/32"},
     {"gateway", "link#1"},
     {"flags", "UHL"},
     {"interface", "lo0"},
     {"use", 123456},
     {"mtu", 16384}},
});

TEST(PktFormat, RoutingTableLikeNetstatRn) {
  const std::string table =
      "Routing tables\n"
      "\n"
      "Internet:\n"
      "Destination        Gateway            Flags     Use    Mtu Netif\n"
      "default            198.18.0.254       UGS        12   1500 tap0\n"
      "198.18.0.0/24      link#2             UC          0   1500 tap0\n"
      "127.0.0.1/32       link#1             UHL    123456  16384 lo0\n";
  EXPECT_EQ(shown(plan_netstat, {"-rn"}, kRoutes), table);
  EXPECT_EQ(shown(plan_route, {"show"}, kRoutes), table);
}

TEST(PktFormat, RouteGetLikeBsd) {
  json route = kRoutes[1];
  EXPECT_EQ(shown(plan_route, {"get", "198.18.0.7"}, route),
            "   route to: 198.18.0.7\n"
            "destination: 198.18.0.0\n"
            "       mask: 255.255.255.0\n"
            "    gateway: link#2\n"
            "  interface: tap0\n"
            "      flags: <UP,CONNECTED>\n");
  EXPECT_EQ(shown(plan_route, {"get", "8.8.8.8"}, kRoutes[0]),
            "   route to: 8.8.8.8\n"
            "destination: default\n"
            "       mask: default\n"
            "    gateway: 198.18.0.254\n"
            "  interface: tap0\n"
            "      flags: <UP,GATEWAY,STATIC>\n");
  std::string host = shown(plan_route, {"get", "127.0.0.1"}, kRoutes[2]);
  EXPECT_NE(host.find("destination: 127.0.0.1\n    gateway"), std::string::npos) << host;
  EXPECT_EQ(format_route_flags("UHLX"), "<UP,HOST,LOCAL,X>");
}

const json kArp = json::array({
    {{"address", "198.18.0.2"},
     {"mac", "02:70:00:00:00:02"},
     {"interface", "tap0"},
     {"state", "reachable"},
     {"expires_in_s", 1190}},
    {{"address", "198.18.0.9"},
     {"mac", ""},
     {"interface", "tap0"},
     {"state", "incomplete"},
     {"expires_in_s", 3}},
    {{"address", "198.18.0.3"},
     {"mac", "02:70:00:00:00:03"},
     {"interface", "tap0"},
     {"state", "permanent"},
     {"expires_in_s", -1}},
});

TEST(PktFormat, ArpLikeBsd) {
  EXPECT_EQ(shown(plan_arp, {"-a"}, kArp),
            "? (198.18.0.2) at 02:70:00:00:00:02 on tap0 expires in 1190 seconds [ethernet]\n"
            "? (198.18.0.9) at (incomplete) on tap0 [ethernet]\n"
            "? (198.18.0.3) at 02:70:00:00:00:03 on tap0 permanent [ethernet]\n");
  EXPECT_EQ(shown(plan_arp, {"198.18.0.3"}, kArp),
            "? (198.18.0.3) at 02:70:00:00:00:03 on tap0 permanent [ethernet]\n");
  EXPECT_THROW(shown(plan_arp, {"198.18.0.7"}, kArp), Failure);
  try {
    shown(plan_arp, {"198.18.0.7"}, kArp);
  } catch (const Failure& e) {
    EXPECT_STREQ(e.what(), "arp: 198.18.0.7 -- no entry");
  }
}

TEST(PktFormat, NetstatStatisticsBuffersSockets) {
  json stats = {{"udp", {{"received", 4}, {"no_port", 1}}}, {"ip", {{"received", 10}}}};
  EXPECT_EQ(shown(plan_netstat, {"-s"}, stats),
            "ip:\n\t10 received\nudp:\n\t1 no_port\n\t4 received\n");
  EXPECT_EQ(shown(plan_netstat, {"-m"}, {{"clusters_in_use", 3}, {"mbufs_in_use", 12}}),
            "3 clusters_in_use\n12 mbufs_in_use\n");
  json sockets = json::array({{{"protocol", "udp"},
                               {"local", "0.0.0.0:7"},
                               {"remote", "*:*"},
                               {"state", ""},
                               {"recv_queue", 0},
                               {"send_queue", 0}},
                              {{"protocol", "udp"},
                               {"local", "198.18.0.1:5000"},
                               {"remote", "198.18.0.2:40000"},
                               {"recv_queue", 1500}}});
  EXPECT_EQ(shown(plan_netstat, {"-an"}, sockets),
            "Active Internet connections (including servers)\n"
            "Proto Recv-Q Send-Q Local Address          Foreign Address        (state)\n"
            "udp        0      0 0.0.0.0:7              *:*\n"
            "udp     1500      0 198.18.0.1:5000        198.18.0.2:40000\n");
}

TEST(PktFormat, UdpRecvShowsOctetsSafely) {
  json datagrams = json::array(
      {ctl::UdpDatagramInfo{"198.18.0.2:40000", "198.18.0.1:7", std::string("hi\0\n\x7f\\", 6)}});
  EXPECT_EQ(shown(plan_udp, {"recv", "7"}, datagrams),
            "from 198.18.0.2:40000: hi\\x00\\x0a\\x7f\\\n");
  std::string error;
  auto plan = plan_udp({"recv", "-W", "0.5", "7"}, &error);
  ASSERT_TRUE(plan) << error;
  try {
    plan->select(json::array());
    ADD_FAILURE() << "no datagram must fail";
  } catch (const Failure& e) {
    EXPECT_STREQ(e.what(), "udp recv: no datagram within 0.5 s");
  }
}

TEST(PktArgs, IfconfigAddresses) {
  EXPECT_EQ(calls_of(plan_ifconfig, {"tap0", "198.18.0.1/24"}),
            std::vector<std::string>{
                R"(add_address {"alias":false,"cidr":"198.18.0.1/24","name":"tap0"})"});
  EXPECT_EQ(calls_of(plan_ifconfig,
                     {"tap0", "inet", "198.18.0.1", "netmask", "255.255.255.0", "alias", "up"}),
            (std::vector<std::string>{
                R"(add_address {"alias":true,"cidr":"198.18.0.1/24","name":"tap0"})",
                R"(set_up {"name":"tap0","up":true})"}));
  EXPECT_EQ(
      calls_of(plan_ifconfig, {"tap0", "10.0.0.1", "netmask", "0xff000000"}),
      std::vector<std::string>{R"(add_address {"alias":false,"cidr":"10.0.0.1/8","name":"tap0"})"});
  EXPECT_EQ(calls_of(plan_ifconfig, {"tap0", "inet", "198.18.0.1", "-alias"}),
            std::vector<std::string>{R"(delete_address {"address":"198.18.0.1","name":"tap0"})"});
  EXPECT_EQ(calls_of(plan_ifconfig, {"tap0", "198.18.0.1/24", "-alias", "down"}),
            (std::vector<std::string>{R"(delete_address {"address":"198.18.0.1","name":"tap0"})",
                                      R"(set_up {"name":"tap0","up":false})"}));
  const std::vector<Args> bad = {
      {"tap0", "198.18.0.1"},
      {"tap0", "198.18.0.1", "netmask", "255.0.255.0"},
      {"tap0", "198.18.0.1", "netmask"},
      {"tap0", "198.18.0.1/24", "alias", "-alias"},
      {"tap0", "198.18.0.1/24", "up", "down"},
      {"tap0", "198.18.0.1/24", "sideways"},
      {"tap0", "198.18.0.1/33"},
      {"tap0", "198.18.0/24"},
      {"tap0", "inet"},
  };
  for (const Args& args : bad)
    EXPECT_TRUE(usage_error(plan_ifconfig, args).starts_with("ifconfig: "));
  EXPECT_EQ(usage_error(plan_ifconfig, {"tap0", "198.18.0.1"}),
            "ifconfig: 198.18.0.1 needs a prefix length (/LEN) or a netmask");
}

TEST(PktArgs, RouteArpNetstatUdp) {
  auto one = [](Planner p, const Args& args) {
    auto calls = calls_of(p, args);
    return calls.size() == 1 ? calls[0] : "calls: " + std::to_string(calls.size());
  };
  EXPECT_EQ(one(plan_route, {"add", "default", "198.18.0.254"}),
            R"(add_route {"destination":"default","gateway":"198.18.0.254","interface":""})");
  EXPECT_EQ(one(plan_route, {"add", "-net", "10.0.0.0/8", "198.18.0.254"}),
            R"(add_route {"destination":"10.0.0.0/8","gateway":"198.18.0.254","interface":""})");
  EXPECT_EQ(one(plan_route, {"add", "-host", "10.0.0.5", "198.18.0.254"}),
            R"(add_route {"destination":"10.0.0.5","gateway":"198.18.0.254","interface":""})");
  EXPECT_EQ(one(plan_route, {"add", "10.0.0.0/8", "-interface", "tap0"}),
            R"(add_route {"destination":"10.0.0.0/8","gateway":"","interface":"tap0"})");
  EXPECT_EQ(one(plan_route, {"delete", "10.0.0.0/8"}),
            R"(delete_route {"destination":"10.0.0.0/8"})");
  EXPECT_EQ(one(plan_route, {"get", "10.0.0.1"}), R"(get_route {"address":"10.0.0.1"})");
  EXPECT_EQ(one(plan_route, {"show"}), "routes {}");
  EXPECT_EQ(one(plan_arp, {"-a"}), "arp {}");
  EXPECT_EQ(one(plan_arp, {"-an"}), "arp {}");
  EXPECT_EQ(one(plan_arp, {"-n", "198.18.0.2"}), "arp {}");
  EXPECT_EQ(one(plan_arp, {"-d", "198.18.0.2"}), R"(arp_delete {"address":"198.18.0.2"})");
  EXPECT_EQ(one(plan_arp, {"-s", "198.18.0.2", "2:70:0:0:0:2"}),
            R"(arp_set {"address":"198.18.0.2","mac":"02:70:00:00:00:02"})");
  for (const Args& args : std::vector<Args>{{"-rn"}, {"-r"}, {"-nr"}, {"-r", "-n"}})
    EXPECT_EQ(one(plan_netstat, args), "routes {}") << args[0];
  EXPECT_EQ(one(plan_netstat, {"-s"}), "protocol_stats {}");
  EXPECT_EQ(one(plan_netstat, {"-m"}), "buffer_stats {}");
  EXPECT_EQ(one(plan_netstat, {"-an"}), "sockets {}");
  EXPECT_EQ(one(plan_netstat, {"-a"}), "sockets {}");
  EXPECT_EQ(one(plan_udp, {"send", "-p", "5000", "198.18.0.2", "7", "hi"}),
            R"(udp_send {"data":"aGk=","destination":"198.18.0.2","local_port":5000,"port":7})");
  EXPECT_EQ(one(plan_udp, {"recv", "-c", "3", "-W", "0.5", "7"}),
            R"(udp_receive {"count":3,"port":7,"timeout_ms":500})");
  EXPECT_EQ(one(plan_udp, {"recv", "7"}), R"(udp_receive {"count":1,"port":7,"timeout_ms":5000})");

  const std::vector<std::pair<Planner, Args>> bad = {
      {plan_route, {}},
      {plan_route, {"add"}},
      {plan_route, {"add", "default"}},
      {plan_route, {"add", "default", "gw"}},
      {plan_route, {"add", "default", "198.18.0.254", "extra"}},
      {plan_route, {"add", "-net", "10.0.0.1", "198.18.0.254"}},
      {plan_route, {"add", "-host", "10.0.0.0/8", "198.18.0.254"}},
      {plan_route, {"add", "10/8", "198.18.0.254"}},
      {plan_route, {"add", "default", "-interface"}},
      {plan_route, {"delete"}},
      {plan_route, {"delete", "default", "x"}},
      {plan_route, {"get"}},
      {plan_route, {"get", "default"}},
      {plan_route, {"show", "all"}},
      {plan_route, {"flush"}},
      {plan_arp, {}},
      {plan_arp, {"-d"}},
      {plan_arp, {"-d", "host"}},
      {plan_arp, {"-s", "198.18.0.2", "02:70"}},
      {plan_arp, {"-a", "extra"}},
      {plan_arp, {"-x"}},
      {plan_netstat, {"-x"}},
      {plan_netstat, {"-rs"}},
      {plan_netstat, {"-r", "-m"}},
      {plan_netstat, {"routes"}},
      {plan_netstat, {"-"}},
      {plan_udp, {}},
      {plan_udp, {"listen"}},
      {plan_udp, {"send", "198.18.0.2", "7"}},
      {plan_udp, {"send", "host", "7", "hi"}},
      {plan_udp, {"send", "198.18.0.2", "0", "hi"}},
      {plan_udp, {"send", "-p", "70000", "198.18.0.2", "7", "hi"}},
      {plan_udp, {"send", "-q", "1", "198.18.0.2", "7", "hi"}},
      {plan_udp, {"recv"}},
      {plan_udp, {"recv", "0"}},
      {plan_udp, {"recv", "-W", "61", "7"}},
      {plan_udp, {"recv", "-c", "0", "7"}},
      {plan_udp, {"recv", "-c"}},
  };
  for (const auto& [planner, args] : bad) usage_error(planner, args);
  EXPECT_EQ(usage_error(plan_netstat, {"-x"}), "netstat: unknown flag -x (-rn, -s, -m or -an)");
}

TEST(PktArgs, NewSubcommandsBadUsageExits2) {
  const std::vector<std::vector<std::string>> bad = {
      {"ping"},
      {"ping", "host.example"},
      {"ping", "-c", "0", "198.18.0.2"},
      {"capture"},
      {"capture", "tap0", "-c", "x"},
      {"route", "add"},
      {"netstat", "-q"},
      {"arp"},
      {"udp", "recv"},
  };
  for (const auto& args : bad) {
    PktRun r = pkt(args);
    EXPECT_EQ(r.status, kExitUsage) << args[0];
    EXPECT_NE(r.err.find("usage: pkt"), std::string::npos) << r.err;
    EXPECT_TRUE(r.out.empty());
  }
  PktRun r = pkt({"ping", "1.2.3"});
  EXPECT_EQ(r.err.substr(0, r.err.find('\n')), "pkt ping: 1.2.3: not a numeric IPv4 address");
  EXPECT_NE(r.err.find("  ping [-c COUNT]"), std::string::npos) << r.err;  // its own usage
  EXPECT_EQ(r.err.find("  ifconfig"), std::string::npos) << r.err;         // not every line
}

// --- pkt: plans, ping and capture against a scripted pktd ---

// Answers each call with the next scripted answer, and records the calls.
class FakePktd : public Pktd {
 public:
  struct Answer {
    json result;
    ctl::Error error;
    bool delivered = true;
  };
  std::deque<Answer> answers;
  std::vector<Call> calls;
  std::function<void(const Call&)> on_call;  // a test's clock, or its ^C

  void ok(json result) { answers.push_back({std::move(result), {}, true}); }
  void refuse(int code, std::string message) {
    answers.push_back({nullptr, {code, std::move(message)}, true});
  }

  bool call(const std::string& op, const json& args, ctl::Reply* reply) override {
    calls.push_back({op, args});
    if (on_call) on_call(calls.back());
    if (answers.empty()) {
      reply->error = {EIO, "pktd at /fake: no reply within 75000 ms"};
      return false;
    }
    Answer a = answers.front();
    answers.pop_front();
    reply->result = a.result;
    reply->error = a.error;
    return a.delivered;
  }
};

struct FakeClock {
  Clock::Time now{};
  std::vector<std::chrono::nanoseconds> sleeps;
  bool stop = false;

  Clock clock() {
    return {[this] { return now; },
            [this](std::chrono::nanoseconds d) {
              sleeps.push_back(d);
              if (d.count() > 0) now += d;
            },
            [this] { return stop; }};
  }
};

struct FakeRun {
  FakePktd pktd;
  std::ostringstream out, err;
  Session session{pktd, false, out, err};
};

TEST(PktPlan, CallsInOrderStopAtTheFirstRefusalAndJsonShowsEveryResult) {
  std::string error;
  auto plan = plan_ifconfig({"tap0", "198.18.0.1/24", "up"}, &error);
  ASSERT_TRUE(plan) << error;
  FakeRun run;
  run.pktd.ok({{"name", "tap0"}});
  run.pktd.ok({{"up", true}});
  EXPECT_EQ(run_plan(*plan, run.session), kExitOk);
  EXPECT_EQ(run.pktd.calls.size(), 2u);
  EXPECT_EQ(run.out.str(), "");

  FakeRun refused;
  refused.pktd.refuse(EEXIST, "198.18.0.1: address in use on tap1");
  EXPECT_EQ(run_plan(*plan, refused.session), kExitError);
  EXPECT_EQ(refused.pktd.calls.size(), 1u);  // no set_up after a failed address
  EXPECT_EQ(refused.err.str(), "pkt: 198.18.0.1: address in use on tap1\n");

  FakeRun as_json;
  as_json.session.as_json = true;
  as_json.pktd.ok({{"name", "tap0"}});
  as_json.pktd.ok({{"up", true}});
  EXPECT_EQ(run_plan(*plan, as_json.session), kExitOk);
  EXPECT_EQ(json::parse(as_json.out.str()), json::array({{{"name", "tap0"}}, {{"up", true}}}));

  FakeRun gone;
  EXPECT_EQ(run_plan(*plan, gone.session), kExitError);
  EXPECT_EQ(gone.err.str(), "pkt: pktd at /fake: no reply within 75000 ms\n");
}

TEST(PktPlan, SelectionAppliesToTextAndJson) {
  std::string error;
  auto plan = plan_arp({"198.18.0.2"}, &error);
  ASSERT_TRUE(plan) << error;
  FakeRun as_json;
  as_json.session.as_json = true;
  as_json.pktd.ok(kArp);
  EXPECT_EQ(run_plan(*plan, as_json.session), kExitOk);
  EXPECT_EQ(json::parse(as_json.out.str()), json::array({kArp[0]}));
  plan = plan_arp({"198.18.0.77"}, &error);
  FakeRun missing;
  missing.pktd.ok(kArp);
  EXPECT_EQ(run_plan(*plan, missing.session), kExitError);
  EXPECT_EQ(missing.err.str(), "pkt arp: 198.18.0.77 -- no entry\n");
  FakeRun malformed;
  malformed.pktd.ok(json::array({{{"mac", "no address"}}}));
  plan = plan_arp({"-a"}, &error);
  EXPECT_EQ(run_plan(*plan, malformed.session), kExitError);
  EXPECT_TRUE(malformed.err.str().starts_with("pkt: unexpected reply from pktd"))
      << malformed.err.str();
}

// ping

PingOptions ping_options(const Args& args, bool root = false) {
  std::string error;
  auto o = parse_ping(args, root, &error);
  EXPECT_TRUE(o) << error;
  return o.value_or(PingOptions{});
}

TEST(PktPing, Options) {
  PingOptions o = ping_options({"198.18.0.2"});
  EXPECT_EQ(o.host, "198.18.0.2");
  EXPECT_FALSE(o.count);
  EXPECT_EQ(o.size, 56u);
  EXPECT_EQ(o.interval, std::chrono::seconds(1));
  EXPECT_EQ(o.timeout_ms, 1000u);
  EXPECT_EQ(o.ttl, 64);
  o = ping_options({"-c", "3", "-s100", "-i", "0.5", "-W", "0.25", "-t", "9", "198.18.0.2"});
  EXPECT_EQ(o.count, 3u);
  EXPECT_EQ(o.size, 100u);
  EXPECT_EQ(o.interval, std::chrono::milliseconds(500));
  EXPECT_EQ(o.timeout_ms, 250u);
  EXPECT_EQ(o.ttl, 9);
  EXPECT_EQ(ping_options({"198.18.0.2", "-c", "2"}).count, 2u);  // options after HOST too
  EXPECT_EQ(ping_options({"-i", "0.2", "198.18.0.2"}).interval, std::chrono::milliseconds(200));
  EXPECT_EQ(ping_options({"-i", "0.01", "198.18.0.2"}, true).interval,
            std::chrono::milliseconds(10));

  struct Bad {
    Args args;
    bool root;
    const char* message;
  };
  const Bad bad[] = {
      {{"-i", "0.1", "198.18.0.2"},
       false,
       "ping: -i 0.1: expected seconds, at least 0.2 (0.01 for root)"},
      {{"-i", "0.005", "198.18.0.2"}, true, "ping: -i 0.005: expected seconds, at least 0.01"},
      {{"example.org"}, false, "ping: example.org: not a numeric IPv4 address"},
      {{}, false, "ping: expected one HOST"},
      {{"198.18.0.2", "198.18.0.3"}, false, "ping: expected one HOST"},
      {{"-c", "0", "198.18.0.2"}, false, "ping: -c 0: expected 1 to 4294967295"},
      {{"-s", "65508", "198.18.0.2"}, false, "ping: -s 65508: expected 0 to 65507"},
      {{"-t", "0", "198.18.0.2"}, false, "ping: -t 0: expected 1 to 255"},
      {{"-W", "61", "198.18.0.2"}, false, "ping: -W 61: expected seconds, 0.001 to 60"},
      {{"-W", "-1", "198.18.0.2"}, false, "ping: -W -1: expected seconds, 0.001 to 60"},
      {{"-x", "1", "198.18.0.2"}, false, "ping: unknown option -x"},
      {{"198.18.0.2", "-c"}, false, "ping: -c needs a value"},
  };
  for (const Bad& b : bad) {
    std::string error;
    EXPECT_FALSE(parse_ping(b.args, b.root, &error));
    EXPECT_EQ(error, b.message);
  }
}

json echo_reply(double rtt_ms, const std::string& from = "198.18.0.2") {
  return json(ctl::PingResult{true, rtt_ms, 64, 64, from, ""});
}

TEST(PktPing, RepliesErrorsTimeoutsAndTheSummary) {
  FakeRun run;
  FakeClock clock;
  run.pktd.on_call = [&](const Call&) { clock.now += std::chrono::milliseconds(300); };
  run.pktd.ok(echo_reply(0.1));
  run.pktd.ok(json(ctl::PingResult{}));  // no reply in time
  run.pktd.ok(
      json(ctl::PingResult{false, 0, 0, 0, "198.18.0.254", "Destination Host Unreachable"}));
  PingOptions o = ping_options({"-c", "3", "198.18.0.2"});
  o.id = 0x1234;
  EXPECT_EQ(run_ping(o, run.session, clock.clock()), kExitOk);
  EXPECT_EQ(run.out.str(),
            "PING 198.18.0.2 (198.18.0.2): 56 data bytes\n"
            "64 bytes from 198.18.0.2: icmp_seq=0 ttl=64 time=0.100 ms\n"
            "From 198.18.0.254 icmp_seq=2 Destination Host Unreachable\n"
            "\n"
            "--- 198.18.0.2 ping statistics ---\n"
            "3 packets transmitted, 1 packets received, 66.7% packet loss\n"
            "round-trip min/avg/max/stddev = 0.100/0.100/0.100/0.000 ms\n");
  ASSERT_EQ(run.pktd.calls.size(), 3u);
  for (uint16_t seq = 0; seq < 3; ++seq) {
    const Call& c = run.pktd.calls[seq];
    EXPECT_EQ(c.op, "ping");
    EXPECT_EQ(c.args, json(ctl::PingRequest{"198.18.0.2", 0x1234, seq, 56, 64, 1000}));
  }
  // The rest of each interval, measured from the send; none after the last echo.
  EXPECT_EQ(clock.sleeps, (std::vector<std::chrono::nanoseconds>{std::chrono::milliseconds(700),
                                                                 std::chrono::milliseconds(700)}));
}

TEST(PktPing, NoReplyExits1AndStatisticsAreRight) {
  FakeRun run;
  FakeClock clock;
  run.pktd.ok(json(ctl::PingResult{}));
  EXPECT_EQ(run_ping(ping_options({"-c", "1", "198.18.0.9"}), run.session, clock.clock()),
            kExitError);
  EXPECT_NE(run.out.str().find("1 packets transmitted, 0 packets received, 100.0% packet loss\n"),
            std::string::npos);
  EXPECT_EQ(run.out.str().find("round-trip"), std::string::npos);
  PingStats stats{3, 3, {1, 2, 3}};
  EXPECT_EQ(format_ping_summary("h", stats),
            "\n--- h ping statistics ---\n"
            "3 packets transmitted, 3 packets received, 0.0% packet loss\n"
            "round-trip min/avg/max/stddev = 1.000/2.000/3.000/0.816 ms\n");
}

TEST(PktPing, InterruptFinishesTheRequestThenSummarizes) {
  FakeRun run;
  FakeClock clock;
  for (int i = 0; i < 5; ++i) run.pktd.ok(echo_reply(0.5));
  run.pktd.on_call = [&](const Call&) { clock.stop = run.pktd.calls.size() == 2; };  // ^C
  EXPECT_EQ(run_ping(ping_options({"198.18.0.2"}), run.session, clock.clock()), kExitOk);
  EXPECT_EQ(run.pktd.calls.size(), 2u);
  EXPECT_NE(run.out.str().find("2 packets transmitted, 2 packets received, 0.0% packet loss"),
            std::string::npos)
      << run.out.str();
}

TEST(PktPing, NetworkErrorsAreSaidAndPktdErrorsStop) {
  FakeRun run;
  FakeClock clock;
  run.pktd.refuse(EHOSTUNREACH, "198.18.5.5: no route to host");
  run.pktd.ok(echo_reply(0.2));
  EXPECT_EQ(run_ping(ping_options({"-c", "2", "198.18.5.5"}), run.session, clock.clock()), kExitOk);
  EXPECT_EQ(run.err.str(), "pkt ping: 198.18.5.5: no route to host\n");
  EXPECT_NE(run.out.str().find("2 packets transmitted, 1 packets received"), std::string::npos);

  FakeRun old;
  old.pktd.refuse(ENOSYS, "ping: not supported by this pktd");
  EXPECT_EQ(run_ping(ping_options({"-c", "5", "198.18.0.2"}), old.session, clock.clock()),
            kExitError);
  EXPECT_EQ(old.pktd.calls.size(), 1u);
  EXPECT_EQ(old.err.str(), "pkt: ping: not supported by this pktd\n");
  EXPECT_EQ(old.out.str().find("statistics"), std::string::npos);
}

TEST(PktPing, JsonIsOneObjectAtTheEnd) {
  FakeRun run;
  FakeClock clock;
  run.session.as_json = true;
  run.pktd.ok(echo_reply(0.5));
  run.pktd.ok(json(ctl::PingResult{}));
  EXPECT_EQ(run_ping(ping_options({"-c", "2", "198.18.0.2"}), run.session, clock.clock()), kExitOk);
  json j = json::parse(run.out.str());
  EXPECT_EQ(j["transmitted"], 2);
  EXPECT_EQ(j["received"], 1);
  EXPECT_EQ(j["results"][0], echo_reply(0.5));
  EXPECT_EQ(j["destination"], "198.18.0.2");
}

// capture: frames built with wire/'s emitters

std::span<std::byte> writable(std::string& s) {
  return std::as_writable_bytes(std::span(s.data(), s.size()));
}
std::span<const std::byte> bytes_of(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

const wire::MacAddress kMac1{{0x02, 0x70, 0, 0, 0, 0x01}}, kMac2{{0x02, 0x70, 0, 0, 0, 0x02}};
const wire::Ipv4Address kIp1 = wire::Ipv4Address::from_octets(198, 18, 0, 1);
const wire::Ipv4Address kIp2 = wire::Ipv4Address::from_octets(198, 18, 0, 2);

template <typename Header>
std::string emitted(const Header& h, size_t length) {
  std::string out(length, '\0');
  EXPECT_TRUE(h.emit(writable(out)));
  return out;
}

std::string ethernet(uint16_t type, const std::string& payload,
                     wire::MacAddress destination = kMac1) {
  wire::EthernetHeader h{destination, kMac2, std::nullopt, type};
  return emitted(h, h.length()) + payload;
}

std::string ipv4(uint8_t protocol, const std::string& payload) {
  wire::Ipv4Header h;
  h.protocol = protocol;
  h.source = kIp2;
  h.destination = kIp1;
  h.payload_length = payload.size();
  return emitted(h, h.length()) + payload;
}

std::string echo_request(uint16_t id, uint16_t seq) {
  auto m = wire::Icmpv4Message::echo(wire::icmpv4::kEchoRequest, id, seq, {});
  return emitted(m, m.length());
}

std::string udp(uint16_t from_port, uint16_t to_port, const std::string& payload) {
  wire::UdpDatagram d{from_port, to_port, true, bytes_of(payload)};
  std::string out(d.length(), '\0');
  EXPECT_TRUE(d.emit(writable(out), kIp2, kIp1));
  return out;
}

std::string arp_request() {
  wire::ArpPacket p{wire::ArpOperation::request, kMac1, kIp1, {}, kIp2};
  return emitted(p, p.length());
}

TEST(PktCapture, FramesAreSummarizedWithWire) {
  auto summary = [](const std::string& frame, uint32_t link = kLinkTypeEthernet) {
    return summarize_frame(bytes_of(frame), link);
  };
  EXPECT_EQ(summary(ethernet(wire::kEthertypeArp, arp_request(), wire::MacAddress::broadcast())),
            "02:70:00:00:00:02 > ff:ff:ff:ff:ff:ff ARP who-has 198.18.0.2 tell 198.18.0.1");
  std::string icmp = ipv4(wire::kIpProtocolIcmp, echo_request(5, 1));
  EXPECT_EQ(summary(ethernet(wire::kEthertypeIpv4, icmp)),
            "198.18.0.2 > 198.18.0.1 ICMP echo request id 5 seq 1");
  EXPECT_EQ(summary(icmp, kLinkTypeRaw), "198.18.0.2 > 198.18.0.1 ICMP echo request id 5 seq 1");
  EXPECT_EQ(
      summary(ethernet(wire::kEthertypeIpv4, ipv4(wire::kIpProtocolUdp, udp(40000, 7, "hello")))),
      "198.18.0.2.40000 > 198.18.0.1.7 UDP 5");
  EXPECT_EQ(summary(ethernet(wire::kEthertypeIpv4, ipv4(wire::kIpProtocolTcp, "12345678"))),
            "198.18.0.2 > 198.18.0.1 IP proto 6 length 28");
  EXPECT_EQ(summary(ethernet(wire::kEthertypeIpv6, "")),
            "02:70:00:00:00:02 > 02:70:00:00:00:01 IPv6");
  EXPECT_EQ(summary(std::string(10, '\0')), "malformed (truncated)");
  std::string bad_sum = icmp;
  bad_sum[10] = static_cast<char>(bad_sum[10] ^ 0x55);
  EXPECT_EQ(summary(bad_sum, kLinkTypeRaw), "malformed (bad_checksum)");
  EXPECT_EQ(summary(ethernet(wire::kEthertypeArp, arp_request().substr(0, 20))),
            "malformed (truncated)");
  EXPECT_EQ(summary("x", 147), "link type 147");
}

class UtcTime : public ::testing::Test {
 protected:
  void SetUp() override {
    const char* tz = std::getenv("TZ");
    if (tz != nullptr) saved_ = tz;
    had_ = tz != nullptr;
    setenv("TZ", "UTC", 1);
    tzset();
  }
  void TearDown() override {
    if (had_)
      setenv("TZ", saved_.c_str(), 1);
    else
      unsetenv("TZ");
    tzset();
  }
  std::string saved_;
  bool had_ = false;
};

constexpr int64_t kSomeTime = 1'700'000'000'123'456'789;  // 2023-11-14 22:13:20.123456789 UTC

ctl::CapturedFrame frame_of(const std::string& data, bool outgoing = false, int64_t t = kSomeTime) {
  return {t, outgoing, static_cast<uint32_t>(data.size()), data};
}

TEST_F(UtcTime, CaptureLineHasTimeDirectionLengthSummary) {
  std::string frame =
      ethernet(wire::kEthertypeIpv4, ipv4(wire::kIpProtocolIcmp, echo_request(5, 1)));
  EXPECT_EQ(format_frame(frame_of(frame), kLinkTypeEthernet),
            "22:13:20.123456 in 42 198.18.0.2 > 198.18.0.1 ICMP echo request id 5 seq 1\n");
  EXPECT_EQ(format_frame(frame_of(frame, true), kLinkTypeEthernet).substr(0, 20),
            "22:13:20.123456 out ");
}

CaptureOptions capture_options(const Args& args) {
  std::string error;
  auto o = parse_capture(args, &error);
  EXPECT_TRUE(o) << error;
  return o.value_or(CaptureOptions{});
}

json read_result(std::vector<ctl::CapturedFrame> frames, uint64_t dropped = 0, bool closed = false,
                 uint32_t link_type = kLinkTypeEthernet) {
  ctl::CaptureRead r;
  r.frames = std::move(frames);
  r.dropped = dropped;
  r.closed = closed;
  r.link_type = link_type;
  return r;
}

TEST(PktCapture, Options) {
  CaptureOptions o = capture_options({"tap0"});
  EXPECT_EQ(o.interface, "tap0");
  EXPECT_EQ(o.snaplen, 262144u);
  EXPECT_FALSE(o.count);
  o = capture_options({"-w", "-", "/dev/io-net/tap1", "-c", "5", "-s96", "-T", "1.5"});
  EXPECT_EQ(o.interface, "tap1");
  EXPECT_EQ(o.file, "-");
  EXPECT_EQ(o.count, 5u);
  EXPECT_EQ(o.snaplen, 96u);
  EXPECT_EQ(o.seconds, 1.5);
  for (const Args& bad : std::vector<Args>{{},
                                           {"tap0", "tap1"},
                                           {"tap0", "-c", "0"},
                                           {"tap0", "-s", "262145"},
                                           {"tap0", "-T", "0"},
                                           {"tap0", "-w"},
                                           {"tap0", "-q", "1"}}) {
    std::string error;
    EXPECT_FALSE(parse_capture(bad, &error));
    EXPECT_TRUE(error.starts_with("capture: ")) << error;
  }
}

TEST_F(UtcTime, CaptureReadsUntilClosedAndCountsDrops) {
  FakeRun run;
  FakeClock clock;
  std::string arp = ethernet(wire::kEthertypeArp, arp_request(), wire::MacAddress::broadcast());
  run.pktd.ok({{"session", 9}});
  run.pktd.ok(read_result({frame_of(arp), frame_of(arp, true)}));
  run.pktd.ok(read_result({}, 2));
  run.pktd.ok(read_result({frame_of(arp)}, 3, true));
  EXPECT_EQ(run_capture(capture_options({"tap0", "-s", "128"}), run.session, clock.clock()),
            kExitOk);
  std::string line =
      " 42 02:70:00:00:00:02 > ff:ff:ff:ff:ff:ff ARP who-has 198.18.0.2 tell 198.18.0.1\n";
  EXPECT_EQ(run.out.str(), "22:13:20.123456 in" + line + "22:13:20.123456 out" + line +
                               "22:13:20.123456 in" + line);
  EXPECT_EQ(run.err.str(),
            "pkt capture: listening on tap0, snapshot length 128 bytes\n"
            "3 frames captured, 3 dropped by pktd\n");
  ASSERT_EQ(run.pktd.calls.size(), 4u);  // closed: no capture_stop
  EXPECT_EQ(run.pktd.calls[0].args, (json{{"name", "tap0"}, {"snaplen", 128}}));
  EXPECT_EQ(run.pktd.calls[1].args, (json{{"session", 9}, {"max_frames", 256}, {"wait_ms", 200}}));
}

TEST(PktCapture, CountTimeAndInterruptEndItWithAStop) {
  FakeRun counted;
  FakeClock clock;
  std::string frame = ipv4(wire::kIpProtocolUdp, udp(1, 2, "x"));
  counted.pktd.ok({{"session", 4}});
  counted.pktd.ok(
      read_result({frame_of(frame), frame_of(frame), frame_of(frame)}, 0, false, kLinkTypeRaw));
  counted.pktd.ok({{"session", 4}});  // capture_stop's answer
  counted.session.as_json = true;
  EXPECT_EQ(run_capture(capture_options({"lo0", "-c", "2"}), counted.session, clock.clock()),
            kExitOk)
      << counted.err.str();
  ASSERT_EQ(counted.pktd.calls.size(), 3u);
  EXPECT_EQ(counted.pktd.calls[2].op, "capture_stop");
  EXPECT_EQ(counted.pktd.calls[2].args, (json{{"session", 4}}));
  std::string lines = counted.out.str();
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 2);  // two frames, one JSON object each
  EXPECT_EQ(json::parse(lines.substr(0, lines.find('\n'))).get<ctl::CapturedFrame>().data, frame);
  EXPECT_EQ(counted.err.str(),
            "pkt capture: listening on lo0, snapshot length 262144 bytes\n"
            "2 frames captured, 0 dropped by pktd\n");

  FakeRun timed;
  timed.pktd.on_call = [&](const Call& c) {
    if (c.op == "capture_read") clock.now += std::chrono::milliseconds(200);  // pktd's wait
  };
  timed.pktd.ok({{"session", 5}});
  for (int i = 0; i < 10; ++i) timed.pktd.ok(read_result({}));
  timed.pktd.ok(json::object());
  EXPECT_EQ(run_capture(capture_options({"tap0", "-T", "1"}), timed.session, clock.clock()),
            kExitOk);
  EXPECT_EQ(timed.pktd.calls.size(), 1u + 5u + 1u);  // start, 5 reads of 0.2 s, stop
  EXPECT_EQ(timed.pktd.calls.back().op, "capture_stop");

  FakeRun interrupted;
  FakeClock stopped;
  interrupted.pktd.on_call = [&](const Call& c) { stopped.stop = c.op == "capture_read"; };
  interrupted.pktd.ok({{"session", 6}});
  interrupted.pktd.ok(read_result({frame_of(frame)}, 0, false, kLinkTypeRaw));
  interrupted.pktd.ok(json::object());
  EXPECT_EQ(run_capture(capture_options({"lo0"}), interrupted.session, stopped.clock()), kExitOk);
  EXPECT_EQ(interrupted.pktd.calls.size(), 3u);
  EXPECT_EQ(interrupted.err.str(),
            "pkt capture: listening on lo0, snapshot length 262144 bytes\n"
            "1 frames captured, 0 dropped by pktd\n");
}

TEST(PktCapture, ReadTooLargeForTheSocketReadsFewer) {
  FakeRun run;
  FakeClock clock;
  run.pktd.ok({{"session", 3}});
  run.pktd.refuse(EMSGSIZE, "the reply (540123 bytes) is too large for the control socket");
  run.pktd.ok(read_result({}, 0, true));
  EXPECT_EQ(run_capture(capture_options({"tap0"}), run.session, clock.clock()), kExitOk);
  ASSERT_EQ(run.pktd.calls.size(), 3u);
  EXPECT_EQ(run.pktd.calls[2].args["max_frames"], 128);
  EXPECT_EQ(run.err.str(),
            "pkt capture: listening on tap0, snapshot length 262144 bytes\n"
            "pkt capture: the reply (540123 bytes) is too large for the control socket: frames "
            "lost; now reading 128 at a time\n"
            "0 frames captured, 0 dropped by pktd\n");
}

TEST(PktCapture, RefusedStartExits1) {
  FakeRun run;
  FakeClock clock;
  run.pktd.refuse(EPERM, "permission denied: only root may change the configuration");
  EXPECT_EQ(run_capture(capture_options({"tap0"}), run.session, clock.clock()), kExitError);
  EXPECT_EQ(run.err.str(), "pkt: permission denied: only root may change the configuration\n");
  EXPECT_EQ(run.pktd.calls.size(), 1u);
}

uint32_t u32_at(const std::string& s, size_t offset) {
  uint32_t v;
  std::memcpy(&v, s.data() + offset, sizeof v);
  return v;
}

TEST(PktCapture, PcapFileWithNanosecondTimestamps) {
  FakeRun run;
  FakeClock clock;
  std::string frame =
      ethernet(wire::kEthertypeIpv4, ipv4(wire::kIpProtocolIcmp, echo_request(5, 1)));
  ctl::CapturedFrame cut = frame_of(frame.substr(0, 20));
  cut.original_length = 42;
  run.pktd.ok({{"session", 1}});
  run.pktd.ok(read_result({frame_of(frame), cut}, 0, true));
  EXPECT_EQ(
      run_capture(capture_options({"tap0", "-w", "-", "-s", "20"}), run.session, clock.clock()),
      kExitOk);
  std::string pcap = run.out.str();
  ASSERT_EQ(pcap.size(), 24u + 16u + frame.size() + 16u + 20u);
  EXPECT_EQ(u32_at(pcap, 0), 0xa1b23c4du);
  EXPECT_EQ(pcap.substr(4, 4), std::string("\x02\x00\x04\x00", 4));  // 2.4, little-endian host
  EXPECT_EQ(u32_at(pcap, 16), 20u);                                  // snaplen
  EXPECT_EQ(u32_at(pcap, 20), 1u);                                   // LINKTYPE_ETHERNET
  EXPECT_EQ(u32_at(pcap, 24), 1'700'000'000u);
  EXPECT_EQ(u32_at(pcap, 28), 123'456'789u);
  EXPECT_EQ(u32_at(pcap, 32), frame.size());
  EXPECT_EQ(u32_at(pcap, 36), frame.size());
  EXPECT_EQ(pcap.substr(40, frame.size()), frame);
  size_t second = 40 + frame.size();
  EXPECT_EQ(u32_at(pcap, second + 8), 20u);   // kept
  EXPECT_EQ(u32_at(pcap, second + 12), 42u);  // on the wire

  // Nothing captured: still a valid, empty file.
  FakeRun empty;
  empty.pktd.ok({{"session", 1}});
  empty.pktd.refuse(ENXIO, "tap0: no such interface");
  std::string path = ::testing::TempDir() + "/pkt-capture-test.pcap";
  EXPECT_EQ(run_capture(capture_options({"tap0", "-w", path}), empty.session, clock.clock()),
            kExitError);
  EXPECT_EQ(std::filesystem::file_size(path), 24u);
  std::filesystem::remove(path);
}

// --- pkt against the server: the IPv4 subcommands end to end ---

TEST_F(PktAgainstServer, AddressesRoutesArpPingUdp) {
  PktRun r =
      run_pkt({"ifconfig", "tap0", "inet", "198.18.0.1", "netmask", "255.255.255.0", "down"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_EQ(fake.flags_of("tap0") & 0x1u, 0u);
  r = run_pkt({"ifconfig", "tap0"});
  EXPECT_NE(r.out.find("\tinet 198.18.0.1 netmask 0xffffff00\n"), std::string::npos) << r.out;

  r = run_pkt({"netstat", "-rn"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_NE(r.out.find("default            198.18.0.254       UGS"), std::string::npos) << r.out;
  r = run_pkt({"arp", "198.18.0.9"});
  EXPECT_EQ(r.status, kExitError);
  EXPECT_EQ(r.err, "pkt arp: 198.18.0.9 -- no entry\n");
  r = run_pkt({"ping", "-c", "2", "-i", "0.2", "-W", "0.1", "198.18.0.2"});
  EXPECT_EQ(r.status, kExitOk) << r.err;
  EXPECT_NE(r.out.find("2 packets transmitted, 2 packets received, 0.0% packet loss"),
            std::string::npos)
      << r.out;
  EXPECT_EQ(run_pkt({"ping", "-c", "1", "198.18.0.3"}).status, kExitError);  // no reply
  r = run_pkt({"udp", "recv", "7"});
  EXPECT_EQ(r.out, "from 198.18.0.2:40000: hi\\x00\\x0a\n");
  r = run_pkt({"netstat", "-s"});  // the fake has no statistics
  EXPECT_EQ(r.status, kExitError);
  EXPECT_EQ(r.err, "pkt: protocol_stats: not supported by this pktd\n");
  r = run_pkt({"capture", "tap0", "-c", "1"});
  EXPECT_EQ(r.status, kExitError);
  EXPECT_EQ(r.err, "pkt: capture_start: not supported by this pktd\n");
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--json", "route", "show"},
                                             {"--json", "arp", "-a"},
                                             {"--json", "udp", "recv", "7"},
                                             {"--json", "ping", "-c", "1", "198.18.0.2"}}) {
    r = run_pkt(args);
    EXPECT_EQ(r.status, kExitOk) << args[1] << ": " << r.err;
    EXPECT_FALSE(json::parse(r.out, nullptr, false).is_discarded()) << r.out;
  }
}

}  // namespace
}  // namespace pktd::pkt
