#!/bin/sh
# Durable ingest: the same stream of events replayed through the crash
# test's journeys (steps, emits, waits) into a fresh SQLite store, once
# per configuration: one transaction per event against group commits,
# at synchronous FULL and NORMAL, with the memory store as the ceiling.
# Prints one JSON line per configuration and run with events per second
# and commit latency percentiles.
#
# usage: bench/durable_ingest.sh [USERS] [RUNS] [DIR]
#   USERS  users in the generated stream, about 7 events each (default 2000)
#   RUNS   repetitions of each configuration (default 2)
#   DIR    where the store files go (default a new directory under /tmp);
#          put it on the disk you want to measure
set -eu
cd "$(dirname "$0")/.."

users=${1:-2000}
runs=${2:-2}
dir=${3:-$(mktemp -d /tmp/journey-bench.XXXXXX)}

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 >/dev/null
lua5.4 tests/crash/make_events.lua "$users" > "$dir/events.jsonl"

one() { # one LABEL STORE_ARGS...
    label=$1
    shift
    rm -f "$dir"/bench.db*
    summary=$(./build-release/journey simulate tests/crash/journeys.lua \
        --events "$dir/events.jsonl" --retention off --json "$@")
    printf '{"bench":"durable_ingest","config":"%s","run":%d,"summary":%s}\n' \
        "$label" "$run" "$summary"
}

run=1
while [ "$run" -le "$runs" ]; do
    one memory --store memory
    one sqlite-full-per-event --store "sqlite:$dir/bench.db" --sync full --commit-every 1
    one sqlite-full-group-500 --store "sqlite:$dir/bench.db" --sync full --commit-every 500
    one sqlite-normal-per-event --store "sqlite:$dir/bench.db" --sync normal --commit-every 1
    one sqlite-normal-group-500 --store "sqlite:$dir/bench.db" --sync normal --commit-every 500
    run=$((run + 1))
done
rm -f "$dir"/bench.db*
