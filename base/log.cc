#include "base/log.h"

#include <syslog.h>

#include <atomic>
#include <cstdio>
#include <mutex>
#include <vector>

namespace pktd::log {
namespace {

std::atomic<Level> g_level{Level::info};
std::mutex g_sink_mutex;
Sink g_sink;  // empty: stderr
bool g_syslog = false;

const char* level_name(Level level) {
  switch (level) {
    case Level::error: return "error";
    case Level::warning: return "warning";
    case Level::info: return "info";
    case Level::debug: return "debug";
  }
  return "?";
}

int syslog_priority(Level level) {
  switch (level) {
    case Level::error: return LOG_ERR;
    case Level::warning: return LOG_WARNING;
    case Level::info: return LOG_INFO;
    case Level::debug: return LOG_DEBUG;
  }
  return LOG_INFO;
}

}  // namespace

void set_level(Level level) { g_level.store(level, std::memory_order_relaxed); }
Level level() { return g_level.load(std::memory_order_relaxed); }

void set_sink(Sink sink) {
  std::lock_guard lock(g_sink_mutex);
  g_sink = std::move(sink);
  g_syslog = false;
}

void use_stderr() { set_sink({}); }

void use_syslog(const char* ident) {
  openlog(ident, LOG_PID | LOG_NDELAY, LOG_DAEMON);
  std::lock_guard lock(g_sink_mutex);
  g_sink = {};
  g_syslog = true;
}

void vwrite(Level lvl, const char* fmt, std::va_list args) {
  if (lvl > level()) return;
  char buf[1024];
  int n = std::vsnprintf(buf, sizeof buf, fmt, args);
  if (n < 0) return;
  std::string_view line(buf, std::min(static_cast<size_t>(n), sizeof buf - 1));
  std::lock_guard lock(g_sink_mutex);
  if (g_sink) {
    g_sink(lvl, line);
  } else if (g_syslog) {
    syslog(syslog_priority(lvl), "%.*s", static_cast<int>(line.size()), line.data());
  } else {
    std::fprintf(stderr, "pktd: %s: %.*s\n", level_name(lvl), static_cast<int>(line.size()),
                 line.data());
  }
}

void write(Level lvl, const char* fmt, ...) {
  std::va_list args;
  va_start(args, fmt);
  vwrite(lvl, fmt, args);
  va_end(args);
}

struct Capture::State {
  mutable std::mutex mutex;
  std::vector<std::string> lines;
};

Capture::Capture() : state_(new State) {
  set_sink([s = state_](Level lvl, std::string_view line) {
    std::lock_guard lock(s->mutex);
    s->lines.push_back(std::string(level_name(lvl)) + ": " + std::string(line));
  });
}

Capture::~Capture() {
  use_stderr();
  delete state_;
}

bool Capture::contains(std::initializer_list<std::string_view> fragments) const {
  std::lock_guard lock(state_->mutex);
  for (const auto& line : state_->lines) {
    bool all = true;
    for (auto f : fragments) all = all && line.find(f) != std::string::npos;
    if (all) return true;
  }
  return false;
}

std::string Capture::text() const {
  std::lock_guard lock(state_->mutex);
  std::string out;
  for (const auto& line : state_->lines) out += line + "\n";
  return out;
}

}  // namespace pktd::log
