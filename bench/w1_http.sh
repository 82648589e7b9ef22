#!/bin/bash
# W1 over HTTP: journey serve on 127.0.0.1 with a SQLite store or the
# memory store, N runs started over POST /events, then one
# app/account.created per request over 16 keep-alive connections.
# Memory is the server's VmRSS.
#
# With SQLite, the wake time of a run is the ts of the app/observed event
# it emits right after its wait returns (millisecond resolution), read
# from the store afterwards. The memory store keeps nothing to read, so
# there the end is when GET /healthz first counts no live run (polled
# every 10 ms). The wake latency is then the server's own histogram
# (event reached the host to run resumed), given as the upper bounds of
# the buckets that hold the median and the 99th percentile.
#
# usage: bench/w1_http.sh [N] [CONNECTIONS] [STORE]
#   STORE  sqlite (default) or memory
set -eu
cd "$(dirname "$0")/.."

n=${1:-10000}
connections=${2:-16}
store=${3:-sqlite}
dir=$(mktemp -d /tmp/journey-w1-http.XXXXXX)

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target journey w1_client >/dev/null
mkdir -p "$dir/scripts"
cp bench/w1_journey.lua "$dir/scripts/"

port=$((30000 + $$ % 20000))
spec="sqlite:$dir/store.db"
[ "$store" = memory ] && spec=memory
./build-release/journey serve "$dir/scripts" --store "$spec" \
    --listen "127.0.0.1:$port" 2> "$dir/server.log" &
server=$!
sleep 0.5
rss_before=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")

mkfifo "$dir/go"
./build-release/w1_client "$port" "$n" "$connections" "$dir/sent.csv" < "$dir/go" > "$dir/client.out" &
client=$!
exec 3> "$dir/go"
while ! grep -q started "$dir/client.out" 2> /dev/null; do sleep 0.2; done
sleep 2
rss_waiting=$(awk '/VmRSS/ {print $2}' "/proc/$server/status")
echo go >&3
exec 3>&-
wait "$client"

if [ "$store" = memory ]; then
    while ! curl -s "http://127.0.0.1:$port/healthz" | grep -q '"live_runs":0,'; do
        sleep 0.01
    done
    end_ms=$(date +%s%3N)
    metrics=$(curl -s "http://127.0.0.1:$port/metrics")
    kill -TERM "$server"
    wait "$server"
    first_ms=$(cut -d, -f2 "$dir/sent.csv" | sort -n | head -1)
    wall_ms=$((end_ms - first_ms))
    # The bucket upper bounds (seconds) where the cumulative count
    # reaches half and 99% of all wakes.
    bounds=$(printf '%s\n' "$metrics" | awk -F'[{}" ]+' '
        /^journey_wake_seconds_bucket/ { le[++k] = $3; count[k] = $NF }
        /^journey_wake_seconds_count/ { total = $NF }
        END {
            p50 = ""; p99 = ""
            for (i = 1; i <= k; i++) {
                if (p50 == "" && count[i] >= total * 0.5) p50 = le[i]
                if (p99 == "" && count[i] >= total * 0.99) p99 = le[i]
            }
            print p50 * 1000, p99 * 1000
        }')
    set -- $bounds
    printf '{"workload":"W1","system":"journey","mode":"http","store":"memory","n":%d,' "$n"
    printf '"rss_kib_before":%d,"rss_kib_waiting":%d,"bytes_per_waiting_run":%d,' \
        "$rss_before" "$rss_waiting" $(( (rss_waiting - rss_before) * 1024 / n ))
    printf '"wall_s":%s,"completed_per_s":%d,"server_wake_ms_p50_at_most":%s,"server_wake_ms_p99_at_most":%s}\n' \
        "$(awk -v m="$wall_ms" 'BEGIN { print m / 1000 }')" $(( n * 1000 / (wall_ms > 0 ? wall_ms : 1) )) \
        "$1" "$2"
    rm -rf "$dir"
    exit 0
fi

sleep 1
kill -TERM "$server"
wait "$server"

sqlite3 "$dir/store.db" <<SQL > "$dir/figures"
CREATE TEMP TABLE sent (n INTEGER PRIMARY KEY, ms INTEGER);
.mode csv
.import $dir/sent.csv sent
.mode list
CREATE TEMP TABLE wake AS
  SELECT json_extract(e.data, '\$.n') AS n, e.ts - s.ms AS ms
  FROM events e JOIN sent s ON s.n = json_extract(e.data, '\$.n')
  WHERE e.name = 'app/observed';
SELECT count(*) FROM wake;
SELECT ms FROM wake ORDER BY ms LIMIT 1 OFFSET (SELECT (count(*) - 1) / 2 FROM wake);
SELECT ms FROM wake ORDER BY ms LIMIT 1 OFFSET (SELECT CAST((count(*) - 1) * 0.99 AS INTEGER) FROM wake);
SELECT max(ms) FROM wake;
SELECT (SELECT max(ts) FROM events WHERE name = 'app/observed') - (SELECT min(ms) FROM sent);
SQL
set -- $(cat "$dir/figures")
observed=$1 p50=$2 p99=$3 max=$4 wall_ms=$5
printf '{"workload":"W1","system":"journey","mode":"http","store":"sqlite","n":%d,"observed":%d,' "$n" "$observed"
printf '"rss_kib_before":%d,"rss_kib_waiting":%d,"bytes_per_waiting_run":%d,' \
    "$rss_before" "$rss_waiting" $(( (rss_waiting - rss_before) * 1024 / n ))
printf '"wall_s":%s,"completed_per_s":%d,"wake_ms_p50":%d,"wake_ms_p99":%d,"wake_ms_max":%d}\n' \
    "$(awk -v m="$wall_ms" 'BEGIN { print m / 1000 }')" $(( n * 1000 / (wall_ms > 0 ? wall_ms : 1) )) \
    "$p50" "$p99" "$max"
rm -rf "$dir"
