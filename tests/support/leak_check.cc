// Linked into every unit-test binary: after each test, no packet buffer may still be in use.
// A test that leaks an mbuf or a cluster fails with the pool's own description of what is left.
#include <gtest/gtest.h>

#include <string>

#include "buf/mbuf.h"

namespace pktd::test {
namespace {

class BufferLeakCheck : public ::testing::EmptyTestEventListener {
  void OnTestEnd(const ::testing::TestInfo& info) override {
    std::string report;
    if (!buf::Pool::instance().check_no_leaks(&report))
      ADD_FAILURE() << info.test_suite_name() << "." << info.name()
                    << " left packet buffers in use: " << report;
  }
};

const bool registered = [] {
  ::testing::UnitTest::GetInstance()->listeners().Append(new BufferLeakCheck);
  return true;
}();

}  // namespace
}  // namespace pktd::test
