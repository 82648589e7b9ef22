#!/bin/sh
# Every benchmark of this directory in one sitting, one after another,
# so that their figures share the machine's load of the moment. Prints
# the JSON lines of each script, each group after a line that names it.
# The summary table of docs/benchmarks.md comes from one such sitting.
# It takes about 30 minutes on 2 cores and needs about 4 GiB of memory.
#
# usage: bench/all.sh UCI_EVENTS_FILE
#   UCI_EVENTS_FILE  the full UCI Online Retail conversion (22,190
#                    events); see data/uci-online-retail/SOURCE.md
set -eu
cd "$(dirname "$0")/.."

if [ $# -ne 1 ] || [ ! -r "$1" ]; then
    echo "usage: bench/all.sh UCI_EVENTS_FILE (the full conversion, readable)" >&2
    exit 2
fi
uci=$1

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 >/dev/null

group() {
    printf '{"group":"%s","at":"%s"}\n' "$1" "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
}

printf '{"sitting":"%s","commit":"%s","cores":%d,"cpu":"%s"}\n' \
    "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)" \
    "$(nproc)" "$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"

group "W1 and W2, one host"
bench/workloads.sh "1000 10000 100000 1000000"
group "W1, two hosts"
bench/workloads.sh "100000 1000000" "" w1 2
group "W1, resident limit 10000"
bench/workloads.sh "1000000" "" w1 1 10000
group "burst of 1000000 deadlines"
bench/burst.sh "1000000" "" "0 100000"
group "recovery"
bench/recovery.sh 100000 3
group "W3"
bench/w3_kill.sh 1000 2
group "W1 over HTTP, SQLite"
bench/w1_http.sh 100000 100 sqlite
bench/w1_http.sh 100000 100 sqlite
group "W1 over HTTP, memory"
bench/w1_http.sh 100000 100 memory
bench/w1_http.sh 100000 100 memory
group "backtest, full file"
bench/backtest.sh "$uci" 2 1
bench/backtest.sh "$uci" 2 2
group "backtest, 91 copies"
bench/backtest_replicated.sh "$uci" 91 2
bench/backtest_replicated.sh "$uci" 91 2
bench/backtest_replicated.sh "$uci" 91 1
group "end"
