#include <gtest/gtest.h>

#include <thread>

#include "base/log.h"
#include "base/thread_identity.h"

namespace pktd {
namespace {

TEST(Log, CaptureSeesLinesAtOrAboveLevel) {
  log::Capture capture;
  log::set_level(log::Level::info);
  PKTD_LOG_ERR("thread %s did %d things", "sam0", 3);
  PKTD_LOG_DEBUG("hidden %d", 1);
  EXPECT_TRUE(capture.contains({"error", "sam0", "3 things"}));
  EXPECT_FALSE(capture.contains({"hidden"}));
}

TEST(ThreadIdentity, NewThreadIsUntrackedUntilRegistered) {
  ThreadKind before = ThreadKind::main, after = ThreadKind::main;
  std::string name;
  std::thread t([&] {
    before = current_thread_kind();
    register_current_thread(ThreadKind::tracked, "a-very-long-thread-name");
    after = current_thread_kind();
    name = current_thread_name();
  });
  t.join();
  EXPECT_EQ(before, ThreadKind::untracked);
  EXPECT_EQ(after, ThreadKind::tracked);
  EXPECT_EQ(name, "a-very-long-thr");  // the kernel keeps 15 bytes
}

}  // namespace
}  // namespace pktd
