#include "tools/pkt/capture.h"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <memory>

#include "ctl/protocol.h"
#include "tools/pkt/pcap.h"
#include "tools/pkt/text.h"

namespace pktd::pkt {

using nlohmann::json;

namespace {

constexpr uint32_t kFramesPerRead = 256;
constexpr uint32_t kReadWaitMs = 200;  // how soon a stop signal or -T is noticed

bool usage(std::string* error, std::string text) {
  *error = "capture: " + std::move(text);
  return false;
}

bool take_option(char option, const std::string& value, CaptureOptions* o, std::string* error) {
  auto n = parse_u32(value);
  switch (option) {
    case 'w':
      o->file = value;
      return true;
    case 'c':
      if (!n || *n == 0) return usage(error, "-c " + value + ": expected a count, at least 1");
      o->count = *n;
      return true;
    case 's':
      if (!n || *n == 0 || *n > ctl::kMaxSnaplen)
        return usage(error, "-s " + value + ": expected 1 to " + std::to_string(ctl::kMaxSnaplen));
      o->snaplen = *n;
      return true;
    case 'T':
      o->seconds = parse_seconds(value);
      if (!o->seconds || *o->seconds <= 0)
        return usage(error, "-T " + value + ": expected seconds");
      return true;
  }
  return usage(error, std::string("unknown option -") + option);
}

// One session: start, read until done, stop, and the count on stderr.
class Capture {
 public:
  Capture(const CaptureOptions& o, Session& s, const Clock& c) : o_(o), s_(s), clock_(c) {}

  int run() {
    if (!open_output()) return kExitError;
    auto started = s_.call("capture_start", {{"name", o_.interface}, {"snaplen", o_.snaplen}});
    if (!started) return kExitError;
    auto session = started->find("session");
    if (session == started->end() || !session->is_number_integer() || *session < 0) {
      s_.err << "pkt: unexpected reply from pktd: capture_start gave no session\n";
      return kExitError;
    }
    uint64_t id = session->get<uint64_t>();
    // As tcpdump does: from here on frames are kept, so a script may start its traffic.
    s_.err << "pkt capture: listening on " << o_.interface << ", snapshot length " << o_.snaplen
           << " bytes\n";
    s_.err.flush();
    int status = read_until_done(id);
    if (!closed_) s_.call("capture_stop", {{"session", id}});  // a failure is said, nothing more
    if (pcap_ && !pcap_->has_header()) pcap_->header(o_.snaplen, kLinkTypeEthernet);
    output().flush();
    s_.err << captured_ << " frames captured, " << dropped_ << " dropped by pktd\n";
    return status;
  }

 private:
  bool open_output() {
    if (o_.file.empty() || o_.file == "-") {
      if (o_.file == "-") pcap_ = std::make_unique<PcapWriter>(s_.out);
      return true;
    }
    file_.open(o_.file, std::ios::binary | std::ios::trunc);
    if (!file_) {
      s_.err << "pkt capture: " << o_.file << ": " << std::strerror(errno) << "\n";
      return false;
    }
    pcap_ = std::make_unique<PcapWriter>(file_);
    return true;
  }

  std::ostream& output() { return file_.is_open() ? static_cast<std::ostream&>(file_) : s_.out; }

  bool done() const {
    bool counted = o_.count && captured_ >= *o_.count;
    bool timed_out =
        o_.seconds && std::chrono::duration<double>(clock_.now() - start_).count() >= *o_.seconds;
    return closed_ || counted || timed_out || clock_.interrupted();
  }

  int read_until_done(uint64_t id) {
    start_ = clock_.now();
    try {
      while (!done()) {
        json args{{"session", id}, {"max_frames", max_frames_}, {"wait_ms", kReadWaitMs}};
        ctl::Reply reply;
        bool answered = s_.pktd.call("capture_read", args, &reply);
        if (answered && reply.error.code == EMSGSIZE) {
          read_fewer(reply.error.message);
          continue;
        }
        if (!answered || reply.error) {
          s_.err << "pkt: " << reply.error.message << "\n";
          return kExitError;
        }
        take(reply.result.get<ctl::CaptureRead>());
      }
    } catch (const json::exception& e) {
      s_.err << "pkt: unexpected reply from pktd: " << e.what() << "\n";
      return kExitError;
    }
    return kExitOk;
  }

  // A read whose reply did not fit one control message: its frames are lost; ask for fewer.
  void read_fewer(const std::string& why) {
    if (max_frames_ > 1) max_frames_ /= 2;
    s_.err << "pkt capture: " << why << ": frames lost; now reading " << max_frames_
           << " at a time\n";
  }

  void take(const ctl::CaptureRead& read) {
    if (pcap_ && !pcap_->has_header()) pcap_->header(o_.snaplen, read.link_type);
    for (const auto& frame : read.frames) {
      if (o_.count && captured_ >= *o_.count) break;
      captured_++;
      if (pcap_)
        pcap_->record(frame);
      else if (s_.as_json)
        s_.out << json(frame).dump() << "\n";
      else
        s_.out << format_frame(frame, read.link_type);
    }
    output().flush();
    dropped_ = read.dropped;  // counted since capture_start
    closed_ = read.closed;
  }

  const CaptureOptions& o_;
  Session& s_;
  const Clock& clock_;
  std::ofstream file_;
  std::unique_ptr<PcapWriter> pcap_;
  Clock::Time start_{};
  uint32_t max_frames_ = kFramesPerRead;
  uint64_t captured_ = 0, dropped_ = 0;
  bool closed_ = false;
};

}  // namespace

std::optional<CaptureOptions> parse_capture(const Args& args, std::string* error) {
  CaptureOptions o;
  std::vector<std::string> names;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& word = args[i];
    if (!word.starts_with("-") || word.size() < 2) {
      names.push_back(word);
      continue;
    }
    std::string value = word.size() > 2 ? word.substr(2) : i + 1 < args.size() ? args[++i] : "";
    bool ok = value.empty() ? usage(error, word + " needs a value")
                            : take_option(word[1], value, &o, error);
    if (!ok) return std::nullopt;
  }
  if (names.size() != 1) {
    usage(error, "expected one interface");
    return std::nullopt;
  }
  o.interface = interface_of(names[0]);
  return o;
}

int run_capture(const CaptureOptions& options, Session& session, const Clock& clock) {
  return Capture(options, session, clock).run();
}

std::optional<Program> launch_capture(const Args& args, std::string* error) {
  auto options = parse_capture(args, error);
  if (!options) return std::nullopt;
  return Program([o = *options](Session& session) {
    StopSignals stop;  // ^C ends the capture; the session is stopped and the count printed
    return run_capture(o, session, system_clock());
  });
}

}  // namespace pktd::pkt
