#!/bin/sh
# The backtest at scale: the full UCI Online Retail conversion replicated
# COPIES times with shifted user ids (user "17850" becomes "17850-3" in
# copy 3), so the copies interleave in time as more customers would, then
# replayed with `journey simulate` through the shipped retail journeys.
# Prints the simulator's JSON summary with events per second and peak
# RSS.
#
# usage: bench/backtest_replicated.sh UCI_EVENTS_FILE [COPIES] [JOBS]
#   UCI_EVENTS_FILE  the full conversion (22,190 events); see
#                    data/uci-online-retail/SOURCE.md
#   COPIES           default 91, which makes 2,019,290 events
#   JOBS             threads for `journey simulate --jobs` (default 1)
set -eu
cd "$(dirname "$0")/.."

source_file=$1
copies=${2:-91}
jobs=${3:-1}
dir=$(mktemp -d /tmp/journey-replicated.XXXXXX)

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target journey >/dev/null

awk -v copies="$copies" '{
    for (k = 0; k < copies; k++) {
        line = $0
        sub(/"user":"[^"]*"/, "&", line)
        match(line, /"user":"[^"]*"/)
        user = substr(line, RSTART + 8, RLENGTH - 9)
        print substr(line, 1, RSTART - 1) "\"user\":\"" user "-" k "\"" substr(line, RSTART + RLENGTH)
    }
}' "$source_file" > "$dir/events.jsonl"
events=$(wc -l < "$dir/events.jsonl")

summary=$(./build-release/journey simulate scripts/winback.lua scripts/post_purchase.lua \
    --events "$dir/events.jsonl" --json --quiet --jobs "$jobs")
printf '{"bench":"backtest_replicated","copies":%d,"events":%d,"summary":%s}\n' \
    "$copies" "$events" "$summary"
rm -rf "$dir"
