// Logging for the daemon, the runtime and drivers.
//
// printf-style so that drivers (C or C++) can use it across the SDK boundary.
// A sink can be installed by tests to assert on what was logged.
#pragma once

#include <cstdarg>
#include <functional>
#include <string>
#include <string_view>

namespace pktd::log {

enum class Level : int { error = 0, warning = 1, info = 2, debug = 3 };

// Messages above this level are dropped. Set by pktd's -v flags.
void set_level(Level level);
Level level();

// Where messages go: stderr by default, syslog when pktd detaches, or a test's sink.
using Sink = std::function<void(Level, std::string_view)>;
void set_sink(Sink sink);
void use_stderr();
void use_syslog(const char* ident);

void write(Level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void vwrite(Level level, const char* fmt, std::va_list args) __attribute__((format(printf, 2, 0)));

// A sink that records every line; tests use it to check that a watchdog named something.
class Capture {
 public:
  Capture();
  ~Capture();
  Capture(const Capture&) = delete;
  Capture& operator=(const Capture&) = delete;
  // True if some captured line contains every one of the given fragments.
  bool contains(std::initializer_list<std::string_view> fragments) const;
  std::string text() const;

 private:
  struct State;
  State* state_;
};

}  // namespace pktd::log

#define PKTD_LOG_ERR(...) ::pktd::log::write(::pktd::log::Level::error, __VA_ARGS__)
#define PKTD_LOG_WARN(...) ::pktd::log::write(::pktd::log::Level::warning, __VA_ARGS__)
#define PKTD_LOG_INFO(...) ::pktd::log::write(::pktd::log::Level::info, __VA_ARGS__)
#define PKTD_LOG_DEBUG(...)                                                  \
  do {                                                                       \
    if (::pktd::log::level() >= ::pktd::log::Level::debug)                   \
      ::pktd::log::write(::pktd::log::Level::debug, __VA_ARGS__);            \
  } while (0)
