// The daemon's half of a stream socket, where TCP plugs in: bytes between the application's end
// of a SOCK_STREAM pair and a transport connection, under both sides' flow control.
//
//   application --write--> pair --pump_out()--> connection.send()   (no more than send_room())
//   application <--read--- pair <--pump_in()--- connection.received() (no more than the pair takes)
//
// Neither direction moves more than the other side has room for, so what one connection holds
// is bounded by the pair's buffers and the connection's own. A pair the application does not
// read stays full, and what the connection could not hand over stays in its receive queue: that
// is TCP's closing receive window (RFC 9293 3.8.6.2.2). The service calls pump_out when pktd's
// end is readable or the connection gained send room, and pump_in when the connection received
// something or pktd's end became writable. docs/sockets.md has the whole plan.
//
// A connecting socket must not be writable (Linux reports POLLOUT once the handshake is decided),
// yet the application's end is a Unix stream socket, writable while what was written through it
// and not yet read, counted with the kernel's bookkeeping, is at most a quarter of its send
// buffer (unix_writable). So a connect holds the end: write_filler() writes octets through the
// application's end until it is no longer writable, and pump_out drops them before anything the
// application writes after them, which makes the end writable again once pktd relays.
#pragma once

#include <cstddef>
#include <functional>
#include <span>

#include <sys/types.h>

namespace pktd::sockets {

// What a transport connection offers the relay (TCP implements it).
class StreamConnection {
 public:
  virtual ~StreamConnection() = default;
  // Octets send() may take now (the send buffer's free space).
  virtual size_t send_room() const = 0;
  // The application's bytes, in order; at most send_room().
  virtual void send(std::span<const std::byte> bytes) = 0;
  // The application will send no more (shutdown(SHUT_WR), or it closed its end): a FIN after
  // what was sent.
  virtual void finish_sending() = 0;
  // Octets received in order and not yet handed to the application.
  virtual std::span<const std::byte> received() const = 0;
  // The relay handed the first n of received() to the application (the window may open).
  virtual void consume(size_t n) = 0;
  // The peer sent its FIN and everything before it is in received().
  virtual bool peer_finished() const = 0;
};

enum class PumpResult {
  blocked,   // one side has no room or nothing to give: call again when that changes
  finished,  // (pump_out) the application sends no more: it shut down its write side, or closed
             // every copy of its fd (then pktd's end also reports a hang-up, POLLHUP)
  failed,    // the pair broke (the application's end is gone); errno says how
};

class StreamRelay {
 public:
  // fd: pktd's end of the pair, non-blocking; the relay does not own it. Descriptors the
  // application sends along with its bytes (SCM_RIGHTS) are taken in, so that the kernel does not
  // close them inside pktd's recvmsg (closing some can block), and given to refuse (which closes
  // them elsewhere); without refuse they are closed here.
  explicit StreamRelay(int fd, std::function<void(int)> refuse = {}) : fd_(fd), refuse_(std::move(refuse)) {}

  // Application -> connection: reads what the connection has room for. scratch is a buffer to
  // read through (one per service, not per connection).
  PumpResult pump_out(StreamConnection& c, std::span<std::byte> scratch);
  // Connection -> application: writes what the pair takes; once the peer has finished and all
  // is written, shuts the pair's write side so that the application reads end of file.
  PumpResult pump_in(StreamConnection& c);

  // Writes filler through app_fd (a copy of the application's end, which the caller keeps) until
  // poll no longer reports it writable; false (with errno) if it is writable still. Called again,
  // it tops the filler up (the application's send buffer grew). The filler is told apart from the
  // application's own bytes by its writer (pktd's pid in SCM_CREDENTIALS: SO_PASSCRED is on
  // pktd's end from the first filler octet until the last is dropped), so bytes another thread of
  // the application writes meanwhile keep their place in the stream.
  bool write_filler(int app_fd);
  // Filler octets written and not yet dropped.
  size_t filler() const { return filler_; }
  // Reads and drops what pktd's end holds now (bytes written to a socket that never connected,
  // or held while a handshake that failed was under way), the filler included. Returns the
  // application's octets dropped. scratch: as pump_out's.
  size_t discard_queued(std::span<std::byte> scratch);

  bool application_done_sending() const { return out_finished_; }
  bool end_of_file_delivered() const { return in_finished_; }

 private:
  // One recvmsg into `into`; *filler: the octets read are pktd's own filler.
  ssize_t receive(std::span<std::byte> into, bool* filler);
  void drop_filler(size_t octets);
  bool pass_credentials(bool on);

  int fd_;
  std::function<void(int)> refuse_;
  bool out_finished_ = false;
  bool in_finished_ = false;
  size_t filler_ = 0;
};

}  // namespace pktd::sockets
