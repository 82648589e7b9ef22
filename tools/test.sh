#!/bin/sh
# Runs every test: the C tests (CTest) and the Lua specs (busted), first
# in a normal build, then again in an AddressSanitizer and
# UndefinedBehaviorSanitizer build.
set -eu
cd "$(dirname "$0")/.."

tools/deps.sh

run_suite() {
    build=$1
    shift
    cmake -S . -B "$build" "$@" >/dev/null
    cmake --build "$build" -j2 >/dev/null
    ctest --test-dir "$build" --output-on-failure
    JOURNEY_BIN="$build/journey" lua5.4 /usr/bin/busted --cpath="$build/?.so" spec/
}

echo "== normal build =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "== sanitizer build (ASan + UBSan) =="
# The Lua interpreter is not built with ASan, so the runtime is preloaded
# for the specs; leak checks stay with the C tests, because busted exits
# without closing its Lua state.
asan_runtime=$(gcc -print-file-name=libasan.so)
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DJOURNEY_SANITIZE=ON >/dev/null
cmake --build build-asan -j2 >/dev/null
ctest --test-dir build-asan --output-on-failure
JOURNEY_BIN="build-asan/journey" \
    LD_PRELOAD="$asan_runtime" ASAN_OPTIONS=detect_leaks=0 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    lua5.4 /usr/bin/busted --cpath="build-asan/?.so" spec/
