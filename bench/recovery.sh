#!/bin/sh
# Recovery time: builds a SQLite store with N live runs whose journals
# hold 10 steps each, then measures how long a host takes from start to
# every live run replayed and re-armed. Prints one JSON line per run.
#
# usage: bench/recovery.sh [N] [RUNS]
set -eu
cd "$(dirname "$0")/.."

n=${1:-100000}
runs=${2:-2}
dir=$(mktemp -d /tmp/journey-recovery.XXXXXX)

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target journey >/dev/null

cat > "$dir/journey.lua" <<'LUA'
local journey = require "journey"
journey.define {
  name = "ten_steps",
  on = "app/started",
  run = function(j)
    for _ = 1, 9 do j.now() end
    j.wait_for("app/finished", { timeout = "30d" })
  end,
}
LUA
awk -v n="$n" 'BEGIN { for (i = 0; i < n; i++)
    printf "{\"id\":\"s%d\",\"user\":\"u%d\",\"name\":\"app/started\",\"ts\":%.0f}\n", i, i, 1704067200000 + i }' \
    > "$dir/events.jsonl"
./build-release/journey simulate "$dir/journey.lua" --events "$dir/events.jsonl" \
    --store "sqlite:$dir/store.db" --until 1d --quiet > /dev/null

# The same input again: every event is committed already, so the run is
# the recovery alone: open, load, replay, re-arm.
run=1
while [ "$run" -le "$runs" ]; do
    start=$(date +%s.%N)
    ./build-release/journey simulate "$dir/journey.lua" --events "$dir/events.jsonl" \
        --store "sqlite:$dir/store.db" --until 1d --json > "$dir/summary.json" 2> "$dir/log"
    end=$(date +%s.%N)
    recovered=$(grep -o 'replayed [0-9]* live runs' "$dir/log" | grep -o '[0-9]*')
    printf '{"bench":"recovery","run":%d,"live_runs":%s,"journal_steps":10,"seconds":%.3f,"summary":%s}\n' \
        "$run" "$recovered" "$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')" "$(cat "$dir/summary.json")"
    run=$((run + 1))
done
rm -rf "$dir"
