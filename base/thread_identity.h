// Which kind of thread is running: the seed guide gives each kind different rights.
//
// main: start-up, signals, blockops. worker: interrupts and, one at a time, the stack context.
// tracked: created through the runtime (nw_pthread_create); may use buffers with M_NOWAIT only.
// untracked: any other thread; may not allocate or free buffers at all.
#pragma once

#include <string>

namespace pktd {

enum class ThreadKind : unsigned char { untracked, main, worker, tracked, watchdog };

const char* to_string(ThreadKind kind);

// The calling thread's kind. Not inlined on purpose: a pseudo-thread can resume on another
// worker, and the compiler must not reuse a thread-local address computed before the switch.
[[gnu::noinline]] ThreadKind current_thread_kind();

// Marks the calling thread and names it (visible in /proc/PID/task/*/comm; 15 bytes at most).
void register_current_thread(ThreadKind kind, const std::string& name);

// The calling thread's name as the kernel knows it.
std::string current_thread_name();

// True for threads that may allocate and free packet buffers.
inline bool may_use_buffers(ThreadKind kind) { return kind != ThreadKind::untracked; }

}  // namespace pktd
