// devnp-sam.so between two real IPv4 stacks in one process: the real runtime, the real driver
// loader and host table, two inet::Stacks each with its own interfaces, and one sam cable whose
// ends the two stacks attach (cable=NAME). What crosses it is a ping flood or a UDP stream, so
// the seed's transmit patterns are checked by what arrives: a link flap, descriptors running out
// or a stale queue must lose nothing the pattern keeps, and drop (counted) what it purges.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "base/log.h"
#include "daemon/drivers.h"
#include "daemon/stack_env.h"
#include "inet/stack.h"
#include "runtime/runtime.h"

namespace pktd {
namespace {

using namespace std::chrono_literals;
using inet::UdpEndpoint;
using wire::Ipv4Address;

const std::string kDir = SAM_DRIVER_DIR;
constexpr Ipv4Address kAddrA{0xc6120001};  // 198.18.0.1
constexpr Ipv4Address kAddrB{0xc6120002};  // 198.18.0.2
constexpr uint16_t kEchoId = 0x5a3;
constexpr uint16_t kUdpPort = 7000;
constexpr size_t kFloodWindow = 128;

std::string unique_cable() {
  static int n = 0;
  return "t" + std::to_string(getpid()) + "-" + std::to_string(++n);
}

// One side: its interfaces, driver manager and stack.
struct Side {
  Side(rt::Runtime& rt, uint32_t mac_seed) : drivers(rt, ifs, {kDir}) { ifs.set_mac_seed(mac_seed); }
  net::Interfaces ifs;
  net::DriverManager drivers;
  std::optional<inet::Stack> stack;
  net::Ifnet* sam = nullptr;
};

class TwoStacksOverSam : public ::testing::Test {
 protected:
  TwoStacksOverSam() : rt_(config()), env_(rt_), a_(rt_, 1), b_(rt_, 2) { rt_.start(); }
  ~TwoStacksOverSam() override {
    in_stack([&] {
      for (Side* s : {&a_, &b_}) {
        s->drivers.unload_all();
        if (s->stack) s->stack->shutdown();
      }
    });
    rt_.stop();
  }
  static rt::RuntimeConfig config() {
    rt::RuntimeConfig c;
    c.workers = 2;
    c.stack_watchdog = 0ms;  // sanitizer builds are slow; the watchdog has its own tests
    return c;
  }

  // Runs every fn on its own pseudo-thread (they may sleep) while this thread serves blockops;
  // returns when all are done.
  void in_stack(std::vector<std::function<void()>> fns) {
    auto left = std::make_shared<size_t>(fns.size());
    for (auto& fn : fns)
      rt_.spawn([this, fn, left] {
        fn();
        if (--*left == 0) rt_.request_stop();
      });
    rt_.run_main();
  }
  void in_stack(std::function<void()> fn) { in_stack(std::vector<std::function<void()>>{fn}); }

  // Both ends of one cable, addressed 198.18.0.1/24 and .2/24, ARP resolved both ways.
  void connect(const std::string& options = "") {
    std::string cable = "cable=" + unique_cable() + (options.empty() ? "" : "," + options);
    in_stack([&] {
      for (auto [side, addr] : {std::pair{&a_, kAddrA}, std::pair{&b_, kAddrB}}) {
        side->stack.emplace(env_, side->ifs);
        net::attach_loopback(side->ifs);
        auto r = side->drivers.load("sam", cable);
        ASSERT_EQ(r.error.code, 0) << r.error.message;
        side->sam = side->ifs.find(r.value.at(0));
        ASSERT_NE(side->sam, nullptr);
        ASSERT_EQ(side->sam->set_up(true), 0);
        ASSERT_EQ(side->stack->add_address(side->sam->index(), {addr, 24}, false), 0);
      }
    });
    ASSERT_EQ(ping_flood(1, {}), 1u) << "the first ping resolves ARP both ways";
  }

  // Driver request, as pkt nicinfo IF WORDS sends it. Stack context.
  std::string request(Side& s, const char* text, int* err = nullptr) {
    char reply[1024] = {};
    int e = s.sam->ops()->ioctl(s.sam->handle(), s.sam->softc(), text, reply, sizeof reply);
    if (err != nullptr) *err = e;
    return reply;
  }
  // Sleeps the calling pseudo-thread.
  void pause(std::chrono::milliseconds d) { rt_.tsleep(&rt_, static_cast<uint32_t>(d.count())); }

  // Waits (at most 5 s) until A's interface reports the link state. Stack context.
  void wait_for_link(net::LinkState state) {
    for (int i = 0; i < 500 && a_.sam->link_state() != state; ++i) pause(10ms);
    EXPECT_EQ(a_.sam->link_state(), state);
  }

  // Pulls and plugs the cable `flaps` times while the traffic runs, each change seen by the
  // driver before the next. Stack context.
  std::function<void()> flapper(int flaps) {
    return [this, flaps] {
      for (int i = 0; i < flaps; ++i) {
        pause(3ms);
        request(a_, "link down");
        wait_for_link(net::LinkState::down);
        pause(10ms);
        request(a_, "link up");
        wait_for_link(net::LinkState::up);
      }
    };
  }

  // Sends `count` echo requests A -> B (retrying what the send queue refused with ENOBUFS:
  // the sender is told, nothing is lost), at most kFloodWindow unanswered at a time as ping -f
  // does, and waits for the replies. Returns how many came.
  size_t ping_flood(int count, std::vector<std::function<void()>> meanwhile) {
    std::set<uint16_t> replies;
    size_t duplicates = 0;
    meanwhile.push_back([&] {
      a_.stack->listen_echo(kEchoId, [&](const inet::EchoEvent& e) {
        if (e.error) return;
        if (!replies.insert(e.sequence).second) ++duplicates;
        rt_.wakeup(&replies);
      });
      for (int seq = 1; seq <= count; ++seq) {
        int err = 0;
        while ((err = a_.stack->send_echo(kAddrB, kEchoId, static_cast<uint16_t>(seq), 56, 64)) ==
               ENOBUFS)
          pause(1ms);
        EXPECT_EQ(err, 0) << "echo " << seq;
        // B answers each request: more outstanding than its send queue and ring hold could
        // drop replies there, which is B's business, not the link's.
        for (int i = 0; i < 5000 && static_cast<size_t>(seq) - replies.size() >= kFloodWindow; ++i)
          rt_.tsleep(&replies, 1);
        if (seq % 32 == 0) pause(1ms);  // let the receive side run, as a real flood would
      }
      for (int i = 0; i < 200 && replies.size() < static_cast<size_t>(count); ++i)
        rt_.tsleep(&replies, 100);
      a_.stack->unlisten_echo(kEchoId);
    });
    in_stack(meanwhile);
    EXPECT_EQ(duplicates, 0u);
    return replies.size();
  }

  // Sends `count` numbered datagrams A -> B; returns the numbers B received, in arrival order,
  // once `expect` (default: count) have come or 10 s have passed.
  std::vector<int> udp_stream(int count, std::vector<std::function<void()>> meanwhile,
                              std::function<void(int)> after_each = nullptr, size_t expect = 0) {
    if (expect == 0) expect = static_cast<size_t>(count);
    std::vector<int> got;
    auto sock = std::make_shared<inet::UdpSocket>();
    meanwhile.push_back([&] {
      sock->on_readable = [&] {
        inet::ReceivedDatagram d;
        while (sock->pop(&d)) got.push_back(std::stoi(d.data));
        rt_.wakeup(&got);
      };
      ASSERT_EQ(b_.stack->udp().bind(sock, {Ipv4Address{}, kUdpPort}), 0);
      for (int i = 1; i <= count; ++i) {
        std::string text = std::to_string(i);
        std::span<const std::byte> data{reinterpret_cast<const std::byte*>(text.data()), text.size()};
        int err = 0;
        while ((err = a_.stack->udp_output({kAddrA, 5000}, {kAddrB, kUdpPort}, data)) == ENOBUFS)
          pause(1ms);
        EXPECT_EQ(err, 0) << "datagram " << i;
        if (after_each) after_each(i);
        if (i % 32 == 0) pause(1ms);
      }
      // Until the count is reached and the last datagram is in (a datagram lost on the way must
      // not end the wait early while later ones are still coming).
      auto done = [&] { return got.size() >= expect && !got.empty() && got.back() == count; };
      for (int i = 0; i < 100 && !done(); ++i) rt_.tsleep(&got, 100);
      b_.stack->udp().unbind(sock);
    });
    in_stack(meanwhile);
    return got;
  }

  static std::vector<int> one_to(int n) {
    std::vector<int> v;
    for (int i = 1; i <= n; ++i) v.push_back(i);
    return v;
  }

  rt::Runtime rt_;
  daemon::RuntimeEnv env_;
  Side a_, b_;
  log::Capture log_;
};

TEST_F(TwoStacksOverSam, APingFloodAcrossLinkFlapsLosesNothing) {
  connect();
  EXPECT_EQ(ping_flood(3000, {flapper(8)}), 3000u);
  std::string status;
  in_stack([&] { status = request(a_, "status"); });
  // Down at attach (no partner yet), up when B attached, then 8 flaps.
  EXPECT_EQ(a_.sam->counters().link_changes.load(), 2u + 2u * 8u);
  EXPECT_NE(status.find("link up"), std::string::npos) << status;
  EXPECT_EQ(status.find("link restarts 0"), std::string::npos) << "restarted on link up: " << status;
}

TEST_F(TwoStacksOverSam, AUdpStreamAcrossLinkFlapsArrivesWholeAndInOrder) {
  connect();
  EXPECT_EQ(udp_stream(3000, {flapper(8)}), one_to(3000));
}

// TCP between two whole stacks in one process over the sam cable (descriptor rings, the engine
// thread, interrupts), with the cable pulled and plugged during the transfer: 4 MiB arrive intact.
TEST_F(TwoStacksOverSam, TcpCarriesFourMebibytesIntactThroughLinkFlaps) {
  connect("");
  constexpr size_t kBytes = 4 << 20;
  auto octet = [](size_t i) { return static_cast<std::byte>((i * 7 + (i >> 10)) & 0xFF); };
  std::shared_ptr<tcp::Connection> client, server;
  std::shared_ptr<tcp::Listener> listener;
  size_t sent = 0, got = 0;
  bool intact = true;
  in_stack({flapper(4), [&] {
    std::shared_ptr<tcp::Binding> bound;
    ASSERT_EQ(b_.stack->tcp().bind(kAddrB, 8080, tcp::Binding{}, &bound), 0);
    ASSERT_EQ(b_.stack->tcp().listen(bound, 4, &listener), 0);
    listener->on_acceptable = [&] { server = listener->accept(); };
    ASSERT_EQ(a_.stack->tcp().connect(nullptr, kAddrB, 8080, {}, rt_.clock().now(), &client), 0);
    std::vector<std::byte> chunk(65536);
    for (int i = 0; i < 3000 && got < kBytes; ++i) {
      const auto now = rt_.clock().now();
      while (sent < kBytes && client->send_room() > 0) {
        const size_t n = std::min({chunk.size(), kBytes - sent, client->send_room()});
        for (size_t k = 0; k < n; ++k) chunk[k] = octet(sent + k);
        sent += client->send(std::span<const std::byte>(chunk).first(n), now);
      }
      while (server && server->received_size() > 0) {
        auto r = server->received();
        for (size_t k = 0; k < r.size(); ++k) intact &= r[k] == octet(got + k);
        got += r.size();
        server->consume(r.size(), now);
      }
      pause(1ms);
    }
    client->close(rt_.clock().now());
    listener->close(rt_.clock().now());
  }});
  EXPECT_EQ(got, kBytes);
  EXPECT_TRUE(intact);
}

TEST_F(TwoStacksOverSam, TransmitDescriptorsRunOutThenTheKickCarriesOn) {
  connect("txd=8");
  std::string held;
  std::vector<int> got = udp_stream(200, {}, [&](int i) {
    if (i == 1) request(a_, "txhold");
    if (i == 100) {
      held = request(a_, "status");
      request(a_, "txresume");
    }
  });
  EXPECT_EQ(got, one_to(200));
  EXPECT_NE(held.find("8 in flight, engine held, waiting for descriptors"), std::string::npos)
      << held;
  // TX-done only reclaims: after the resume, the kick callout is what restarted transmission.
  std::string status;
  in_stack([&] { status = request(a_, "status"); });
  EXPECT_EQ(status.find("kicks 0,"), std::string::npos) << status;
}

TEST_F(TwoStacksOverSam, AResetTakesTheRingsBackUnderQuiesceAndTrafficGoesOn) {
  connect("txd=8");
  std::string held, after;
  std::vector<int> got = udp_stream(40, {}, [&](int i) {
    if (i == 1) request(a_, "txhold");
    if (i == 20) {
      held = request(a_, "status");
      request(a_, "reset");  // the 8 datagrams in the held descriptors are lost, and counted
      request(a_, "txresume");
    }
  }, 32);
  EXPECT_NE(held.find("8 in flight, engine held"), std::string::npos) << held;
  // What the reset took is lost and counted; nothing else is lost. Usually 8 of the 40, but on a
  // loaded machine the engine may finish one descriptor between the hold and the reset.
  const uint64_t lost = a_.sam->counters().oerrors.load();
  EXPECT_GE(lost, 7u);
  EXPECT_LE(lost, 8u);
  EXPECT_EQ(got.size() + lost, 40u);
  EXPECT_TRUE(std::is_sorted(got.begin(), got.end()));
  EXPECT_EQ(got.back(), 40);
}

TEST_F(TwoStacksOverSam, AQueueWithoutProgressIsPurgedAfterStaleMsAndTrafficResumes) {
  connect("stale=300");
  uint64_t purged_before = a_.sam->counters().out_purged.load();
  in_stack([&] {
    request(a_, "link down");
    for (int i = 0; i < 20; ++i) {
      std::string text = std::to_string(i);
      std::span<const std::byte> data{reinterpret_cast<const std::byte*>(text.data()), text.size()};
      ASSERT_EQ(a_.stack->udp_output({kAddrA, 5000}, {kAddrB, kUdpPort}, data), 0);
    }
    for (int i = 0; i < 100 && a_.sam->counters().out_purged.load() == purged_before; ++i)
      pause(20ms);
  });
  EXPECT_EQ(a_.sam->counters().out_purged.load() - purged_before, 20u);
  EXPECT_TRUE(log_.contains({"sam0: no transmit progress for 300 ms (link down): send queue purged"}));
  in_stack([&] { request(a_, "link up"); });
  EXPECT_EQ(udp_stream(50, {}), one_to(50));
}

TEST_F(TwoStacksOverSam, WithoutTheLinkUpRestartPacketsStayQueuedAndTheStallCheckNamesIt) {
  connect("mistake=no-restart");
  in_stack([&] {
    request(a_, "link down");
    for (int i = 1; i <= 5; ++i) {
      std::string text = std::to_string(i);
      std::span<const std::byte> data{reinterpret_cast<const std::byte*>(text.data()), text.size()};
      ASSERT_EQ(a_.stack->udp_output({kAddrA, 5000}, {kAddrB, kUdpPort}, data), 0);
    }
    request(a_, "link up");
    for (int i = 0; i < 100 && a_.sam->link_state() != net::LinkState::up; ++i) pause(10ms);
    pause(50ms);  // time for a restart that (by mistake) never comes
  });
  EXPECT_EQ(a_.sam->link_state(), net::LinkState::up);
  EXPECT_EQ(a_.sam->send_queue_length(), 5u) << "nothing restarted transmission";
  bool reported = false;
  in_stack([&] {
    a_.sam->check_tx_stall(0, 100'000'000);
    reported = a_.sam->check_tx_stall(100'000'000, 100'000'000);
  });
  EXPECT_TRUE(reported);
  EXPECT_TRUE(log_.contains({"sam0: 5 packets stuck in the send queue"}));
  // The stack's next packet calls start, which sends everything at last (seed: "if_start()
  // will not be called again until there's another packet to be sent").
  EXPECT_EQ(udp_stream(1, {}, nullptr, 6), (std::vector<int>{1, 2, 3, 4, 5, 1}));
  EXPECT_EQ(a_.sam->send_queue_length(), 0u);
}

TEST_F(TwoStacksOverSam, DestroyingBothEndsUnderAFloodIsClean) {
  connect();
  std::atomic<bool> stop{false};
  in_stack({[&] {
              for (int seq = 1; !stop.load(); ++seq) {
                a_.stack->send_echo(kAddrB, kEchoId, static_cast<uint16_t>(seq), 1000, 64);
                if (seq % 16 == 0) pause(1ms);
              }
            },
            [&] {
              pause(50ms);
              EXPECT_EQ(b_.drivers.destroy("sam0").code, 0);
              pause(20ms);
              EXPECT_EQ(a_.drivers.destroy("sam0").code, 0);
              stop = true;
            }});
  EXPECT_EQ(a_.ifs.find("sam0"), nullptr);
  EXPECT_EQ(b_.ifs.find("sam0"), nullptr);
}

TEST_F(TwoStacksOverSam, AThirdEndIsRefusedAndAnEndThatGoesTakesThePartnersLinkDown) {
  connect();
  std::string cable = a_.drivers.driver_of(a_.sam)->options;
  net::Interfaces third_ifs;
  net::DriverManager third(rt_, third_ifs, {kDir});
  in_stack([&] {
    auto r = third.load("sam", cable);
    EXPECT_EQ(r.error.code, EBUSY) << r.error.message;
    EXPECT_TRUE(log_.contains({"has both its ends attached already"}));
    EXPECT_EQ(b_.drivers.destroy("sam0").code, 0);
    for (int i = 0; i < 100 && a_.sam->link_state() != net::LinkState::down; ++i) pause(10ms);
    EXPECT_EQ(a_.sam->link_state(), net::LinkState::down);
    // The end is free again: a new attach takes it and the link comes back.
    r = third.load("sam", cable);
    EXPECT_EQ(r.error.code, 0) << r.error.message;
    for (int i = 0; i < 100 && a_.sam->link_state() != net::LinkState::up; ++i) pause(10ms);
    EXPECT_EQ(a_.sam->link_state(), net::LinkState::up);
  });
  // Traffic over the end taken again: nothing of the previous driver's rings is left in the way.
  net::Ifnet* again = third_ifs.find("sam0");
  ASSERT_NE(again, nullptr);
  uint64_t received = again->counters().ipackets.load();
  in_stack([&] {
    for (int i = 0; i < 20; ++i) a_.stack->send_echo(kAddrB, kEchoId, 1, 56, 64);  // ARP, then echoes
    for (int i = 0; i < 200 && again->counters().ipackets.load() < received + 20; ++i)
      pause(10ms);
  });
  EXPECT_GE(again->counters().ipackets.load(), received + 20);
  EXPECT_EQ(again->counters().iqdrops.load(), 0u);
  in_stack([&] { third.unload_all(); });
}

}  // namespace
}  // namespace pktd
