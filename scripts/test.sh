#!/usr/bin/env bash
# The whole test suite: installs what it needs, then builds and runs every test in the normal
# build (warnings as errors), under AddressSanitizer+UndefinedBehaviorSanitizer and under
# ThreadSanitizer, checks that clang 14 builds the tree and runs the libFuzzer targets briefly.
#   scripts/test.sh            everything (what CI runs)
#   scripts/test.sh --quick    the normal build only
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh

quick=0
[ "${1:-}" = "--quick" ] && quick=1
jobs=$(nproc)
status=0

run_suite() {  # preset, build dir
  echo "=== $1: build"
  scripts/build.sh "$1"
  echo "=== $1: test"
  if ! ctest --test-dir "$2" -j "$jobs" --output-on-failure --timeout 300; then
    status=1
  fi
}

run_suite ci build
if [ $quick -eq 0 ]; then
  # halt_on_error: a sanitizer report fails the test that caused it.
  export ASAN_OPTIONS=detect_leaks=1:halt_on_error=1:abort_on_error=0
  export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
  export TSAN_OPTIONS=halt_on_error=1:second_deadlock_stack=1
  run_suite asan build-asan
  run_suite tsan build-tsan
  echo "=== clang: build, and the fuzzers for a bounded time"
  scripts/build.sh clang
  if ! ctest --test-dir build-clang -L fuzz --output-on-failure; then
    status=1
  fi
fi
exit $status
