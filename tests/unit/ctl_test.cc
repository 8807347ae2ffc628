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
#include <filesystem>
#include <fstream>
#include <memory>
#include <mutex>
#include <sstream>
#include <stdexcept>
#include <thread>
#include <vector>

#include "ctl/client.h"
#include "ctl/paths.h"
#include "ctl/protocol.h"
#include "ctl/requests.h"
#include "ctl/server.h"
#include "runtime/runtime.h"
#include "tests/support/wait.h"
#include "tools/pkt/cli.h"
#include "tools/pkt/commands.h"

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
  for (const char* op : {"interfaces", "interface", "set_up", "set_mtu", "destroy", "mount",
                         "driver_request", "threads"}) {
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
  for (Op op : {Op::set_up, Op::set_mtu, Op::destroy, Op::mount, Op::driver_request}) {
    Request change;
    change.op = op;
    Error e = root_only.authorize(change, nobody);
    EXPECT_EQ(e.code, EPERM) << to_string(op);
    EXPECT_EQ(e.message, "permission denied: only root may change the configuration");
  }
  Request change;
  change.op = Op::set_up;
  EXPECT_NE(group.authorize(change, nobody).message.find("gid 27"), std::string::npos);
  EXPECT_FALSE(group.authorize(change, Caller{0, 0, 1, true}));
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
      {"nicinfo", "a", "b"},
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
  EXPECT_EQ(p->op, "set_mtu");
  EXPECT_EQ(p->args, (json{{"name", "tap0"}, {"mtu", 9000}}));
  p = plan_ifconfig({"tap0", "down"}, &error);
  EXPECT_EQ(p->args, (json{{"name", "tap0"}, {"up", false}}));
  p = plan_umount({"/dev/io-net/tap3"}, &error);
  EXPECT_EQ(p->op, "destroy");
  EXPECT_EQ(p->args["name"], "tap3");
  p = plan_mount({"-o", "unit=3", "-omtu=9000", "/opt/devnp-tap.so"}, &error);
  ASSERT_TRUE(p) << error;
  EXPECT_EQ(p->args, (json{{"path", "/opt/devnp-tap.so"}, {"options", "unit=3,mtu=9000"}}));
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

}  // namespace
}  // namespace pktd::pkt
