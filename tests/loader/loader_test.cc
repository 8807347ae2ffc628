// The driver loader against real shared objects: finding, checking, attaching, unloading.
#include <gtest/gtest.h>
#include <dirent.h>
#include <dlfcn.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>

#include "base/log.h"
#include "daemon/drivers.h"
#include "runtime/runtime.h"

namespace pktd::net {
namespace {

const std::string kDir = LOADER_DRIVER_DIR;

size_t open_fds() {
  size_t n = 0;
  for ([[maybe_unused]] auto& e : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
  return n;
}

bool loaded(const std::string& path) {
  void* h = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD);
  if (h == nullptr) return false;
  dlclose(h);
  return true;
}

class LoaderTest : public ::testing::Test {
 protected:
  LoaderTest() : rt_(config()), drivers_(rt_, ifs_, {kDir}) { rt_.start(); }
  ~LoaderTest() override {
    in_stack([&] { drivers_.unload_all(); });
    rt_.stop();
  }
  static rt::RuntimeConfig config() {
    rt::RuntimeConfig c;
    c.workers = 2;
    c.quiesce_timeout = std::chrono::milliseconds(20);  // a reap gives up after 5 of these
    return c;
  }
  // Runs fn on a pseudo-thread while this (the main) thread serves its blockops.
  template <typename Fn>
  void in_stack(Fn fn) {
    rt_.spawn([&] {
      fn();
      rt_.request_stop();
    });
    rt_.run_main();
  }
  ctl::Result<std::vector<std::string>> load(const std::string& what, const std::string& opts = "") {
    ctl::Result<std::vector<std::string>> r;
    in_stack([&] { r = drivers_.load(what, opts); });
    return r;
  }
  ctl::Error destroy(const std::string& ifname) {
    ctl::Error e;
    in_stack([&] { e = drivers_.destroy(ifname); });
    return e;
  }

  rt::Runtime rt_;
  Interfaces ifs_;
  DriverManager drivers_;
  log::Capture log_;
};

TEST_F(LoaderTest, LoadsByNameFromTheDriverPathAndUnloadsWithTheLastInterface) {
  auto r = load("testnic", "count=2");
  ASSERT_EQ(r.error.code, 0) << r.error.message;
  EXPECT_EQ(r.value, (std::vector<std::string>{"tn0", "tn1"}));
  std::string so = kDir + "/devnp-testnic.so";
  EXPECT_TRUE(loaded(so));
  EXPECT_EQ(destroy("tn0").code, 0);
  EXPECT_TRUE(loaded(so));  // tn1 still uses it
  EXPECT_EQ(destroy("tn1").code, 0);
  EXPECT_FALSE(loaded(so));
  EXPECT_EQ(ifs_.size(), 0u);
}

TEST_F(LoaderTest, AnObjectWhoseThreadWouldNotDieStaysLoadedUntilTheThreadIsGone) {
  std::string so = kDir + "/devnp-testnic.so";
  auto r = load("testnic", "stuck");
  ASSERT_EQ(r.error.code, 0) << r.error.message;
  void* h = dlopen(so.c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(h, nullptr);
  auto release = reinterpret_cast<void (*)()>(dlsym(h, "testnic_release_stuck"));
  ASSERT_NE(release, nullptr);
  EXPECT_EQ(destroy("tn0").code, 0);
  // The reap timed out: unmapping the object now would pull the code from under the thread.
  EXPECT_TRUE(log_.contains({"driver testnic", "stays loaded", "'tn stuck' did not exit"}));
  EXPECT_TRUE(loaded(so));
  release();
  dlclose(h);
  for (int i = 0; i < 500 && !rt_.live_thread_code().empty(); ++i) usleep(2000);
  ASSERT_TRUE(rt_.live_thread_code().empty());
  in_stack([&] { drivers_.unload_all(); });  // closes what lingered
  EXPECT_FALSE(loaded(so));
}

TEST_F(LoaderTest, CommonOptionsAreTheStacksAndTheRestGoesToTheDriver) {
  auto r = load(kDir + "/devnp-testnic.so", "name=lan,unit=7,mac=02:11:22:33:44:55,mtu=9000,speed=10,promisc");
  ASSERT_EQ(r.error.code, 0) << r.error.message;
  ASSERT_EQ(r.value, (std::vector<std::string>{"lan7"}));
  Ifnet* ifp = ifs_.find("lan7");
  ASSERT_NE(ifp, nullptr);
  EXPECT_EQ(format_mac(ifp->mac()), "02:11:22:33:44:55");
  EXPECT_EQ(ifp->mtu(), 9000u);
  void* h = dlopen((kDir + "/devnp-testnic.so").c_str(), RTLD_NOW | RTLD_NOLOAD);
  ASSERT_NE(h, nullptr);
  auto last = reinterpret_cast<const char* (*)()>(dlsym(h, "testnic_last_options"));
  EXPECT_STREQ(last(), "speed=10,promisc");
  dlclose(h);
  EXPECT_EQ(destroy("lan7").code, 0);
}

TEST_F(LoaderTest, EveryFailureSaysWhyAndLeavesNothingBehind) {
  size_t fds = open_fds();
  struct Case {
    std::string what, options, says;
  } cases[] = {
      {"nosuchdriver", "", "devnp-nosuchdriver.so not found"},
      {"/nonexistent/devnp-x.so", "", "No such file"},
      {"noentry", "", "not a pktd driver"},
      {"badabi", "", "built for driver ABI 99"},
      {"testnic", "fail", "attach failed"},
      {"testnic", "mac=ff:ff:ff:ff:ff:ff", "mac=ff:ff:ff:ff:ff:ff"},
      {"testnic", "mtu=12", "mtu=12"},
      {"testnic", "unit=x", "unit=x"},
  };
  for (const auto& c : cases) {
    auto r = load(c.what, c.options);
    EXPECT_NE(r.error.code, 0) << c.what;
    EXPECT_NE(r.error.message.find(c.says), std::string::npos) << r.error.message;
    EXPECT_TRUE(log_.contains({c.says})) << c.says;  // in the log too
  }
  EXPECT_EQ(ifs_.size(), 0u);
  EXPECT_FALSE(loaded(kDir + "/devnp-testnic.so"));
  EXPECT_FALSE(loaded(kDir + "/devnp-badabi.so"));
  EXPECT_EQ(open_fds(), fds);
}

TEST_F(LoaderTest, ADriverDirectoryWritableByOthersIsRefused) {
  std::string dir = "/tmp/pktd-unsafe-" + std::to_string(getpid());
  std::filesystem::create_directory(dir);
  std::filesystem::copy_file(kDir + "/devnp-testnic.so", dir + "/devnp-testnic.so");
  chmod(dir.c_str(), 0777);
  auto r = load(dir + "/devnp-testnic.so");
  EXPECT_EQ(r.error.code, ENOENT);
  EXPECT_NE(r.error.message.find("writable by other users"), std::string::npos) << r.error.message;
  std::filesystem::remove_all(dir);
}

TEST_F(LoaderTest, BuiltInAndUnknownInterfacesCannotBeDestroyed) {
  in_stack([&] { attach_loopback(ifs_); });
  EXPECT_EQ(destroy("lo0").code, EPERM);
  EXPECT_EQ(destroy("nope0").code, ENXIO);
}

TEST_F(LoaderTest, ADriverThatAsksToStayResidentIsNotUnloaded) {
  auto r = load("resident");
  ASSERT_EQ(r.error.code, 0) << r.error.message;
  EXPECT_EQ(destroy(r.value.at(0)).code, 0);
  EXPECT_TRUE(loaded(kDir + "/devnp-resident.so"));
  EXPECT_TRUE(log_.contains({"stays resident"}));
}

TEST_F(LoaderTest, HundredLoadUnloadCyclesLeakNothing) {
  size_t fds = open_fds();
  for (int i = 0; i < 100; ++i) {
    auto r = load("testnic");
    ASSERT_EQ(r.error.code, 0) << r.error.message;
    ASSERT_EQ(destroy(r.value.at(0)).code, 0);
  }
  EXPECT_EQ(open_fds(), fds);
  EXPECT_FALSE(loaded(kDir + "/devnp-testnic.so"));
}

}  // namespace
}  // namespace pktd::net
