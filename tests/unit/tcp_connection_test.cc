// TCP connections end to end: two TCP layers over a simulated network with a fake clock
// (tcp_net.h), so every transition, timer and recovery runs without sleeping.
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <set>
#include <string>

#include "tcp_net.h"

namespace pktd::tcp {
namespace {

using testing::Faults;
using testing::SimNet;
using namespace std::chrono_literals;

constexpr std::uint16_t kPort = 80;

// A deterministic stream: octet i of stream `tag`.
std::byte pattern(std::size_t i, std::uint8_t tag) {
  return static_cast<std::byte>((i * 131 + (i >> 8) * 7 + tag) & 0xFF);
}

// One application end: writes `to_send` octets of its pattern, reads everything.
struct App {
  std::shared_ptr<Connection> c;
  std::uint8_t tag = 0;
  std::size_t to_send = 0, sent = 0;
  std::vector<std::byte> got;
  bool close_after_send = false, closed = false;

  void pump(time::TimePoint now) {
    if (!c) return;
    std::byte chunk[8192];
    while (sent < to_send && c->send_room() > 0) {
      const std::size_t n = std::min({sizeof chunk, to_send - sent, c->send_room()});
      for (std::size_t i = 0; i < n; ++i) chunk[i] = pattern(sent + i, tag);
      const std::size_t taken = c->send(std::span<const std::byte>(chunk, n), now);
      sent += taken;
      if (taken == 0) break;
    }
    while (c->received_size() > 0) {
      auto r = c->received();
      got.insert(got.end(), r.begin(), r.end());
      c->consume(r.size(), now);
    }
    if (close_after_send && sent == to_send && !closed) {
      closed = true;
      c->close(now);
    }
  }
  bool got_all_of(std::size_t n, std::uint8_t peer_tag) const {
    if (got.size() != n) return false;
    for (std::size_t i = 0; i < n; ++i)
      if (got[i] != pattern(i, peer_tag)) return false;
    return true;
  }
};

struct Pair {
  explicit Pair(std::uint64_t seed = 1, Faults f = {}, std::uint16_t mtu = 1500) : net(seed, f, mtu) {
    std::shared_ptr<Binding> bound;
    EXPECT_EQ(net.b.layer.bind({}, kPort, Binding{}, &bound), 0);
    EXPECT_EQ(net.b.layer.listen(bound, 16, &listener), 0);
    listener->on_acceptable = [this] {
      if (!server.c) server.c = listener->accept();
    };
  }
  int connect(ConnectionConfig config = {}) {
    client.tag = 1;
    server.tag = 2;
    return net.a.layer.connect(nullptr, net.b.address_, kPort, config, net.now, &client.c);
  }
  bool run_until(const std::function<bool()>& pred, time::Duration limit = 600s) {
    return net.run_until([&] {
      client.pump(net.now);
      server.pump(net.now);
      return pred();
    }, limit);
  }
  // Both ends send `bytes` of their pattern and close: true once each has the other's intact and
  // its FIN, and the server's end (which closes last, in LAST-ACK) is closed.
  bool exchange_and_close(std::size_t bytes) {
    for (App* app : {&client, &server}) {
      app->to_send = bytes;
      app->close_after_send = true;
    }
    return run_until([&] {
      return client.got_all_of(bytes, 2) && server.got_all_of(bytes, 1) && client.c->peer_finished() &&
             server.c->peer_finished() && server.c->state() == State::closed;
    });
  }
  bool established() const {
    return client.c && server.c && client.c->state() == State::established &&
           server.c->state() == State::established;
  }

  SimNet net;
  std::shared_ptr<Listener> listener;
  App client, server;
};

TEST(TcpConnection, HandshakeNegotiatesOptions) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  EXPECT_EQ(p.client.c->state(), State::syn_sent);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  for (auto* c : {p.client.c.get(), p.server.c.get()}) {
    EXPECT_TRUE(c->timestamps_enabled());
    EXPECT_TRUE(c->sack_enabled());
    ASSERT_TRUE(c->send_window_shift().has_value());
    EXPECT_EQ(c->smss(), 1460U - 12U);  // MSS 1460 less the timestamps option
  }
  // SYN, SYN-ACK, ACK: three segments.
  EXPECT_EQ(p.net.segments, 3U);
  EXPECT_EQ(p.net.a.layer.stats().active_opens, 1U);
  EXPECT_EQ(p.net.b.layer.stats().passive_opens, 1U);
}

TEST(TcpConnection, WithoutOptionsFallsBackToRfcDefaults) {
  Pair p;
  ConnectionConfig plain;
  plain.timestamps = false;
  plain.sack = false;
  plain.window_scaling = false;
  ASSERT_EQ(p.connect(plain), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  EXPECT_FALSE(p.server.c->timestamps_enabled());
  EXPECT_FALSE(p.server.c->sack_enabled());
  EXPECT_FALSE(p.server.c->send_window_shift().has_value());
  EXPECT_EQ(p.server.c->smss(), 1460U);
}

TEST(TcpConnection, TransfersBothWaysAndClosesThroughTimeWait) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  ASSERT_TRUE(p.exchange_and_close(3 << 20));
  // Both closed at about the same time: one of them waits in TIME-WAIT for 2 MSL.
  EXPECT_TRUE(p.client.c->state() == State::time_wait || p.client.c->state() == State::closed);
  EXPECT_EQ(p.client.c->error(), 0);
  EXPECT_EQ(p.server.c->error(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.client.c->state() == State::closed; }, 61s));
  EXPECT_EQ(p.net.a.layer.connection_count(), 0U);
  EXPECT_EQ(p.net.b.layer.connection_count(), 0U);
  EXPECT_EQ(p.client.c->retransmissions(), 0U);
}

// Both ends start 3000 octets before 2^32, so a transfer of 1 MiB each way carries SND.UNA,
// SND.NXT, RCV.NXT and the send and receive buffers' starts through the wrap to 0.
TEST(TcpConnection, TransfersAcrossTheSequenceNumberWrap) {
  constexpr std::uint32_t kIss = 0xFFFFFFFFU - 2999U;  // 2^32 - 3000
  Pair p;
  p.net.a.layer.fix_iss_for_tests(Seq(kIss));
  p.net.b.layer.fix_iss_for_tests(Seq(kIss));
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  ASSERT_EQ(p.net.a.sent_headers.front().sequence_number, kIss);  // the SYN
  ASSERT_EQ(p.net.b.sent_headers.front().sequence_number, kIss);  // the SYN-ACK
  constexpr std::size_t kBytes = 1 << 20;
  ASSERT_TRUE(p.exchange_and_close(kBytes))
      << "client got " << p.client.got.size() << ", server got " << p.server.got.size();
  // Past the wrap: ISS + 1 (SYN) + 1 MiB + 1 (FIN), modulo 2^32.
  const Seq end = Seq(kIss) + static_cast<std::uint32_t>(kBytes + 2);
  EXPECT_LT(end.value(), kIss);
  EXPECT_EQ(p.client.c->snd_una(), end);
  EXPECT_EQ(p.client.c->rcv_nxt(), end);
  EXPECT_EQ(p.client.c->error(), 0);
  EXPECT_EQ(p.server.c->error(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.client.c->state() == State::closed; }, 61s));
  EXPECT_EQ(p.net.a.layer.connection_count(), 0U);
  EXPECT_EQ(p.net.b.layer.connection_count(), 0U);
}

// A stream too long to keep: octet i is block[i % size], the block's size a prime, so that no
// segment size divides it and a lost, repeated or misplaced segment shows.
struct LongStream {
  static constexpr std::size_t kBlock = 1'000'003;
  std::vector<std::byte> block = [] {
    std::vector<std::byte> b(kBlock);
    for (std::size_t i = 0; i < kBlock; ++i) b[i] = pattern(i, 3);
    return b;
  }();
  std::uint64_t total = 0, sent = 0, received = 0;
  bool intact = true, close_at_end = false, closed = false;

  void send(Connection& c, time::TimePoint now) {
    while (sent < total && c.send_room() > 0) {
      const std::size_t at = sent % kBlock;
      const std::size_t n = std::min<std::uint64_t>({kBlock - at, total - sent, c.send_room()});
      const std::size_t taken = c.send(std::span<const std::byte>(block).subspan(at, n), now);
      sent += taken;
      if (taken == 0) break;
    }
    if (close_at_end && sent == total && !closed) {
      closed = true;
      c.close(now);
    }
  }
  void receive(Connection& c, time::TimePoint now) {
    while (c.received_size() > 0) {
      auto r = c.received();
      for (std::size_t done = 0; done < r.size();) {
        const std::size_t at = (received + done) % kBlock;
        const std::size_t n = std::min(kBlock - at, r.size() - done);
        intact = intact && std::memcmp(r.data() + done, block.data() + at, n) == 0;
        done += n;
      }
      received += r.size();
      c.consume(r.size(), now);
    }
  }
};

// 2^32 - 1 octets one way bring SND.UNA back to ISS (modulo 2^32) with the SYN long acknowledged:
// the send buffer still starts at SND.UNA, not at ISS + 1, so the data after it arrives intact.
// Segments of 64 KiB keep it to seconds.
TEST(TcpConnection, SendsOnceSndUnaComesBackToIss) {
#ifndef NDEBUG
  // 4 GiB through the simulated network: about 5 s optimised, near two minutes in the
  // sanitizers' unoptimised builds. The optimised build (CI's first suite) runs it.
  GTEST_SKIP() << "2^32 octets take too long in an unoptimised build";
#endif
  constexpr std::uint32_t kIss = 0xFFFFFFFFU - 2999U;  // and through the wrap to 0 on the way
  Pair p(1, {}, 65535);
  p.net.a.layer.fix_iss_for_tests(Seq(kIss));
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  LongStream stream;
  auto run_until = [&](const std::function<bool()>& done) {
    return p.net.run_until([&] {
      stream.send(*p.client.c, p.net.now);
      stream.receive(*p.server.c, p.net.now);
      return done() || p.client.c->error() != 0;
    }, 3600s);
  };
  stream.total = 0xFFFFFFFFU;
  ASSERT_TRUE(run_until([&] {
    return stream.received == stream.total && p.client.c->snd_una() == Seq(kIss);
  })) << "received " << stream.received;
  stream.total += 1 << 20;
  stream.close_at_end = true;
  ASSERT_TRUE(run_until([&] {
    return stream.received == stream.total && p.server.c->peer_finished();
  })) << "received " << stream.received << " of " << stream.total;
  EXPECT_TRUE(stream.intact);
  EXPECT_EQ(p.client.c->error(), 0);
  p.server.c->close(p.net.now);
  ASSERT_TRUE(p.run_until([&] { return p.server.c->state() == State::closed; }, 60s));
  EXPECT_EQ(p.server.c->error(), 0);
}

TEST(TcpConnection, SimultaneousOpenMeetsInSynReceived) {
  // RFC 9293 3.5 figure 7: both ends send a SYN to each other's port at the same time.
  SimNet net;
  std::shared_ptr<Binding> ba, bb;
  ASSERT_EQ(net.a.layer.bind({}, 7000, Binding{}, &ba), 0);
  ASSERT_EQ(net.b.layer.bind({}, 7001, Binding{}, &bb), 0);
  std::shared_ptr<Connection> ca, cb;
  ASSERT_EQ(net.a.layer.connect(ba, net.b.address_, 7001, {}, net.now, &ca), 0);
  ASSERT_EQ(net.b.layer.connect(bb, net.a.address_, 7000, {}, net.now, &cb), 0);
  bool saw_syn_received = false;
  ASSERT_TRUE(net.run_until([&] {
    saw_syn_received |= ca->state() == State::syn_received || cb->state() == State::syn_received;
    return ca->state() == State::established && cb->state() == State::established;
  }));
  EXPECT_TRUE(saw_syn_received);
  App a, b;
  a.c = ca;
  a.tag = 1;
  a.to_send = 50'000;
  b.c = cb;
  b.tag = 2;
  b.to_send = 50'000;
  ASSERT_TRUE(net.run_until([&] {
    a.pump(net.now);
    b.pump(net.now);
    return a.got_all_of(50'000, 2) && b.got_all_of(50'000, 1);
  }));
}

TEST(TcpConnection, ConnectToAClosedPortIsRefused) {
  SimNet net;
  std::shared_ptr<Connection> c;
  ASSERT_EQ(net.a.layer.connect(nullptr, net.b.address_, 9, {}, net.now, &c), 0);
  ASSERT_TRUE(net.run_until([&] { return c->state() == State::closed; }));
  EXPECT_EQ(c->error(), ECONNREFUSED);
  EXPECT_EQ(net.b.layer.stats().no_socket, 1U);
  EXPECT_EQ(net.b.layer.stats().resets_sent, 1U);
}

TEST(TcpConnection, SynRetriesBackOffThenTimeOut) {
  SimNet net(1, Faults{.loss = 1.0});
  std::shared_ptr<Connection> c;
  const time::TimePoint start = net.now;
  ASSERT_EQ(net.a.layer.connect(nullptr, net.b.address_, kPort, {}, net.now, &c), 0);
  ASSERT_TRUE(net.run_until([&] { return c->state() == State::closed; }));
  EXPECT_EQ(c->error(), ETIMEDOUT);
  // tcp_syn_retries = 6: SYNs at 0, 1, 3, 7, 15, 31, 63 s; given up at 127 s (RFC 6298 5.5).
  EXPECT_EQ(net.segments, 7U);
  EXPECT_GE(net.now - start, 127s);
  EXPECT_LT(net.now - start, 128s);
}

TEST(TcpConnection, ResetExactlyAtRcvNxtEndsTheConnectionOthersAreChallenged) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  Connection& s = *p.server.c;
  SegmentIn rst;
  rst.flags.rst = true;
  rst.seq = s.rcv_nxt() + 100;  // in the window, not exact: RFC 5961 3.2
  const auto challenges = p.net.b.layer.stats().challenge_acks_sent;
  s.segment_arrives(rst, p.net.now);
  EXPECT_EQ(s.state(), State::established);
  EXPECT_EQ(p.net.b.layer.stats().challenge_acks_sent, challenges + 1);
  rst.seq = s.rcv_nxt() + 10'000'000;  // outside: ignored
  s.segment_arrives(rst, p.net.now);
  EXPECT_EQ(s.state(), State::established);
  EXPECT_EQ(p.net.b.layer.stats().rst_out_of_window, 1U);
  rst.seq = s.rcv_nxt();
  s.segment_arrives(rst, p.net.now);
  EXPECT_EQ(s.state(), State::closed);
  EXPECT_EQ(s.error(), ECONNRESET);
}

TEST(TcpConnection, SynOnAnEstablishedConnectionIsChallenged) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  SegmentIn syn;
  syn.flags.syn = true;
  syn.seq = p.server.c->rcv_nxt();
  p.server.c->segment_arrives(syn, p.net.now);
  EXPECT_EQ(p.server.c->state(), State::established);
  EXPECT_EQ(p.net.b.layer.stats().syn_in_window, 1U);
  // The challenge ACK reaches the client, which is fine with it; data still flows.
  p.client.to_send = 1000;
  ASSERT_TRUE(p.run_until([&] { return p.server.got_all_of(1000, 1); }));
}

TEST(TcpConnection, AbortSendsResetThePeerSeesEconnreset) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.client.c->abort(p.net.now);
  EXPECT_EQ(p.client.c->state(), State::closed);
  ASSERT_TRUE(p.run_until([&] { return p.server.c->state() == State::closed; }));
  EXPECT_EQ(p.server.c->error(), ECONNRESET);
}

TEST(TcpConnection, HalfCloseLetsThePeerKeepSending) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.client.c->close(p.net.now);
  ASSERT_TRUE(p.run_until([&] {
    return p.server.c->peer_finished() && p.client.c->state() == State::fin_wait_2;
  }));
  EXPECT_EQ(p.server.c->state(), State::close_wait);
  p.server.to_send = 200'000;
  p.server.close_after_send = true;
  ASSERT_TRUE(p.run_until([&] { return p.client.got_all_of(200'000, 2) && p.client.c->peer_finished(); }));
  ASSERT_TRUE(p.run_until([&] { return p.server.c->state() == State::closed; }));
  EXPECT_EQ(p.client.c->state(), State::time_wait);
  // A retransmitted FIN in TIME-WAIT is acknowledged and restarts the 2 MSL wait.
  p.net.run_for(10s);
  SegmentIn fin;
  fin.flags.fin = true;
  fin.flags.ack = true;
  fin.seq = p.client.c->rcv_nxt() - 1;
  fin.ack = p.client.c->snd_nxt();
  p.client.c->segment_arrives(fin, p.net.now);
  ASSERT_TRUE(p.client.c->next_deadline().has_value());
  EXPECT_EQ(*p.client.c->next_deadline(), p.net.now + 60s);
}

TEST(TcpConnection, SimultaneousCloseGoesThroughClosing) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.client.c->close(p.net.now);
  p.server.c->close(p.net.now);
  ASSERT_TRUE(p.run_until([&] {
    return p.client.c->state() == State::time_wait && p.server.c->state() == State::time_wait;
  }));
}

TEST(TcpConnection, ZeroWindowIsProbedAndReopens) {
  Pair p;
  ConnectionConfig small;
  small.receive_buffer = 16384;
  small.receive_autotune = false;
  p.listener->child_config = small;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  // The server reads nothing: the client fills the window and then probes it.
  auto server = std::move(p.server.c);
  p.client.to_send = 100'000;
  p.run_until([] { return false; }, 30s);
  // Full up to the window's granularity (RFC 7323 2.3: a scaled window counts in 2^shift).
  EXPECT_GT(server->received_size(), 16384U - (1U << *server->send_window_shift()));
  EXPECT_LE(server->received_size(), 16384U);
  EXPECT_EQ(server->receive_window(), 0U);
  EXPECT_GT(p.net.a.layer.stats().persist_probes, 0U);
  EXPECT_EQ(p.client.c->state(), State::established);
  p.server.c = std::move(server);
  ASSERT_TRUE(p.run_until([&] { return p.server.got_all_of(100'000, 1); }));
}

TEST(TcpConnection, KeepaliveEndsAConnectionToAVanishedPeer) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.client.c->set_keepalive_times(10s, 2s, 3, p.net.now);
  p.client.c->set_keepalive(true, p.net.now);
  p.net.faults().loss = 1.0;
  const time::TimePoint start = p.net.now;
  ASSERT_TRUE(p.run_until([&] { return p.client.c->state() == State::closed; }));
  EXPECT_EQ(p.client.c->error(), ETIMEDOUT);
  EXPECT_EQ(p.net.a.layer.stats().keepalive_probes, 3U);
  EXPECT_GE(p.net.now - start, 16s);  // idle 10 s, then 3 probes 2 s apart
  EXPECT_LE(p.net.now - start, 17s);
}

TEST(TcpConnection, RetransmissionLimitEndsAConnectionWithData) {
  Pair p;
  ConnectionConfig quick;
  quick.retries2 = 4;
  ASSERT_EQ(p.connect(quick), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.net.faults().loss = 1.0;
  p.client.to_send = 10'000;
  ASSERT_TRUE(p.run_until([&] { return p.client.c->state() == State::closed; }));
  EXPECT_EQ(p.client.c->error(), ETIMEDOUT);
  EXPECT_EQ(p.net.a.layer.stats().timeouts, 4U);
}

TEST(TcpConnection, UserTimeoutDecidesWhenSet) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.client.c->set_user_timeout(5s);
  p.net.faults().loss = 1.0;
  p.client.to_send = 1000;
  const time::TimePoint start = p.net.now;
  ASSERT_TRUE(p.run_until([&] { return p.client.c->state() == State::closed; }));
  EXPECT_EQ(p.client.c->error(), ETIMEDOUT);
  EXPECT_LT(p.net.now - start, 12s);
}

TEST(TcpConnection, DataOnAConnectionTheApplicationLeftIsReset) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.server.c->application_gone();
  p.server.c->close(p.net.now);
  auto server = std::move(p.server.c);
  p.client.to_send = 5000;
  ASSERT_TRUE(p.run_until([&] { return p.client.c->state() == State::closed; }));
  EXPECT_EQ(p.client.c->error(), ECONNRESET);
  EXPECT_EQ(p.net.b.layer.stats().data_after_close, 1U);
}

TEST(TcpConnection, BindConflictsFollowLinux) {
  SimNet net;
  std::shared_ptr<Binding> one, two, three;
  Binding plain;
  ASSERT_EQ(net.a.layer.bind({}, 5000, plain, &one), 0);
  EXPECT_EQ(net.a.layer.bind({}, 5000, plain, &two), EADDRINUSE);
  Binding reuse;
  reuse.reuse_address = true;
  ASSERT_EQ(net.a.layer.bind({}, 5001, reuse, &two), 0);
  ASSERT_EQ(net.a.layer.bind({}, 5001, reuse, &three), 0);  // neither listens
  std::shared_ptr<Listener> li;
  ASSERT_EQ(net.a.layer.listen(two, 5, &li), 0);
  std::shared_ptr<Listener> li2;
  EXPECT_EQ(net.a.layer.listen(three, 5, &li2), EADDRINUSE);  // one listener per port
  std::shared_ptr<Binding> four;
  EXPECT_EQ(net.a.layer.bind({}, 5001, reuse, &four), EADDRINUSE);  // it listens now
  std::shared_ptr<Binding> any;
  ASSERT_EQ(net.a.layer.bind({}, 0, plain, &any), 0);
  EXPECT_GE(any->port, 32768);
  EXPECT_LE(any->port, 60999);
}

// Segments a host sent from index `from` on that carry data.
std::size_t data_segments(const testing::SimHost& h, std::size_t from) {
  std::size_t n = 0;
  for (std::size_t i = from; i < h.sent_headers.size(); ++i)
    if (h.sent_headers[i].flags.psh) ++n;
  return n;
}

TEST(TcpConnection, NagleHoldsSmallSegmentsUntilTheAckUnlessNodelay) {
  for (bool nodelay : {false, true}) {
    SCOPED_TRACE(nodelay ? "TCP_NODELAY" : "Nagle");
    Pair p;
    ASSERT_EQ(p.connect(), 0);
    ASSERT_TRUE(p.run_until([&] { return p.established(); }));
    p.client.c->set_nodelay(nodelay, p.net.now);
    const std::size_t before = p.net.a.sent_headers.size();
    const std::byte one[1] = {std::byte{1}};
    p.client.c->send(one, p.net.now);
    p.client.c->send(one, p.net.now);
    p.client.c->send(one, p.net.now);
    // Nagle: the first goes, the other two wait for its ACK; TCP_NODELAY: all three go at once.
    EXPECT_EQ(data_segments(p.net.a, before), nodelay ? 3U : 1U);
    ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == 3; }));
    EXPECT_EQ(data_segments(p.net.a, before), nodelay ? 3U : 2U);
  }
}

TEST(TcpConnection, DelayedAckWaitsFortyMillisecondsOrTwoSegments) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  // A first octet, so that the window update the first read may send (the SYN's window is not
  // scaled, so the full window is announced only then) is out of the way.
  const std::byte one[1] = {std::byte{1}};
  p.client.c->send(one, p.net.now);
  p.run_until([] { return false; }, 200ms);
  const auto delayed_before = p.net.b.layer.stats().delayed_acks;
  const std::size_t before = p.net.b.sent_headers.size();
  const time::TimePoint sent = p.net.now;
  p.client.c->send(one, p.net.now);
  ASSERT_TRUE(p.run_until([&] { return p.net.b.sent_headers.size() > before; }));
  // One small segment: acknowledged when the delayed ACK timer fires (RFC 1122 4.2.3.2).
  EXPECT_GE(p.net.b.sent_at[before] - sent, 40ms);
  EXPECT_LT(p.net.b.sent_at[before] - sent, 60ms);
  EXPECT_EQ(p.net.b.layer.stats().delayed_acks, delayed_before + 1);
  // Two full segments: acknowledged at once (RFC 5681 4.2).
  p.client.c->set_nodelay(true, p.net.now);
  const std::size_t acks_before = p.net.b.sent_headers.size();
  std::vector<std::byte> two(2 * p.client.c->smss(), std::byte{7});
  const time::TimePoint sent2 = p.net.now;
  p.client.c->send(two, p.net.now);
  ASSERT_TRUE(p.run_until([&] { return p.net.b.sent_headers.size() > acks_before; }));
  EXPECT_LT(p.net.b.sent_at[acks_before] - sent2, 20ms);  // one network delay, no timer
}

// Pure ACKs b sent from `from` on.
std::size_t pure_acks(const testing::SimHost& h, std::size_t from) {
  std::size_t n = 0;
  for (std::size_t i = from; i < h.sent_headers.size(); ++i)
    if (h.sent_headers[i].flags.ack && !h.sent_headers[i].flags.psh && !h.sent_headers[i].flags.syn &&
        !h.sent_headers[i].flags.fin)
      ++n;
  return n;
}

TEST(TcpConnection, ABurstReadAsOneBatchIsAcknowledgedOnceAtItsEnd) {
  for (bool batched : {false, true}) {
    SCOPED_TRACE(batched ? "one input batch" : "segment by segment");
    Pair p(1, Faults{.batch_input = batched});
    ASSERT_EQ(p.connect(), 0);
    ASSERT_TRUE(p.run_until([&] { return p.established(); }));
    const std::byte one[1] = {std::byte{1}};
    p.client.c->send(one, p.net.now);  // the first read's window update, out of the way
    p.run_until([] { return false; }, 200ms);
    p.client.c->set_nodelay(true, p.net.now);
    const std::size_t before = p.net.b.sent_headers.size();
    // Eight full segments leave at one instant and arrive together.
    std::vector<std::byte> burst(8 * p.client.c->smss(), std::byte{7});
    const std::size_t a_before = p.net.a.sent_headers.size();
    ASSERT_EQ(p.client.c->send(burst, p.net.now), burst.size());
    ASSERT_EQ(p.net.a.sent_headers.size() - a_before, 8U);
    const time::TimePoint sent = p.net.now;
    // The network alone (the applications read nothing, so no window update joins in).
    ASSERT_TRUE(p.net.run_until([&] { return p.net.b.sent_headers.size() > before; }));
    p.net.run_for(1ms);  // everything else b sends at that instant
    // RFC 5681 4.2: every second segment; one batch: one stretch ACK covering all eight.
    EXPECT_EQ(pure_acks(p.net.b, before), batched ? 1U : 4U);
    EXPECT_LT(p.net.b.sent_at[before] - sent, 20ms);  // at once, not at the delayed ACK timer
    EXPECT_EQ(p.net.b.sent_headers.back().acknowledgment_number,
              p.client.c->snd_nxt().value());
  }
}

TEST(TcpConnection, AStretchAckCoversAtMostSixtyFourKibibytes) {
  Pair p(1, Faults{.batch_input = true});
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  // A megabyte first, so that the window and the congestion window let 60 segments go at once.
  p.client.to_send = 1 << 20;
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == p.client.to_send; }));
  p.run_until([] { return false; }, 200ms);
  p.client.c->set_nodelay(true, p.net.now);
  const std::size_t before = p.net.b.sent_headers.size();
  const std::size_t a_before = p.net.a.sent_headers.size();
  std::vector<std::byte> burst(60 * p.client.c->smss(), std::byte{7});
  ASSERT_EQ(p.client.c->send(burst, p.net.now), burst.size());
  ASSERT_EQ(p.net.a.sent_headers.size() - a_before, 60U);
  ASSERT_TRUE(p.net.run_until([&] { return p.net.b.sent_headers.size() > before; }));
  p.net.run_for(1ms);
  // One ACK once 64 KiB are unacknowledged (the 46th segment), one for the rest at the end.
  EXPECT_EQ(pure_acks(p.net.b, before), 2U);
  EXPECT_EQ(p.net.b.sent_headers.back().acknowledgment_number, p.client.c->snd_nxt().value());
}

TEST(TcpConnection, RetransmissionTimeoutBacksOffExponentially) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.net.faults().loss = 1.0;
  const std::size_t before = p.net.a.sent_headers.size();
  p.client.to_send = 100;
  p.run_until([&] { return p.net.a.layer.stats().timeouts >= 5; });
  ASSERT_GE(p.net.a.sent_at.size(), before + 6);
  // The gaps between the first sending and each resend double (RFC 6298 5.5).
  std::vector<time::Duration> gaps;
  for (std::size_t i = before + 1; i < before + 6; ++i) gaps.push_back(p.net.a.sent_at[i] - p.net.a.sent_at[i - 1]);
  for (std::size_t i = 1; i < gaps.size(); ++i) {
    EXPECT_GE(gaps[i], 2 * gaps[i - 1] - 2ms) << i;
    EXPECT_LE(gaps[i], 2 * gaps[i - 1] + 2ms) << i;
  }
}

TEST(TcpConnection, ATailLossIsRepairedByTheProbeNotByATimeout) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  // An exchange first, for an RTT estimate (the probe timeout is 2 * SRTT, RFC 8985 7.2).
  p.client.to_send = 1000;
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == 1000; }));
  // Then ten segments whose last one is lost: no duplicate ACK can reveal it.
  const std::uint32_t last_seq = (p.client.c->snd_nxt() + 9 * p.client.c->smss()).value();
  bool dropped = false;
  p.net.drop_if = [&](wire::Ipv4Address src, const std::vector<std::byte>& bytes) {
    if (dropped || src != p.net.a.address_ || bytes.size() < 20 || wire::load_be32(bytes, 4) != last_seq) return false;
    return dropped = true;
  };
  const time::TimePoint start = p.net.now;
  p.client.to_send = 1000 + 10 * p.client.c->smss();
  ASSERT_TRUE(p.run_until([&] { return p.server.got_all_of(p.client.to_send, 1); }));
  EXPECT_TRUE(dropped);
  EXPECT_EQ(p.net.a.layer.stats().tail_loss_probes, 1U);
  EXPECT_EQ(p.net.a.layer.stats().timeouts, 0U);
  EXPECT_LT(p.net.now - start, 100ms);  // well inside the 200 ms minimum RTO
}

// The sequence number of a segment, from its octets (IPv4 has gone: they start at the TCP header).
std::uint32_t seq_of(const std::vector<std::byte>& bytes) {
  return bytes.size() >= 20 ? wire::load_be32(bytes, 4) : 0;
}

// A connection after one exchange, so that the RTT is known (RACK's min_RTT, the RTO's SRTT).
void establish_with_rtt(Pair& p) {
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.client.to_send = 1000;
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == 1000; }));
}

// Sends two full segments of nines from the client, `gap` apart (the network runs meanwhile);
// returns one segment, for sizes and for sending more.
std::vector<std::byte> send_two_apart(Pair& p, time::Duration gap) {
  std::vector<std::byte> segment(p.client.c->smss(), std::byte{9});
  for (int i = 0; i < 2; ++i) {
    p.client.c->send(segment, p.net.now);
    p.net.run_for(gap);
  }
  return segment;
}

TEST(TcpConnection, ALostRetransmissionIsRepairedByRackNotByATimeout) {
  Pair p;
  establish_with_rtt(p);
  // A hundred segments; the fifth is lost, and so is its first retransmission. Only RACK (RFC
  // 8985 6) can see the retransmission lost: it lies below HighRxt, where RFC 6675's NextSeg never
  // looks again, so without RACK the retransmission timer (200 ms at least) repairs it.
  const std::uint32_t victim = (p.client.c->snd_nxt() + 4 * p.client.c->smss()).value();
  int victim_sent = 0;
  p.net.drop_if = [&](wire::Ipv4Address src, const std::vector<std::byte>& bytes) {
    if (src != p.net.a.address_ || seq_of(bytes) != victim) return false;
    return ++victim_sent <= 2;
  };
  const auto& stats = p.net.a.layer.stats();
  const auto timeouts_before = stats.retransmits_timeout;
  const time::TimePoint start = p.net.now;
  p.client.to_send = 1000 + 100 * p.client.c->smss();
  ASSERT_TRUE(p.run_until([&] { return p.server.got_all_of(p.client.to_send, 1); }));
  EXPECT_EQ(victim_sent, 3) << "the original, the lost retransmission, the one that arrived";
  EXPECT_EQ(stats.retransmits_timeout, timeouts_before);
  EXPECT_EQ(stats.timeouts, 0U);
  EXPECT_GE(stats.retransmits_rack, 1U);
  EXPECT_GE(stats.rack_lost_marked, 1U);
  // The path's round trip is 10 ms: the whole transfer ends before a 200 ms timeout could fire.
  EXPECT_LT(p.net.now - start, 150ms);
}

TEST(TcpConnection, RecoveryKeepsSendingNewDataWhileThePipeHasRoom) {
  Pair p;
  establish_with_rtt(p);
  // The first segment of a full window is lost, and so is its fast retransmission; everything
  // after it is SACKed. cwnd falls below SND.NXT - SND.UNA, but the pipe (RFC 6675 5 (C)) holds
  // only the retransmission, so new data goes on; its SACKs show RACK (RFC 8985 6) the
  // retransmission was lost, a round trip later. Were new data held back until SND.NXT - SND.UNA
  // fell below cwnd, nothing sent after the retransmission could reveal its loss, and only the
  // retransmission timeout (200 ms at least) would repair it.
  // The two segments limited transmit (RFC 3042) sends as the first duplicate ACKs come back are
  // lost too (once each): sent just before the retransmission, their SACKs would reveal it too.
  const std::uint32_t victim = p.client.c->snd_nxt().value();
  const std::uint32_t smss = p.client.c->smss();
  const time::TimePoint start = p.net.now;
  int victim_sent = 0;
  std::set<std::uint32_t> dropped_once;
  p.net.drop_if = [&](wire::Ipv4Address src, const std::vector<std::byte>& bytes) {
    if (src != p.net.a.address_) return false;
    const std::uint32_t seq = seq_of(bytes);
    if (seq == victim) return ++victim_sent <= 2;
    const bool first_duplicate_acks = p.net.now > start + 6ms && p.net.now < start + 15ms;
    return first_duplicate_acks && seq - victim >= 9 * smss && dropped_once.insert(seq).second;
  };
  const auto& stats = p.net.a.layer.stats();
  p.client.to_send = 1000 + 100 * p.client.c->smss();
  ASSERT_TRUE(p.run_until([&] { return p.server.got_all_of(p.client.to_send, 1); }));
  EXPECT_EQ(victim_sent, 3) << "the original, the lost retransmission, the one that arrived";
  EXPECT_EQ(stats.timeouts, 0U);
  EXPECT_GE(stats.retransmits_rack, 1U);
  EXPECT_LT(p.net.now - start, 150ms);
}

TEST(TcpConnection, ReorderingWithinTheReorderingWindowIsNotALoss) {
  Pair p;
  establish_with_rtt(p);
  p.client.c->set_nodelay(true, p.net.now);
  // Two segments 1 ms apart; the first is held back 1.5 ms, so the second overtakes it and is
  // SACKed (at 11 ms). Were there no reordering window, the first would be lost then (sent before
  // a delivered segment, a round trip ago); RACK waits min_RTT / 4 = 2.5 ms more (RFC 8985 6.2
  // step 4), and the first's ACK comes at 11.5 ms: nothing is resent.
  const std::uint32_t late = p.client.c->snd_nxt().value();
  p.net.delay_if = [&](wire::Ipv4Address src, const std::vector<std::byte>& bytes) {
    return src == p.net.a.address_ && seq_of(bytes) == late ? time::Duration(1500us) : time::Duration(0);
  };
  const std::vector<std::byte> segment = send_two_apart(p, 1ms);
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == 1000 + 2 * segment.size(); }));
  p.net.run_for(300ms);
  EXPECT_EQ(p.net.b.layer.stats().out_of_order_segments, 1U) << "the segments were reordered";
  EXPECT_EQ(p.client.c->retransmissions(), 0U);
  EXPECT_EQ(p.net.a.layer.stats().rack_lost_marked, 0U);
}

TEST(TcpConnection, ALossTooFewForDupThreshIsFoundByTheReorderingTimer) {
  Pair p;
  establish_with_rtt(p);
  p.client.c->set_nodelay(true, p.net.now);
  // Two segments 2 ms apart, the first lost: one SACK cannot reach DupThresh, and RACK waits
  // min_RTT / 4 past a round trip before it calls the first lost, on its timer (RFC 8985 6.2
  // step 5) -- before the tail loss probe (2 SRTT) and long before the retransmission timeout.
  const std::uint32_t lost = p.client.c->snd_nxt().value();
  int lost_sent = 0;
  p.net.drop_if = [&](wire::Ipv4Address src, const std::vector<std::byte>& bytes) {
    return src == p.net.a.address_ && seq_of(bytes) == lost && ++lost_sent == 1;
  };
  const time::TimePoint start = p.net.now;
  const std::vector<std::byte> segment = send_two_apart(p, 2ms);
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == 1000 + 2 * segment.size(); }));
  const auto& stats = p.net.a.layer.stats();
  EXPECT_EQ(lost_sent, 2);
  EXPECT_EQ(stats.rack_reorder_timeouts, 1U);
  EXPECT_EQ(stats.rack_recoveries, 1U);
  EXPECT_EQ(stats.tail_loss_probes, 0U);
  EXPECT_EQ(stats.timeouts, 0U);
  EXPECT_LT(p.net.now - start, 30ms);
}

TEST(TcpConnection, ARetransmissionRackResentCountsOnceInThePipe) {
  Pair p;
  establish_with_rtt(p);
  p.client.c->set_nodelay(true, p.net.now);
  // Two segments 2 ms apart, the first lost: the reordering timer calls it lost and starts a
  // recovery with a window of two (RFC 9438's beta times two, at least two segments), and its
  // retransmission is lost too. SetPipe (RFC 6675 4) counts the first segment twice (one SACK
  // above it is too few for IsLost, and it was retransmitted): the pipe is full and more data the
  // application writes could not go. RACK (RFC 8985) counts only the retransmission, so one new
  // segment goes, and its SACK shows the retransmission lost a round trip later; otherwise only
  // the retransmission timer would.
  const std::uint32_t lost = p.client.c->snd_nxt().value();
  int lost_sent = 0;
  p.net.drop_if = [&](wire::Ipv4Address src, const std::vector<std::byte>& bytes) {
    return src == p.net.a.address_ && seq_of(bytes) == lost && ++lost_sent <= 2;
  };
  const time::TimePoint start = p.net.now;
  const std::vector<std::byte> segment = send_two_apart(p, 2ms);
  ASSERT_TRUE(p.run_until([&] { return lost_sent == 2; }));
  p.client.c->send(segment, p.net.now);
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == 1000 + 3 * segment.size(); }));
  const auto& stats = p.net.a.layer.stats();
  EXPECT_EQ(lost_sent, 3);
  EXPECT_EQ(stats.rack_recoveries, 1U);
  EXPECT_EQ(stats.timeouts, 0U);
  EXPECT_LT(p.net.now - start, 60ms);
}

TEST(TcpConnection, PathMtuShrinksSegments) {
  Pair p;
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  p.client.to_send = 200'000;
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() > 50'000; }));
  EXPECT_EQ(p.net.a.largest_payload, 1448U);
  p.client.c->path_mtu(1000, p.net.now);  // RFC 1191: fragmentation needed, next hop 1000
  EXPECT_EQ(p.client.c->smss(), 1000U - 40U - 12U);
  p.net.a.largest_payload = 0;
  ASSERT_TRUE(p.run_until([&] { return p.server.got_all_of(200'000, 1); }));
  EXPECT_EQ(p.net.a.largest_payload, 948U);
  EXPECT_EQ(p.net.a.layer.stats().pmtu_updates, 1U);
  p.client.c->path_mtu(60, p.net.now);  // a forged tiny MTU is taken as Linux's floor, 552
  EXPECT_EQ(p.client.c->smss(), 552U - 40U - 12U);
}

TEST(TcpConnection, NewSynReopensATimeWaitPair) {
  Pair p;
  ConnectionConfig fixed_port;
  std::shared_ptr<Binding> local;
  Binding reuse;
  reuse.reuse_address = true;
  ASSERT_EQ(p.net.a.layer.bind({}, 40000, reuse, &local), 0);
  p.client.tag = 1;
  ASSERT_EQ(p.net.a.layer.connect(local, p.net.b.address_, kPort, fixed_port, p.net.now, &p.client.c), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  // The server closes first, so the server's side waits in TIME-WAIT (as an HTTP server would).
  p.server.c->close(p.net.now);
  ASSERT_TRUE(p.run_until([&] { return p.client.c->state() == State::close_wait; }));
  p.client.c->close(p.net.now);
  ASSERT_TRUE(p.run_until([&] { return p.server.c->state() == State::time_wait && p.client.c->state() == State::closed; }));
  p.server.c.reset();
  // The same four-tuple again, 1 s later: a new incarnation with a later ISN is accepted.
  p.net.run_for(1s);
  std::shared_ptr<Binding> again;
  ASSERT_EQ(p.net.a.layer.bind({}, 40000, reuse, &again), 0);
  std::shared_ptr<Connection> second;
  ASSERT_EQ(p.net.a.layer.connect(again, p.net.b.address_, kPort, {}, p.net.now, &second), 0);
  ASSERT_TRUE(p.run_until([&] { return second->state() == State::established; }));
  EXPECT_EQ(p.net.b.layer.stats().time_wait_recycled, 1U);
}

TEST(TcpConnection, TtlTosAndUserMssReachTheSegments) {
  Pair p;
  ConnectionConfig config;
  config.ttl = 7;
  config.tos = 0x10;
  config.user_mss = 1000;  // TCP_MAXSEG before connect: announced instead of the route's 1460
  ASSERT_EQ(p.connect(config), 0);
  EXPECT_EQ(p.net.a.last_ttl, 7);
  EXPECT_EQ(p.net.a.last_tos, 0x10);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  EXPECT_EQ(p.net.a.sent_headers.front().options.mss, 1000);
  EXPECT_EQ(p.server.c->smss(), 1000U - 12U);  // the server sends no more than we announced
  p.client.c->set_ttl(200);
  p.client.to_send = 10;
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == 10; }));
  EXPECT_EQ(p.net.a.last_ttl, 200);
}

// A SYN from a host that never answers (a flood's spoofed source), straight into b's layer.
void inject_syn(SimNet& net, std::uint16_t sport, std::uint32_t seq) {
  const wire::Ipv4Address spoofed{0xC6120009};
  wire::TcpSegment syn;
  syn.source_port = sport;
  syn.destination_port = kPort;
  syn.sequence_number = seq;
  syn.flags.syn = true;
  syn.window = 65535;
  syn.options.mss = 1460;
  std::vector<std::byte> bytes(syn.length());
  ASSERT_TRUE(syn.emit(bytes, spoofed, net.b.address_));
  net.b.layer.input(spoofed, net.b.address_, bytes, net.now);
}

TEST(TcpConnection, SynFloodIsAnsweredWithCookiesAndRealClientsStillConnect) {
  Pair p;
  p.listener->set_backlog(4);
  for (std::uint16_t port = 1000; port < 1200; ++port) inject_syn(p.net, port, port * 7919U);
  const TcpCounters& stats = p.net.b.layer.stats();
  EXPECT_EQ(p.listener->syn_queue_size(), 4U);
  EXPECT_EQ(stats.cookies_sent, 196U);
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  EXPECT_EQ(stats.cookies_sent, 197U);
  EXPECT_EQ(stats.cookies_accepted, 1U);
  // The options came back through the cookie's timestamp.
  EXPECT_TRUE(p.server.c->timestamps_enabled());
  EXPECT_TRUE(p.server.c->sack_enabled());
  EXPECT_TRUE(p.server.c->send_window_shift().has_value());
  p.client.to_send = 300'000;
  p.server.to_send = 300'000;
  ASSERT_TRUE(p.run_until([&] { return p.client.got_all_of(300'000, 2) && p.server.got_all_of(300'000, 1); }));
}

TEST(TcpConnection, ForgedCookieAcksAreReset) {
  Pair p;
  p.listener->set_backlog(1);
  inject_syn(p.net, 999, 1);
  // An ACK before any cookie was sent is not even checked as one (no recent overflow).
  auto forged_ack = [&](std::uint16_t sport) {
    const wire::Ipv4Address spoofed{0xC6120009};
    wire::TcpSegment ack;
    ack.source_port = sport;
    ack.destination_port = kPort;
    ack.sequence_number = 5000;
    ack.acknowledgment_number = 123456789;
    ack.flags.ack = true;
    ack.window = 1000;
    std::vector<std::byte> bytes(ack.length());
    ASSERT_TRUE(ack.emit(bytes, spoofed, p.net.b.address_));
    p.net.b.layer.input(spoofed, p.net.b.address_, bytes, p.net.now);
  };
  forged_ack(3999);
  EXPECT_EQ(p.net.b.layer.stats().cookies_failed, 0U);
  EXPECT_EQ(p.net.b.layer.stats().no_socket, 1U);  // answered with a RST
  inject_syn(p.net, 998, 2);  // the SYN queue overflows: a cookie goes out
  EXPECT_EQ(p.net.b.layer.stats().cookies_sent, 1U);
  // An ACK for a handshake that never happened: the cookie check fails, the sender gets a RST.
  forged_ack(4000);
  EXPECT_EQ(p.net.b.layer.stats().cookies_failed, 1U);
  EXPECT_EQ(p.net.b.layer.stats().cookies_accepted, 0U);
  EXPECT_EQ(p.listener->accept_queue_size(), 0U);
}

TEST(TcpConnection, ConnectionsGoneLeaveNoBindingBehind) {
  // A blind SYN then RST at SEQ + 1 (the sender knows it without seeing our SYN-ACK), many
  // times: every embryonic connection goes, and with it the port's bookkeeping.
  Pair p;
  const wire::Ipv4Address spoofed{0xC6120009};
  for (std::uint16_t port = 2000; port < 2100; ++port) {
    inject_syn(p.net, port, port * 11U);
    wire::TcpSegment rst;
    rst.source_port = port;
    rst.destination_port = kPort;
    rst.sequence_number = port * 11U + 1;
    rst.flags.rst = true;
    std::vector<std::byte> bytes(rst.length());
    ASSERT_TRUE(rst.emit(bytes, spoofed, p.net.b.address_));
    p.net.b.layer.input(spoofed, p.net.b.address_, bytes, p.net.now);
  }
  EXPECT_EQ(p.net.b.layer.connection_count(), 0U);
  EXPECT_EQ(p.net.b.layer.binding_count(kPort), 1U);  // the listener's own
}

// A measurement, not a check (run with --gtest_also_run_disabled_tests): one bulk transfer under
// random loss both ways, the simulated time it took and the recovery counters.
// PKTD_TCP_BENCH_BYTES (default 16 MiB), PKTD_TCP_BENCH_LOSS (percent, default 5),
// PKTD_TCP_BENCH_SEED (default 1), PKTD_TCP_BENCH_TIMESTAMPS (0: without RFC 7323 timestamps).
std::uint64_t env_or(const char* name, std::uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

TEST(TcpConnectionBench, DISABLED_BulkTransferUnderRandomLoss) {
  const std::size_t bytes = env_or("PKTD_TCP_BENCH_BYTES", 16U << 20);
  const double loss = static_cast<double>(env_or("PKTD_TCP_BENCH_LOSS", 5)) / 100.0;
  const std::uint64_t seed = env_or("PKTD_TCP_BENCH_SEED", 1);
  Pair p(seed, Faults{.loss = loss});
  ConnectionConfig config;
  config.timestamps = env_or("PKTD_TCP_BENCH_TIMESTAMPS", 1) != 0;
  ASSERT_EQ(p.connect(config), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }, 3600s));
  const time::TimePoint start = p.net.now;
  p.client.to_send = bytes;
  ASSERT_TRUE(p.run_until([&] { return p.server.got.size() == bytes; }, 36000s));
  const auto& s = p.net.a.layer.stats();
  std::printf("bytes %zu loss %.0f%% seed %llu: %.3f s simulated\n", bytes, loss * 100,
              static_cast<unsigned long long>(seed),
              std::chrono::duration<double>(p.net.now - start).count());
  for (const char* name :
       {"timeouts", "retransmits_timeout", "retransmits_fast", "retransmits_sack", "retransmits_rack",
        "rack_lost_marked", "rack_recoveries", "rack_reorder_timeouts", "sack_recoveries",
        "tail_loss_probes", "spurious_dsack", "segments_sent"})
    std::printf("  %-22s %llu\n", name, static_cast<unsigned long long>(s.named().at(name)));
  EXPECT_TRUE(p.server.got_all_of(bytes, 1));
}

// The fault grid: every transfer must arrive byte for byte whatever the network does to it.
struct GridCase {
  const char* name;
  Faults faults;
};

class TcpFaultGrid : public ::testing::TestWithParam<std::tuple<GridCase, std::uint64_t>> {};

TEST_P(TcpFaultGrid, TransferArrivesIntact) {
  const auto& [grid, seed] = GetParam();
  SCOPED_TRACE(std::string("faults ") + grid.name + ", seed " + std::to_string(seed));
  Pair p(seed, grid.faults);
  ASSERT_EQ(p.connect(), 0);
  ASSERT_TRUE(p.run_until([&] { return p.established(); }));
  constexpr std::size_t kBytes = 400'000;
  p.client.to_send = kBytes;
  p.server.to_send = kBytes / 2;
  p.client.close_after_send = true;
  p.server.close_after_send = true;
  ASSERT_TRUE(p.run_until([&] {
    return p.client.got_all_of(kBytes / 2, 2) && p.server.got_all_of(kBytes, 1) &&
           p.client.c->peer_finished() && p.server.c->peer_finished();
  }, 3600s)) << "client got " << p.client.got.size() << ", server got " << p.server.got.size();
  EXPECT_EQ(p.client.c->error(), 0);
  EXPECT_EQ(p.server.c->error(), 0);
  if (grid.faults.loss >= 0.05) {
    // Losses are repaired by SACK recovery (RFC 6675), not only by timeouts.
    const auto& a = p.net.a.layer.stats();
    const auto& b = p.net.b.layer.stats();
    EXPECT_GT(a.sack_recoveries + b.sack_recoveries, 0U);
    EXPECT_GT(a.retransmits_sack + b.retransmits_sack + a.retransmits_fast + b.retransmits_fast, 0U);
  }
}

INSTANTIATE_TEST_SUITE_P(
    Faults, TcpFaultGrid,
    ::testing::Combine(
        ::testing::Values(GridCase{"loss 5%", Faults{.loss = 0.05}},
                          GridCase{"loss 20%", Faults{.loss = 0.20}},
                          GridCase{"duplication 10%", Faults{.duplicate = 0.10}},
                          GridCase{"reordering 10%", Faults{.reorder = 0.10}},
                          GridCase{"corruption 5%", Faults{.corrupt = 0.05}},
                          GridCase{"jitter 20 ms", Faults{.jitter = 20ms}},
                          GridCase{"everything", Faults{.loss = 0.05, .duplicate = 0.05, .reorder = 0.05,
                                                        .corrupt = 0.02, .jitter = 10ms}},
                          GridCase{"loss 5% batched", Faults{.loss = 0.05, .batch_input = true}},
                          GridCase{"everything batched",
                                   Faults{.loss = 0.05, .duplicate = 0.05, .reorder = 0.05,
                                          .corrupt = 0.02, .jitter = 10ms, .batch_input = true}}),
        ::testing::Values(1U, 2U, 3U)),
    [](const auto& param_info) {
      std::string name = std::get<0>(param_info.param).name;
      for (char& ch : name)
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      return name + "_seed" + std::to_string(std::get<1>(param_info.param));
    });

}  // namespace
}  // namespace pktd::tcp
