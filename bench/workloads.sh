#!/bin/sh
# Runs the W1 (wait-and-resume) and W2 (sleep) workloads in process
# through journey.h, with the memory store and the SQLite store, at the
# given sizes, twice each. One JSON line per point.
#
# usage: bench/workloads.sh [SIZES] [DIR] [WORKLOADS] [SHARDS] [RESIDENT]
#   SIZES      space-separated N values (default "1000 10000 100000")
#   DIR        where SQLite files go (default a new directory under /tmp)
#   WORKLOADS  "w1", "w2" or "w1 w2" (the default)
#   SHARDS     hosts the users are split over, one thread each (default 1)
#   RESIDENT   the hosts' resident limit (default 0, no limit)
set -eu
cd "$(dirname "$0")/.."

sizes=${1:-"1000 10000 100000"}
dir=${2:-$(mktemp -d /tmp/journey-workloads.XXXXXX)}
workloads=${3:-"w1 w2"}
shards=${4:-1}
resident=${5:-0}

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target workload >/dev/null

for workload in $workloads; do
    for n in $sizes; do
        for store in memory sqlite; do
            for run in 1 2; do
                spec=$store
                if [ "$store" = sqlite ]; then
                    rm -f "$dir"/w.db*
                    spec="sqlite:$dir/w.db"
                fi
                line=$(./build-release/workload "$workload" "$n" "$spec" 1000 "$resident" "$shards")
                echo "$line" | sed "s/^{/{\"run\":$run,/"
            done
        done
    done
done
rm -f "$dir"/w.db*
