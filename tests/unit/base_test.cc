#include <gtest/gtest.h>

#include <thread>

#include "base/log.h"
#include "base/siphash.h"
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

// The reference vector of the SipHash paper (appendix A): key 00 01 .. 0f, message 00 01 .. 0e.
TEST(SipHash, ReferenceVector) {
  pktd::SipKey key{0x0706050403020100ULL, 0x0F0E0D0C0B0A0908ULL};
  std::byte message[15];
  for (int i = 0; i < 15; ++i) message[i] = static_cast<std::byte>(i);
  EXPECT_EQ(pktd::siphash24(key, message), 0xA129CA6149BE45E5ULL);
  EXPECT_NE(pktd::siphash24(key, std::span(message).first(14)), 0xA129CA6149BE45E5ULL);
}
