// pktd's command-line parser: defaults, every accepted form, and every error naming its option.
#include "daemon/options.h"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>
#include <vector>

namespace pktd::daemon {
namespace {

constexpr unsigned kCpus = 8;

// Runs the parser on "pktd ARGS...", as main() would.
ParseResult parse(std::initializer_list<const char*> args, unsigned cpus = kCpus) {
  std::vector<const char*> argv{"pktd"};
  argv.insert(argv.end(), args.begin(), args.end());
  argv.push_back(nullptr);  // like the real argv, so an overrun would read a null, not garbage
  return parse_options(static_cast<int>(argv.size() - 1), argv.data(), cpus);
}

// Parses and requires success.
Options ok(std::initializer_list<const char*> args, unsigned cpus = kCpus) {
  ParseResult result = parse(args, cpus);
  EXPECT_TRUE(result.options.has_value()) << "unexpected error: " << result.error;
  EXPECT_TRUE(result.error.empty());
  return result.options.value_or(Options{});
}

// Parses, requires failure, and returns the message.
std::string error(std::initializer_list<const char*> args) {
  ParseResult result = parse(args);
  EXPECT_FALSE(result.options.has_value());
  EXPECT_EQ(result.error.rfind("pktd: ", 0), 0u) << result.error;
  EXPECT_EQ(result.error.find('\n'), std::string::npos) << "one line: " << result.error;
  return result.error;
}

// Message contains each fragment (option name, bad value, ...).
::testing::AssertionResult mentions(const std::string& message,
                                    std::initializer_list<std::string> fragments) {
  for (const std::string& fragment : fragments) {
    if (message.find(fragment) == std::string::npos) {
      return ::testing::AssertionFailure() << "'" << message << "' lacks '" << fragment << "'";
    }
  }
  return ::testing::AssertionSuccess();
}

// ---- defaults and simple flags -----------------------------------------------------------------

TEST(Options, Defaults) {
  const Options o = ok({});
  EXPECT_EQ(o.instance, "0");
  EXPECT_EQ(o.workers, kCpus);
  EXPECT_EQ(o.verbosity, 0u);
  EXPECT_FALSE(o.foreground);
  EXPECT_FALSE(o.help);
  EXPECT_TRUE(o.drivers.empty());
  EXPECT_TRUE(o.driver_paths.empty());
  EXPECT_EQ(o.stack.threads_min, 4u);
  EXPECT_EQ(o.stack.threads_max, 64u);
  EXPECT_EQ(o.stack.mclbytes, 2048u);
  EXPECT_EQ(o.stack.mbuf_max, 65536u);
  EXPECT_EQ(o.stack.cluster_max, 32768u);
  EXPECT_EQ(o.stack.stack_watchdog_ms, 500u);
  EXPECT_EQ(o.stack.quiesce_timeout_ms, 2000u);
  EXPECT_EQ(o.stack.pt_stack_kb, 128u);
  EXPECT_EQ(o.stack.poll_us, 50u);
}

TEST(Options, DefaultWorkersFollowCpuCountClampedToValidRange) {
  EXPECT_EQ(ok({}, 1).workers, 1u);
  EXPECT_EQ(ok({}, 0).workers, 1u);  // sysconf failure must not yield zero workers
  EXPECT_EQ(ok({}, 1000).workers, kMaxWorkers);
}

TEST(Options, VerbosityCountsEveryV) {
  EXPECT_EQ(ok({"-v"}).verbosity, 1u);
  EXPECT_EQ(ok({"-v", "-v", "-v"}).verbosity, 3u);
  EXPECT_EQ(ok({"-vv", "-v"}).verbosity, 3u);
}

TEST(Options, Foreground) { EXPECT_TRUE(ok({"-f"}).foreground); }

TEST(Options, GroupedFlagsLikeGetopt) {
  const Options o = ok({"-vfv", "-vt3"});
  EXPECT_EQ(o.verbosity, 3u);
  EXPECT_TRUE(o.foreground);
  EXPECT_EQ(o.workers, 3u);
  EXPECT_EQ(ok({"-fd", "e1000"}).drivers.at(0).name_or_path, "e1000");
}

TEST(Options, HelpShortAndLong) {
  EXPECT_TRUE(ok({"-h"}).help);
  EXPECT_TRUE(ok({"--help"}).help);
  EXPECT_TRUE(ok({"-v", "-h"}).help);
}

TEST(Options, HelpStopsParsingSoLaterMistakesDoNotHideIt) {
  EXPECT_TRUE(ok({"-h", "--bogus", "-t", "x"}).help);
  EXPECT_TRUE(ok({"-p", "tcpip,threads_max=1", "-h"}).help);  // no cross-check with -h
}

TEST(Options, HelpBeforeAnErrorOnlyIfItComesFirst) {
  EXPECT_TRUE(mentions(error({"-t", "x", "-h"}), {"-t", "'x'"}));
}

TEST(Options, LongHelpTakesNoValue) {
  EXPECT_TRUE(mentions(error({"--help=yes"}), {"--help"}));
}

// ---- -t ----------------------------------------------------------------------------------------

TEST(Options, WorkersSeparateAndAttached) {
  EXPECT_EQ(ok({"-t", "2"}).workers, 2u);
  EXPECT_EQ(ok({"-t2"}).workers, 2u);
  EXPECT_EQ(ok({"-t", "1"}).workers, 1u);
  EXPECT_EQ(ok({"-t", "256"}).workers, 256u);
  EXPECT_EQ(ok({"-t", "007"}).workers, 7u);
  EXPECT_EQ(ok({"-t", "2", "-t", "5"}).workers, 5u);  // later wins
}

TEST(Options, WorkersRejectsBadNumbersWithTheDocumentedMessage) {
  EXPECT_EQ(error({"-t", "x"}), "pktd: -t: expected a number from 1 to 256, got 'x'");
  for (const char* bad : {"0", "257", "2x", " 2", "+2", "0x10", "", "99999999999999999999999"}) {
    EXPECT_TRUE(mentions(error({"-t", bad}), {"-t:", "1 to 256", "'" + std::string(bad) + "'"}))
        << bad;
  }
  EXPECT_TRUE(mentions(error({"-t-1"}), {"-t:", "'-1'"}));
}

// ---- -i ----------------------------------------------------------------------------------------

TEST(Options, InstanceAcceptedForms) {
  EXPECT_EQ(ok({"-i", "lab"}).instance, "lab");
  EXPECT_EQ(ok({"-ilab"}).instance, "lab");
  EXPECT_EQ(ok({"-i", "A-z_09"}).instance, "A-z_09");
  EXPECT_EQ(ok({"-i", "x-"}).instance, "x-");
  const std::string longest(kMaxInstanceLength, 'a');
  EXPECT_EQ(ok({"-i", longest.c_str()}).instance, longest);
}

TEST(Options, InstanceRejectsAnythingUnsafeInASocketPath) {
  const std::string too_long(kMaxInstanceLength + 1, 'a');
  for (const char* bad : {"", "a/b", "..", ".", "a.b", "a b", "é", too_long.c_str()}) {
    EXPECT_TRUE(mentions(error({"-i", bad}), {"-i:", "'" + std::string(bad) + "'"})) << bad;
  }
}

TEST(Options, ControlCharactersInBadValuesAreEscapedSoTheErrorIsOneLine) {
  // error() itself checks that the message has no newline.
  EXPECT_TRUE(mentions(error({"-i", "a\nb"}), {"-i:", "'a\\nb'"}));
  EXPECT_TRUE(mentions(error({"-t", "1\x1b[2J"}), {"-t:", "'1\\x1b[2J'"}));
}

// ---- -d and -D ---------------------------------------------------------------------------------

TEST(Options, DriversKeptInOrderWithVerbatimOptions) {
  const Options o = ok({"-d", "e1000,irq=5,mtu=9000", "-dtap", "-d",
                        "/opt/drv/devnp-x.so,a=b=c,,flag", "-d", "e1000,"});
  ASSERT_EQ(o.drivers.size(), 4u);
  EXPECT_EQ(o.drivers[0].name_or_path, "e1000");
  EXPECT_EQ(o.drivers[0].options, "irq=5,mtu=9000");
  EXPECT_EQ(o.drivers[1].name_or_path, "tap");
  EXPECT_EQ(o.drivers[1].options, "");
  EXPECT_EQ(o.drivers[2].name_or_path, "/opt/drv/devnp-x.so");
  EXPECT_EQ(o.drivers[2].options, "a=b=c,,flag");  // not interpreted: the driver owns it
  EXPECT_EQ(o.drivers[3].name_or_path, "e1000");
  EXPECT_EQ(o.drivers[3].options, "");
}

TEST(Options, DriverNeedsAName) {
  EXPECT_TRUE(mentions(error({"-d", ""}), {"-d:", "''"}));
  EXPECT_TRUE(mentions(error({"-d", ",irq=5"}), {"-d:", "',irq=5'"}));
}

TEST(Options, DriverPathsShortLongAndAttached) {
  const Options o =
      ok({"-D", "/a", "--driver-path", "/b", "--driver-path=/c", "-D/d"});
  EXPECT_EQ(o.driver_paths, (std::vector<std::string>{"/a", "/b", "/c", "/d"}));
}

TEST(Options, DriverPathMustNotBeEmpty) {
  EXPECT_TRUE(mentions(error({"-D", ""}), {"-D:"}));
  EXPECT_TRUE(mentions(error({"--driver-path="}), {"--driver-path:"}));
}

// ---- -p tcpip ----------------------------------------------------------------------------------

TEST(Options, StackEveryOptionAccepted) {
  const Options o = ok({"-p",
                        "tcpip,threads_min=2,threads_max=8,mclbytes=4096,mbuf_max=1000,"
                        "cluster_max=2000,stack_watchdog_ms=0,quiesce_timeout_ms=10,"
                        "pt_stack_kb=256,poll_us=0,ifq_maxlen=8"});
  EXPECT_EQ(o.stack.threads_min, 2u);
  EXPECT_EQ(o.stack.threads_max, 8u);
  EXPECT_EQ(o.stack.mclbytes, 4096u);
  EXPECT_EQ(o.stack.mbuf_max, 1000u);
  EXPECT_EQ(o.stack.cluster_max, 2000u);
  EXPECT_EQ(o.stack.stack_watchdog_ms, 0u);
  EXPECT_EQ(o.stack.quiesce_timeout_ms, 10u);
  EXPECT_EQ(o.stack.pt_stack_kb, 256u);
  EXPECT_EQ(o.stack.poll_us, 0u);
  EXPECT_EQ(o.stack.ifq_maxlen, 8u);
}

TEST(Options, StackBareModuleAndAttachedForm) {
  EXPECT_EQ(ok({"-p", "tcpip"}).stack.threads_min, 4u);
  EXPECT_EQ(ok({"-ptcpip,threads_min=3"}).stack.threads_min, 3u);
}

TEST(Options, StackRangeBoundaries) {
  EXPECT_EQ(ok({"-p", "tcpip,threads_min=1,threads_max=1"}).stack.threads_max, 1u);
  EXPECT_EQ(ok({"-p", "tcpip,threads_min=1024,threads_max=4096"}).stack.threads_max, 4096u);
  EXPECT_EQ(ok({"-p", "tcpip,mclbytes=65536"}).stack.mclbytes, 65536u);
  EXPECT_EQ(ok({"-p", "tcpip,mbuf_max=64,cluster_max=16777216"}).stack.cluster_max, 16777216u);
  EXPECT_EQ(ok({"-p", "tcpip,stack_watchdog_ms=10"}).stack.stack_watchdog_ms, 10u);
  EXPECT_EQ(ok({"-p", "tcpip,stack_watchdog_ms=600000"}).stack.stack_watchdog_ms, 600000u);
  EXPECT_EQ(ok({"-p", "tcpip,quiesce_timeout_ms=600000"}).stack.quiesce_timeout_ms, 600000u);
  EXPECT_EQ(ok({"-p", "tcpip,pt_stack_kb=16"}).stack.pt_stack_kb, 16u);
  EXPECT_EQ(ok({"-p", "tcpip,pt_stack_kb=8192"}).stack.pt_stack_kb, 8192u);
}

TEST(Options, StackKSuffixForSizes) {
  const Options o = ok({"-p", "tcpip,mclbytes=4k,mbuf_max=128K,cluster_max=16384k"});
  EXPECT_EQ(o.stack.mclbytes, 4096u);
  EXPECT_EQ(o.stack.mbuf_max, 128u * 1024u);
  EXPECT_EQ(o.stack.cluster_max, 16777216u);
}

TEST(Options, StackKSuffixOnlyForSizes) {
  EXPECT_TRUE(mentions(error({"-p", "tcpip,pt_stack_kb=1k"}), {"pt_stack_kb", "'1k'"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads_min=1k"}), {"threads_min", "'1k'"}));
}

struct BadStackValue {
  const char* arg;
  const char* option;
  const char* value;
};

TEST(Options, StackBadValuesNameOptionAndValue) {
  const BadStackValue cases[] = {
      {"tcpip,threads_min=0", "threads_min", "'0'"},
      {"tcpip,threads_min=1025", "threads_min", "'1025'"},
      {"tcpip,threads_max=4097", "threads_max", "'4097'"},
      {"tcpip,threads_max=0", "threads_max", "'0'"},
      {"tcpip,mclbytes=3000", "mclbytes", "'3000'"},       // not a power of two
      {"tcpip,mclbytes=1024", "mclbytes", "'1024'"},       // power of two, too small
      {"tcpip,mclbytes=128k", "mclbytes", "'128k'"},       // power of two, too large
      {"tcpip,mbuf_max=63", "mbuf_max", "'63'"},
      {"tcpip,mbuf_max=16777217", "mbuf_max", "'16777217'"},
      {"tcpip,cluster_max=16385k", "cluster_max", "'16385k'"},
      {"tcpip,cluster_max=k", "cluster_max", "'k'"},
      {"tcpip,cluster_max=4kk", "cluster_max", "'4kk'"},
      {"tcpip,stack_watchdog_ms=9", "stack_watchdog_ms", "'9'"},
      {"tcpip,stack_watchdog_ms=600001", "stack_watchdog_ms", "'600001'"},
      {"tcpip,quiesce_timeout_ms=0", "quiesce_timeout_ms", "'0'"},
      {"tcpip,quiesce_timeout_ms=600001", "quiesce_timeout_ms", "'600001'"},
      {"tcpip,pt_stack_kb=15", "pt_stack_kb", "'15'"},
      {"tcpip,pt_stack_kb=8193", "pt_stack_kb", "'8193'"},
      {"tcpip,threads_min=2x", "threads_min", "'2x'"},      // trailing garbage
      {"tcpip,threads_min=-1", "threads_min", "'-1'"},      // negative
      {"tcpip,threads_min=", "threads_min", "''"},          // empty
      {"tcpip,threads_min= 2", "threads_min", "' 2'"},
      {"tcpip,mbuf_max=18446744073709551616", "mbuf_max", "'18446744073709551616'"},  // 2^64
      {"tcpip,mbuf_max=18014398509481984k", "mbuf_max", "'18014398509481984k'"},  // 2^54 k
  };
  for (const BadStackValue& c : cases) {
    EXPECT_TRUE(mentions(error({"-p", c.arg}), {"-p tcpip", c.option, c.value})) << c.arg;
  }
}

TEST(Options, StackErrorMessageSaysWhatIsExpected) {
  EXPECT_EQ(error({"-p", "tcpip,threads_min=x"}),
            "pktd: -p tcpip: threads_min: expected a number from 1 to 1024, got 'x'");
  EXPECT_TRUE(mentions(error({"-p", "tcpip,mclbytes=3000"}), {"power of two"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpip,stack_watchdog_ms=5"}), {"0 (off)"}));
}

TEST(Options, StackUnknownOption) {
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads=4"}), {"-p tcpip", "unknown", "'threads'"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpip,Threads_min=4"}), {"'Threads_min'"}));
}

TEST(Options, StackOptionWithoutEquals) {
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads_min"}), {"'threads_min'", "value"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpip,bogus"}), {"'bogus'"}));
}

TEST(Options, StackEmptyItems) {
  EXPECT_TRUE(mentions(error({"-p", "tcpip,"}), {"-p tcpip", "empty"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads_min=2,,threads_max=9"}), {"empty"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpip,=5"}), {"'=5'"}));
}

TEST(Options, StackDuplicateInOneOptionIsAnError) {
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads_min=2,threads_min=3"}),
                       {"-p tcpip", "'threads_min'", "twice", "'3'"}));
}

TEST(Options, StackModuleMustBeTcpip) {
  EXPECT_TRUE(mentions(error({"-p", "udp,threads_min=2"}), {"-p:", "'udp'", "tcpip"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpipx"}), {"'tcpipx'"}));
  EXPECT_TRUE(mentions(error({"-p", ",threads_min=2"}), {"-p:", "''"}));
  EXPECT_TRUE(mentions(error({"-p", "TCPIP"}), {"'TCPIP'"}));
}

TEST(Options, StackSeveralPMergeAndLaterWins) {
  const Options o = ok({"-p", "tcpip,threads_min=2,mclbytes=4k", "-p",
                        "tcpip,threads_min=3,threads_max=9", "-p", "tcpip"});
  EXPECT_EQ(o.stack.threads_min, 3u);   // overridden
  EXPECT_EQ(o.stack.threads_max, 9u);   // added
  EXPECT_EQ(o.stack.mclbytes, 4096u);   // kept
  EXPECT_EQ(o.stack.mbuf_max, 65536u);  // default
}

TEST(Options, StackThreadsMinAboveMaxRejectedAfterAllP) {
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads_min=10,threads_max=5"}),
                       {"threads_max", "threads_min", "(5)", "(10)"}));
  // Against the default threads_min of 4.
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads_max=2"}), {"threads_max (2)"}));
  // Checked only at the end: an intermediate inconsistency is fine.
  const Options o = ok({"-p", "tcpip,threads_min=100", "-p", "tcpip,threads_max=200"});
  EXPECT_EQ(o.stack.threads_min, 100u);
  EXPECT_EQ(o.stack.threads_max, 200u);
  EXPECT_TRUE(mentions(error({"-p", "tcpip,threads_max=100", "-p", "tcpip,threads_min=101"}),
                       {"threads_max (100)", "threads_min (101)"}));
}

// ---- general errors ----------------------------------------------------------------------------

TEST(Options, UnknownFlags) {
  EXPECT_TRUE(mentions(error({"-x"}), {"unknown option", "'-x'"}));
  EXPECT_TRUE(mentions(error({"-vx"}), {"'-x'"}));
  EXPECT_TRUE(mentions(error({"--bogus"}), {"'--bogus'"}));
  EXPECT_TRUE(mentions(error({"--bogus=1"}), {"'--bogus'"}));
  EXPECT_TRUE(mentions(error({"--verbose"}), {"'--verbose'"}));
}

TEST(Options, MissingArguments) {
  for (const char* flag : {"-i", "-t", "-d", "-D", "-p", "--driver-path"}) {
    EXPECT_TRUE(mentions(error({flag}), {std::string(flag) + ":", "missing argument"})) << flag;
  }
  EXPECT_TRUE(mentions(error({"-vt"}), {"-t:", "missing argument"}));
}

TEST(Options, OptionLikeWordIsNotTakenAsAValue) {
  EXPECT_TRUE(mentions(error({"-d", "-v"}), {"-d:", "missing argument", "'-v'"}));
  EXPECT_TRUE(mentions(error({"-i", "-f"}), {"-i:", "'-f'"}));
  EXPECT_TRUE(mentions(error({"-t", "-1"}), {"-t:", "'-1'"}));
  EXPECT_EQ(ok({"-d-odd"}).drivers.at(0).name_or_path, "-odd");  // attached form still works
}

TEST(Options, StrayPositionalArguments) {
  EXPECT_TRUE(mentions(error({"e1000"}), {"unexpected argument", "'e1000'"}));
  EXPECT_TRUE(mentions(error({"-v", "extra"}), {"'extra'"}));
  EXPECT_TRUE(mentions(error({"-"}), {"'-'"}));
  EXPECT_TRUE(mentions(error({"--", "x"}), {"'x'"}));
  EXPECT_EQ(ok({"-v", "--"}).verbosity, 1u);
}

TEST(Options, NoArgumentsAtAll) {
  const char* const argv[] = {"pktd", nullptr};
  EXPECT_TRUE(parse_options(1, argv, 2).options.has_value());
  EXPECT_TRUE(parse_options(0, argv, 2).options.has_value());  // argc 0 is legal in execve
}

TEST(Options, ParserIsReentrantAndHasNoHiddenState) {
  // getopt keeps optind between calls; this parser must give the same answer twice.
  const Options a = ok({"-t", "3", "-d", "e1000,x=1"});
  const Options b = ok({"-t", "3", "-d", "e1000,x=1"});
  EXPECT_EQ(a.workers, b.workers);
  EXPECT_EQ(b.drivers.size(), 1u);
}

TEST(Options, EverythingTogether) {
  const Options o = ok({"-i", "lab1", "-t", "4", "-d", "e1000,irq=5", "-D", "/usr/lib/pktd",
                        "-p", "tcpip,mclbytes=8k", "-vv", "-f"});
  EXPECT_EQ(o.instance, "lab1");
  EXPECT_EQ(o.workers, 4u);
  ASSERT_EQ(o.drivers.size(), 1u);
  EXPECT_EQ(o.drivers[0].options, "irq=5");
  EXPECT_EQ(o.driver_paths.size(), 1u);
  EXPECT_EQ(o.stack.mclbytes, 8192u);
  EXPECT_EQ(o.verbosity, 2u);
  EXPECT_TRUE(o.foreground);
  EXPECT_FALSE(o.help);
}

// ---- usage -------------------------------------------------------------------------------------

TEST(Options, UsageListsEveryOptionWithDefaults) {
  const std::string text = usage();
  for (const char* fragment :
       {"-i INSTANCE", "-t WORKERS", "-d DRIVER", "-D, --driver-path", "-p tcpip", "-v", "-f",
        "-h, --help", "online CPUs", "threads_min=N", "threads_max=N", "mclbytes=N[k]",
        "mbuf_max=N[k]", "cluster_max=N[k]", "stack_watchdog_ms=N", "quiesce_timeout_ms=N",
        "pt_stack_kb=N", "(default: 0)", "(default: 4)", "(default: 64)", "(default: 2048)",
        "(default: 65536)", "(default: 32768)", "(default: 500)", "(default: 2000)",
        "(default: 128)"}) {
    EXPECT_NE(text.find(fragment), std::string::npos) << fragment;
  }
  EXPECT_EQ(text.back(), '\n');
}

}  // namespace
}  // namespace pktd::daemon

namespace pktd::daemon {
namespace {

TEST(Options, TcpCongestionAndSyncookies) {
  EXPECT_EQ(ok({}).stack.tcp_congestion, "cubic");
  EXPECT_EQ(ok({}).stack.tcp_syncookies, 1u);
  const Options o = ok({"-p", "tcpip,tcp_congestion=newreno,tcp_syncookies=0"});
  EXPECT_EQ(o.stack.tcp_congestion, "newreno");
  EXPECT_EQ(o.stack.tcp_syncookies, 0u);
  EXPECT_TRUE(mentions(error({"-p", "tcpip,tcp_congestion=bbr"}), {"tcp_congestion", "cubic, newreno", "bbr"}));
  EXPECT_TRUE(mentions(error({"-p", "tcpip,tcp_syncookies=2"}), {"tcp_syncookies", "2"}));
}

}  // namespace
}  // namespace pktd::daemon
