// How two processes find each other on a wire link NAME, and notice when one has gone.
//
// - The segment is the POSIX shared-memory object "/pktd-wire.NAME" (/dev/shm/pktd-wire.NAME).
// - Ends and liveness are open-file-description locks (F_OFD_SETLK) on bytes of that object:
//   byte 0 is held by end 0, byte 1 by end 1, byte 2 briefly by whoever attaches or leaves.
//   The kernel drops a lock when its holder's file is closed, SIGKILL included, so a lock
//   nobody holds means a dead or absent end, whatever the segment says: a stale segment is
//   simply taken over. OFD locks (not POSIX process locks) also keep two ends apart in one
//   process.
// - Each end listens on a Unix socket /dev/shm/pktd-wire.NAME.sockE (E = its end). A newcomer
//   connects to the end already there; each side sends a Hello carrying its receive eventfd
//   (SCM_RIGHTS). The connection then stays open only to say "still here": EOF on it means the
//   peer detached or died.
// No SDK here.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>

namespace devnp_wire {

inline constexpr size_t kMaxLinkName = 32;

// Empty if name is a valid link name (1 to 32 of A-Z a-z 0-9 _ -), else the reason.
std::string check_link_name(const std::string& name);

struct LinkPaths {
  std::string shm_name;   // for shm_open: "/pktd-wire.NAME"
  std::string socket[2];  // per end
};
LinkPaths link_paths(const std::string& name);

// The segment object, opened, with the attach lock (byte 2) held. Retries briefly while
// another process attaches or leaves; reopens if the object was unlinked meanwhile. 0 or an
// errno, with error saying why.
int open_locked(const LinkPaths& paths, int& fd, std::string& error);
void unlock_attach(int fd);
// Takes a free end (its lock): 0 or 1, or -1 if both are held.
int take_end(int fd);
// Whether an end's lock is held by some open file (another end, alive).
bool end_alive(int fd, int end);
// Maps the segment; when alone, first empties and formats it (a stale one from a dead pair,
// or a new one). 0 or an errno, with error saying why.
int map_segment(int fd, bool alone, std::byte*& base, std::string& error);
void unmap_segment(std::byte* base);
// With the attach lock held: removes the object and the peer's stale socket if no other end
// holds its lock; then closes fd, which lets go of every lock.
void leave_link(const LinkPaths& paths, int fd, int end);

// --- sockets ---

// A non-blocking listening socket at path (a stale one there is removed first: the caller
// holds the end's lock).
int listen_at(const std::string& path, int& fd, std::string& error);
int connect_to(const std::string& path, int& fd);

struct Hello {
  uint64_t magic;
  uint32_t version;
  uint32_t end;  // the sender's end
  uint32_t mtu;  // the sender's MTU, for the log
  uint32_t reserved;
};
Hello make_hello(int end, uint32_t mtu);

// Sends hello with efd attached. 0 or an errno.
int send_hello(int sock, const Hello& hello, int efd);

enum class Received { hello, again, closed, malformed };
// One message: a well-formed Hello with exactly one fd (efd, close-on-exec), or what else came
// (any fds that came with a malformed message are closed).
Received receive_hello(int sock, Hello& hello, int& efd);

// The pid of the process at the other end of a Unix socket, or -1.
pid_t peer_pid(int sock);

const char* error_text(int err);

}  // namespace devnp_wire
