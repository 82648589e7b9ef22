#!/bin/bash
# W3 durability: journey serve with a SQLite store on 127.0.0.1 starts N
# runs of bench/w1_journey.lua that each wait for their user's
# app/account.created. Once all N wait, the server is killed with
# SIGKILL and started again on the same store. Then the N events are
# delivered, and the runs that complete within 2 minutes are counted,
# from the server's metrics and again from the store. One JSON line per
# run.
#
# usage: bench/w3_kill.sh [N] [RUNS]
#   N     waiting runs (default 1000)
#   RUNS  repetitions, each on a fresh store (default 2)
# With JOURNEY_BIN set to a journey program, it uses that one instead of
# building build-release. It exits with status 1 when a run completed
# fewer than N runs, so CTest can run it as a check at a small N.
#
# Times in the output: start_s (first start request to all N waiting),
# restart_s (new process to its first /healthz response, which includes
# the replay of the N runs), deliver_s (first event sent to the last
# response) and complete_s (first event sent to N runs completed).
set -eu
cd "$(dirname "$0")/.."

n=${1:-1000}
runs=${2:-2}
limit_s=120

journey=${JOURNEY_BIN:-}
if [ -z "$journey" ]; then
    cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
    cmake --build build-release -j2 --target journey >/dev/null
    journey=./build-release/journey
fi
status=0

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# Prints the value of one /metrics sample, or 0 when it is absent.
metric() {
    curl -s "http://127.0.0.1:$port/metrics" | awk -v name="$1" '$1 == name { v = $2 } END { print v + 0 }'
}

# Posts the events of FILE, one JSON array of up to 100 events per
# request, with up to 10 requests in flight.
post_batches() {
    split -l 100 "$1" "$dir/batch."
    for part in "$dir"/batch.*; do
        { echo '['; paste -sd, "$part"; echo ']'; } > "$part.json"
        rm "$part"
    done
    ls "$dir"/batch.*.json | xargs -P 10 -I{} \
        curl -sf -o /dev/null -H 'Content-Type: application/json' \
            --data-binary @{} "http://127.0.0.1:$port/events"
    rm -f "$dir"/batch.*.json
}

start_server() {
    "$journey" serve "$dir/scripts" --store "sqlite:$dir/store.db" \
        --listen "127.0.0.1:$port" 2>> "$dir/server.log" &
    server=$!
    until curl -sf -o /dev/null "http://127.0.0.1:$port/healthz"; do
        if ! kill -0 "$server" 2> /dev/null; then
            echo "w3_kill: journey serve exited; its log is in $dir/server.log" >&2
            exit 1
        fi
        sleep 0.05
    done
}

for run in $(seq 1 "$runs"); do
    dir=$(mktemp -d /tmp/journey-w3.XXXXXX)
    mkdir "$dir/scripts"
    cp bench/w1_journey.lua "$dir/scripts/"
    port=$((30000 + ($$ + run) % 20000))
    for i in $(seq 0 $((n - 1))); do
        printf '{"user":"u%d","name":"app/started","data":{"email":"u%d@example.test","n":%d}}\n' \
            "$i" "$i" "$i"
    done > "$dir/started.jsonl"
    for i in $(seq 0 $((n - 1))); do
        printf '{"user":"u%d","name":"app/account.created","data":{"email":"u%d@example.test"}}\n' \
            "$i" "$i"
    done > "$dir/created.jsonl"

    start_server
    t0=$(now)
    post_batches "$dir/started.jsonl"
    while [ "$(metric 'journey_runs{journey="w1",status="waiting"}')" -lt "$n" ]; do
        sleep 0.05
    done
    t1=$(now)
    waiting_before=$(metric 'journey_runs{journey="w1",status="waiting"}')

    kill -KILL "$server"
    wait "$server" 2> /dev/null || true

    t2=$(now)
    start_server
    t3=$(now)
    waiting_after=$(metric 'journey_runs{journey="w1",status="waiting"}')

    t4=$(now)
    post_batches "$dir/created.jsonl"
    t5=$(now)
    deadline=$(awk -v t="$t4" -v l="$limit_s" 'BEGIN { print t + l }')
    completed=0
    while :; do
        completed=$(metric 'journey_runs_ended_total{journey="w1",status="completed"}')
        [ "$completed" -ge "$n" ] && break
        [ "$(awk -v t="$(now)" -v d="$deadline" 'BEGIN { print (t > d) }')" = 1 ] && break
        sleep 0.05
    done
    t6=$(now)

    kill -TERM "$server"
    wait "$server"
    # Count in the store the runs that emitted app/observed after their
    # wait returned the event.
    stored=$(sqlite3 "$dir/store.db" \
        "SELECT count(*) FROM events WHERE name = 'app/observed'
           AND json_extract(data, '\$.created') = 1")
    printf '{"workload":"W3","system":"journey","mode":"http","store":"sqlite","n":%d,"run":%d,' "$n" "$run"
    printf '"waiting_before_kill":%d,"waiting_after_restart":%d,"completed":%d,"observed_in_store":%d,' \
        "$waiting_before" "$waiting_after" "$completed" "$stored"
    printf '"start_s":%s,"restart_s":%s,"deliver_s":%s,"complete_s":%s}\n' \
        "$(elapsed "$t0" "$t1")" "$(elapsed "$t2" "$t3")" "$(elapsed "$t4" "$t5")" "$(elapsed "$t4" "$t6")"
    if [ "$completed" -ne "$n" ] || [ "$stored" -ne "$n" ]; then
        echo "w3_kill: run $run completed $completed of $n runs ($stored in the store);" \
             "the store and server log are in $dir" >&2
        status=1
        continue
    fi
    rm -rf "$dir"
done
exit $status
