#!/bin/bash
# W1 over HTTP: journey serve with a SQLite store on 127.0.0.1, N runs
# started over POST /events, then one app/account.created per request
# over 16 keep-alive connections. Memory is the server's VmRSS; the
# wake time of a run is the ts of the app/observed event it emits right
# after its wait returns (millisecond resolution).
#
# usage: bench/w1_http.sh [N] [CONNECTIONS]
set -eu
cd "$(dirname "$0")/.."

n=${1:-10000}
connections=${2:-16}
dir=$(mktemp -d /tmp/journey-w1-http.XXXXXX)

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target journey w1_client >/dev/null
mkdir -p "$dir/scripts"
cp bench/w1_journey.lua "$dir/scripts/"

port=$((30000 + $$ % 20000))
./build-release/journey serve "$dir/scripts" --store "sqlite:$dir/store.db" \
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
