// Waiting on conditions in tests: poll a predicate until it holds or a generous deadline passes.
// The deadline only bounds a failing test; a passing test returns as soon as the condition holds.
#pragma once

#include <chrono>
#include <thread>

namespace pktd::test {

template <typename Pred>
bool eventually(Pred pred, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  auto deadline = std::chrono::steady_clock::now() + limit;
  while (!pred()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

}  // namespace pktd::test
