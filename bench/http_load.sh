#!/bin/sh
# A bounded load test of journey serve on 127.0.0.1: a fixed number of
# POST /events requests over keep-alive connections, one event per
# request and then 100, against a fresh SQLite store. Prints one JSON
# line per configuration.
#
# usage: bench/http_load.sh [REQUESTS] [CONNECTIONS]
set -eu
cd "$(dirname "$0")/.."

requests=${1:-20000}
connections=${2:-16}
dir=$(mktemp -d /tmp/journey-http-load.XXXXXX)

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target journey http_load >/dev/null
mkdir -p "$dir/scripts"
cp tests/serve/journeys.lua "$dir/scripts/"

for events in 1 100; do
    rm -f "$dir"/store.db*
    port=$((30000 + $$ % 20000))
    ./build-release/journey serve "$dir/scripts" --store "sqlite:$dir/store.db" \
        --listen "127.0.0.1:$port" 2> "$dir/server.log" &
    pid=$!
    sleep 0.5
    n=$requests
    [ "$events" -gt 1 ] && n=$((requests / 20))
    ./build-release/http_load "$port" "$n" "$connections" "$events"
    kill -TERM "$pid"
    wait "$pid"
done
rm -rf "$dir"
