#!/bin/sh
# Backtest throughput: replays an events file through the shipped retail
# journeys with `journey simulate` in a release build, several times, and
# prints one JSON line per run with events per second and peak RSS.
#
# usage: bench/backtest.sh [EVENTS_FILE] [RUNS] [JOBS]
#   EVENTS_FILE  JSON Lines input (default: the shipped UCI sample); pass
#                the full UCI Online Retail conversion for the real figure
#   RUNS         how many times to run (default 3)
#   JOBS         threads for `journey simulate --jobs` (default 1)
set -eu
cd "$(dirname "$0")/.."

events=${1:-data/uci-online-retail/events.jsonl}
runs=${2:-3}
jobs=${3:-1}

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 >/dev/null

i=1
while [ "$i" -le "$runs" ]; do
    summary=$(./build-release/journey simulate scripts/winback.lua scripts/post_purchase.lua \
        --events "$events" --json --jobs "$jobs")
    printf '{"bench":"backtest","run":%d,"events_file":"%s","summary":%s}\n' "$i" "$events" "$summary"
    i=$((i + 1))
done
