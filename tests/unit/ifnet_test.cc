// Interfaces without a runtime: the send queue, the transmit protocol, flags and link state.
#include <gtest/gtest.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#include "base/log.h"
#include "base/thread_identity.h"
#include "net/interfaces.h"
#include "tests/support/wait.h"

namespace pktd::net {
namespace {

// A driver that records what the stack asked of it; start behaves as the seed's sam_start.
struct FakeDriver {
  int inits = 0, starts = 0, stops = 0, detaches = 0;
  int init_error = 0;
  bool hardware_busy = false;  // start leaves packets queued and OACTIVE set
  bool link_lazy = false;      // start leaves packets queued with OACTIVE clear (the mistake)
  bool forget_unlock = false;
  std::vector<std::string> sent;
  // Called for each frame with the transmit lock let go, as the TAP's start does.
  std::function<void()> while_sending;
  std::vector<std::string> events;  // "sent X", "stop", in order (guarded by the transmit lock)

  static FakeDriver& of(void* softc) { return *static_cast<FakeDriver*>(softc); }
  static int init(pktd_ifnet* h, void* sc) {
    auto& d = of(sc);
    ++d.inits;
    if (d.init_error == 0) Ifnet::from(h)->set_driver_flags(PKTD_IFF_RUNNING, 0);
    return d.init_error;
  }
  static void start(pktd_ifnet* h, void* sc) {
    auto& d = of(sc);
    Ifnet* ifp = Ifnet::from(h);
    ++d.starts;
    ifp->set_driver_flags(PKTD_IFF_OACTIVE, 0);
    if (d.hardware_busy) {  // seed: leave OACTIVE set so the stack does not call us again
      if (!d.forget_unlock) ifp->tx_unlock();
      return;
    }
    if (d.link_lazy) {  // seed: "if nothing is done, the driver clears IFF_OACTIVE"
      ifp->set_driver_flags(0, PKTD_IFF_OACTIVE);
      ifp->tx_unlock();
      return;
    }
    while (buf::Mbuf* m = ifp->dequeue()) {
      if (d.while_sending) {
        ifp->tx_unlock();
        d.while_sending();
        ifp->tx_lock();
      }
      d.sent.push_back(buf::to_string(*m));
      d.events.push_back("sent " + d.sent.back());
      buf::Pool::instance().free_chain(m);
    }
    ifp->set_driver_flags(0, PKTD_IFF_OACTIVE);
    if (!d.forget_unlock) ifp->tx_unlock();
  }
  static void stop(pktd_ifnet* h, void* sc, int) {
    ++of(sc).stops;
    Ifnet::from(h)->tx_lock();
    of(sc).events.push_back("stop");
    Ifnet::from(h)->tx_unlock();
    Ifnet::from(h)->set_driver_flags(0, PKTD_IFF_RUNNING | PKTD_IFF_OACTIVE);
  }
  static void detach(pktd_ifnet*, void* sc) { ++of(sc).detaches; }
};
const pktd_if_ops kFakeOps = {FakeDriver::init, FakeDriver::start, FakeDriver::stop, nullptr,
                              FakeDriver::detach};

class IfnetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    register_current_thread(ThreadKind::main, "ifnet-test");
    Ifnet::Config c;
    c.flags = PKTD_IFF_BROADCAST | PKTD_IFF_SIMPLEX | PKTD_IFF_MULTICAST;
    ifs.set_send_queue_len(4);
    c.ops = &kFakeOps;
    c.softc = &drv;
    ifp = ifs.attach("sam", -1, c);
    ASSERT_NE(ifp, nullptr);
  }
  buf::MbufPtr packet(const std::string& text) {
    return buf::packet_from({reinterpret_cast<const std::byte*>(text.data()), text.size()});
  }
  FakeDriver drv;
  // What a FakeHandOff (below) reports to; declared before ifs, which may outlive a test's body.
  bool accept = true, destroyed = false;
  int hands = 0;
  Interfaces ifs;
  Ifnet* ifp = nullptr;
};

TEST_F(IfnetTest, NamesUnitsIndexesAndMacs) {
  EXPECT_EQ(ifp->name(), "sam0");
  Ifnet::Config c;
  Ifnet* second = ifs.attach("sam", -1, c);
  ASSERT_NE(second, nullptr);
  EXPECT_EQ(second->name(), "sam1");
  EXPECT_NE(second->index(), ifp->index());
  EXPECT_NE(second->mac(), ifp->mac());
  EXPECT_EQ(ifp->mac()[0] & 0x03, 0x02);  // locally administered, unicast
  EXPECT_EQ(ifs.attach("sam", 0, c), nullptr);  // taken
  EXPECT_EQ(ifs.attach("bad/name", 0, c), nullptr);
  EXPECT_EQ(ifs.find("sam1"), second);
  EXPECT_EQ(ifs.find(second->index()), second);
}

TEST_F(IfnetTest, DownInterfaceRefusesWithEnetdownAndCounts) {
  EXPECT_FALSE(ifp->up());
  EXPECT_EQ(ifp->output(packet("x")), ENETDOWN);
  EXPECT_EQ(ifp->counters().out_admin_down.load(), 1u);
  EXPECT_EQ(drv.starts, 0);
}

TEST_F(IfnetTest, UpCallsInitAgainOnEveryReconfiguration) {
  ASSERT_EQ(ifp->set_up(true), 0);
  EXPECT_EQ(drv.inits, 1);
  // UP, BROADCAST, RUNNING, SIMPLEX, MULTICAST: what BSD prints as flags=8843<...>.
  EXPECT_EQ(ifp->flags(), PKTD_IFF_UP | PKTD_IFF_BROADCAST | PKTD_IFF_RUNNING | PKTD_IFF_SIMPLEX |
                              PKTD_IFF_MULTICAST);
  EXPECT_EQ(ifp->set_mtu(9000), 0);
  EXPECT_EQ(drv.inits, 2);
  EXPECT_EQ(ifp->mtu(), 9000u);
  EXPECT_EQ(ifp->set_mtu(10), EINVAL);
  drv.init_error = EIO;
  EXPECT_EQ(ifp->set_up(true), EIO);
  EXPECT_FALSE(ifp->up());  // stays down when init fails
}

TEST_F(IfnetTest, OutputStartsTheDriverWhichDrainsTheQueue) {
  ASSERT_EQ(ifp->set_up(true), 0);
  EXPECT_EQ(ifp->output(packet("one")), 0);
  EXPECT_EQ(ifp->output(packet("two")), 0);
  EXPECT_EQ(drv.sent, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(drv.starts, 2);
  EXPECT_EQ(ifp->send_queue_length(), 0u);
}

TEST_F(IfnetTest, StartIsNotCalledWhileOactiveAndAFullQueueGivesEnobufs) {
  ASSERT_EQ(ifp->set_up(true), 0);
  drv.hardware_busy = true;
  for (int i = 0; i < 4; ++i) EXPECT_EQ(ifp->output(packet("p")), 0);
  EXPECT_EQ(drv.starts, 1);  // OACTIVE from the first call on
  EXPECT_EQ(ifp->output(packet("overflow")), ENOBUFS);
  EXPECT_EQ(ifp->counters().out_queue_full.load(), 1u);
  // The driver's restart (its kick callout in the seed): lock, clear busy, start.
  drv.hardware_busy = false;
  ifp->set_driver_flags(0, PKTD_IFF_OACTIVE);
  ifp->tx_lock();
  ifp->start_locked();
  EXPECT_EQ(drv.sent.size(), 4u);
}

TEST_F(IfnetTest, GoingDownPurgesTheQueueAndStopsTheDriver) {
  ASSERT_EQ(ifp->set_up(true), 0);
  drv.hardware_busy = true;
  for (int i = 0; i < 3; ++i) ASSERT_EQ(ifp->output(packet("p")), 0);
  EXPECT_EQ(ifp->set_up(false), 0);
  EXPECT_EQ(ifp->send_queue_length(), 0u);
  EXPECT_EQ(ifp->counters().out_purged.load(), 3u);
  EXPECT_EQ(drv.stops, 1);
  EXPECT_EQ(ifp->flags() & PKTD_IFF_RUNNING, 0u);
}

TEST_F(IfnetTest, AStartThatForgetsToUnlockIsCaughtAndCounted) {
  ASSERT_EQ(ifp->set_up(true), 0);
  drv.forget_unlock = true;
  EXPECT_EQ(ifp->output(packet("p")), 0);
  EXPECT_EQ(ifp->counters().start_lock_leaks.load(), 1u);
  drv.forget_unlock = false;
  EXPECT_EQ(ifp->output(packet("q")), 0);  // would deadlock had the lock stayed held
}

TEST_F(IfnetTest, PacketsLeftQueuedWithNoStartAreReportedOncePerEpisode) {
  constexpr int64_t kMs = 1000000;
  log::Capture logs;
  ASSERT_EQ(ifp->set_up(true), 0);
  ifp->set_link_state(LinkState::up);
  drv.link_lazy = true;
  ASSERT_EQ(ifp->output(packet("a")), 0);
  EXPECT_FALSE(ifp->check_tx_stall(0, 1000 * kMs));
  EXPECT_FALSE(ifp->check_tx_stall(999 * kMs, 1000 * kMs));
  EXPECT_TRUE(ifp->check_tx_stall(1000 * kMs, 1000 * kMs));
  EXPECT_FALSE(ifp->check_tx_stall(5000 * kMs, 1000 * kMs)) << "once per episode";
  EXPECT_EQ(ifp->counters().tx_stalls.load(), 1u);
  EXPECT_NE(logs.text().find("sam0: 1 packets stuck in the send queue"), std::string::npos)
      << logs.text();
  // A start call ends the episode; the queue draining ends the watch.
  drv.link_lazy = false;
  ASSERT_EQ(ifp->output(packet("b")), 0);
  EXPECT_FALSE(ifp->check_tx_stall(9000 * kMs, 1000 * kMs));
  EXPECT_EQ(drv.sent, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(ifp->counters().tx_stalls.load(), 1u);
}

TEST_F(IfnetTest, QueuedPacketsAreNoStallWhileTheLinkIsDownOrTheDriverHoldsOactive) {
  constexpr int64_t kMs = 1000000;
  ASSERT_EQ(ifp->set_up(true), 0);
  ifp->set_link_state(LinkState::down);
  drv.link_lazy = true;
  ASSERT_EQ(ifp->output(packet("a")), 0);
  EXPECT_FALSE(ifp->check_tx_stall(0, kMs));
  EXPECT_FALSE(ifp->check_tx_stall(10 * kMs, kMs)) << "a down link may hold packets";
  ifp->set_link_state(LinkState::up);
  drv.link_lazy = false;
  drv.hardware_busy = true;
  ASSERT_EQ(ifp->output(packet("b")), 0);
  EXPECT_FALSE(ifp->check_tx_stall(20 * kMs, kMs));
  EXPECT_FALSE(ifp->check_tx_stall(30 * kMs, kMs)) << "OACTIVE: the driver has it in hand";
  EXPECT_EQ(ifp->counters().tx_stalls.load(), 0u);
}

TEST_F(IfnetTest, LinkStateIsIndependentOfAdminStateAndCounted) {
  std::vector<LinkState> seen;
  ifp->set_link_handler([&](Ifnet&, LinkState s) { seen.push_back(s); });
  ifp->set_link_state(LinkState::down);
  ifp->set_link_state(LinkState::down);  // no change, not counted
  ASSERT_EQ(ifp->set_up(true), 0);
  EXPECT_TRUE(ifp->up());
  EXPECT_EQ(ifp->link_state(), LinkState::down);
  EXPECT_EQ(ifp->output(packet("queued while the link is down")), 0);
  ifp->set_link_state(LinkState::up);
  EXPECT_EQ(ifp->counters().link_changes.load(), 2u);
  EXPECT_EQ(seen, (std::vector<LinkState>{LinkState::down, LinkState::up}));
}

TEST_F(IfnetTest, InputIsCountedAndDroppedWithAReason) {
  ifp->input(packet("while down"));
  EXPECT_EQ(ifp->counters().in_admin_down.load(), 1u);
  ASSERT_EQ(ifp->set_up(true), 0);
  ifp->input(packet("no handler"));
  EXPECT_EQ(ifp->counters().in_no_handler.load(), 1u);
  std::string got;
  uint32_t rcvif = 0;
  ifp->set_input_handler([&](Ifnet&, buf::MbufPtr m) {
    got = buf::to_string(*m);
    rcvif = m->pkthdr.rcvif;
  });
  ifp->input(packet("frame"));
  EXPECT_EQ(got, "frame");
  EXPECT_EQ(rcvif, ifp->index());
  EXPECT_EQ(ifp->counters().ipackets.load(), 3u);
}

TEST_F(IfnetTest, DestroyStopsAndDetaches) {
  ASSERT_EQ(ifp->set_up(true), 0);
  ifs.destroy(ifp);
  EXPECT_EQ(drv.detaches, 1);
  EXPECT_GE(drv.stops, 1);
  EXPECT_EQ(ifs.find("sam0"), nullptr);
}

// A hand-off that records what it was asked and says yes while `accept` is set; the test runs
// the handed start itself, as the worker would.
struct FakeHandOff final : TransmitHandOff {
  bool* accept;
  int* hands;
  bool* destroyed;
  FakeHandOff(bool* a, int* h, bool* d) : accept(a), hands(h), destroyed(d) {}
  ~FakeHandOff() override { *destroyed = true; }
  bool hand() override {
    ++*hands;
    return *accept;
  }
};

TEST_F(IfnetTest, AHandedStartTakesEveryPacketQueuedUntilItRuns) {
  ifp->set_transmit_hand_off(std::make_unique<FakeHandOff>(&accept, &hands, &destroyed));
  ASSERT_EQ(ifp->set_up(true), 0);
  EXPECT_EQ(ifp->output(packet("one")), 0);
  EXPECT_EQ(ifp->output(packet("two")), 0);  // already handed: queued, nobody asked again
  EXPECT_EQ(hands, 1);
  EXPECT_EQ(drv.starts, 0);
  EXPECT_EQ(ifp->send_queue_length(), 2u);
  EXPECT_FALSE(ifp->run_handed_start());  // nothing left behind
  EXPECT_EQ(drv.sent, (std::vector<std::string>{"one", "two"}));
  EXPECT_EQ(drv.starts, 1);
  // Once it has run the next packet is handed again; refused, start runs right here.
  accept = false;
  EXPECT_EQ(ifp->output(packet("three")), 0);
  EXPECT_EQ(hands, 2);
  EXPECT_EQ(drv.starts, 2);
  EXPECT_EQ(drv.sent.back(), "three");
}

// A device busy for a moment under a handed start: the driver leaves the frame queued with
// OACTIVE clear and arms nothing (frame_start.h, off the stack), and the worker is told so that
// it can restart start in the stack context.
TEST_F(IfnetTest, AHandedStartThatLeavesPacketsBehindSaysSo) {
  ifp->set_transmit_hand_off(std::make_unique<FakeHandOff>(&accept, &hands, &destroyed));
  ASSERT_EQ(ifp->set_up(true), 0);
  EXPECT_EQ(ifp->output(packet("stuck")), 0);
  drv.link_lazy = true;
  EXPECT_TRUE(ifp->run_handed_start());
  EXPECT_EQ(ifp->send_queue_length(), 1u);
  drv.link_lazy = false;
  ifp->tx_lock();  // the restart in the stack context
  ifp->start_locked();
  EXPECT_EQ(drv.sent, (std::vector<std::string>{"stuck"}));
}

// Going down while a handed start sends (its lock let go): stop comes only after that start,
// as the seed's sam_stop waits for OACTIVE, so it never clears OACTIVE under a running start.
TEST_F(IfnetTest, GoingDownWaitsForAHandedStartStillSending) {
  ifp->set_transmit_hand_off(std::make_unique<FakeHandOff>(&accept, &hands, &destroyed));
  ASSERT_EQ(ifp->set_up(true), 0);
  std::atomic<bool> sending{false}, release{false};
  drv.while_sending = [&] {
    sending = true;
    while (!release.load()) std::this_thread::yield();
  };
  EXPECT_EQ(ifp->output(packet("in flight")), 0);
  std::thread worker([&] {
    register_current_thread(ThreadKind::worker, "ifnet-test-worker");
    ifp->run_handed_start();
  });
  ASSERT_TRUE(test::eventually([&] { return sending.load(); }));
  std::thread down([&] { ifp->set_up(false); });
  ASSERT_TRUE(test::eventually([&] { return !ifp->up(); }));
  // Time for a set_up that does not wait to reach stop (it would within microseconds).
  for (int i = 0; i < 200000; ++i) std::this_thread::yield();
  release = true;
  worker.join();
  down.join();
  EXPECT_EQ(drv.events, (std::vector<std::string>{"sent in flight", "stop"}));
}

// A burst while a handed start writes slowly: the stack waits for it past the backlog instead
// of overflowing the queue (4 here) into ENOBUFS, and everything goes, in order.
TEST_F(IfnetTest, ABurstBehindAHandedStartWaitsInsteadOfOverflowingTheQueue) {
  ifp->set_transmit_hand_off(std::make_unique<FakeHandOff>(&accept, &hands, &destroyed));
  ASSERT_EQ(ifp->set_up(true), 0);
  std::atomic<bool> sending{false}, burst{false};
  drv.while_sending = [&] {
    sending = true;
    while (!burst.load()) std::this_thread::yield();  // the first frame waits for the burst
    const auto until = std::chrono::steady_clock::now() + std::chrono::microseconds(200);
    while (std::chrono::steady_clock::now() < until) std::this_thread::yield();
  };
  EXPECT_EQ(ifp->output(packet("p0")), 0);
  accept = false;  // once it has finished, start runs in the caller
  std::thread worker([&] {
    register_current_thread(ThreadKind::worker, "ifnet-test-worker");
    ifp->run_handed_start();
  });
  ASSERT_TRUE(test::eventually([&] { return sending.load(); }));
  std::vector<std::string> want{"p0"};
  burst = true;
  for (int i = 1; i < 12; ++i) {
    want.push_back("p" + std::to_string(i));
    EXPECT_EQ(ifp->output(packet(want.back())), 0) << i;
  }
  worker.join();
  EXPECT_EQ(ifp->counters().out_queue_full.load(), 0u);
  EXPECT_EQ(drv.sent, want);
}

TEST_F(IfnetTest, OactiveKeepsPacketsFromBeingHanded) {
  ifp->set_transmit_hand_off(std::make_unique<FakeHandOff>(&accept, &hands, &destroyed));
  ASSERT_EQ(ifp->set_up(true), 0);
  ifp->set_driver_flags(PKTD_IFF_OACTIVE, 0);  // a start (or its kick) is under way
  EXPECT_EQ(ifp->output(packet("x")), 0);
  EXPECT_EQ(hands, 0);
  EXPECT_EQ(drv.starts, 0);
  EXPECT_EQ(ifp->send_queue_length(), 1u);
}

TEST_F(IfnetTest, EndingTheHandOffRunsAStartStillPendingAndDestroyEndsIt) {
  ifp->set_transmit_hand_off(std::make_unique<FakeHandOff>(&accept, &hands, &destroyed));
  ASSERT_EQ(ifp->set_up(true), 0);
  EXPECT_EQ(ifp->output(packet("late")), 0);
  ifp->end_transmit_hand_off();  // the worker will not run it now: sent here instead
  EXPECT_TRUE(destroyed);
  EXPECT_EQ(drv.sent, (std::vector<std::string>{"late"}));
  EXPECT_EQ(ifp->output(packet("after")), 0);  // no hand-off any more
  EXPECT_EQ(drv.sent.back(), "after");

  destroyed = false;
  ifp->set_transmit_hand_off(std::make_unique<FakeHandOff>(&accept, &hands, &destroyed));
  ifs.destroy(ifp);  // before stop and detach
  EXPECT_TRUE(destroyed);
  EXPECT_EQ(drv.detaches, 1);
}

TEST(Loopback, WhatLo0SendsItReceives) {
  register_current_thread(ThreadKind::main, "ifnet-test");
  Interfaces ifs;
  Ifnet* lo = attach_loopback(ifs);
  ASSERT_NE(lo, nullptr);
  EXPECT_EQ(lo->name(), "lo0");
  EXPECT_TRUE(lo->up());
  EXPECT_EQ(lo->link_state(), LinkState::up);
  EXPECT_NE(lo->flags() & PKTD_IFF_LOOPBACK, 0u);
  std::vector<std::string> got;
  lo->set_input_handler([&](Ifnet& ifp, buf::MbufPtr m) {
    got.push_back(buf::to_string(*m));
    if (got.size() == 1) {  // answering from the input path must not deadlock
      std::string reply = "reply";
      ifp.output(buf::packet_from({reinterpret_cast<const std::byte*>(reply.data()), reply.size()}));
    }
  });
  std::string text = "hello";
  ASSERT_EQ(lo->output(buf::packet_from({reinterpret_cast<const std::byte*>(text.data()), text.size()})), 0);
  EXPECT_EQ(got, (std::vector<std::string>{"hello", "reply"}));
  EXPECT_EQ(lo->counters().opackets.load(), 2u);
}

}  // namespace
}  // namespace pktd::net
