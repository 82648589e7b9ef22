#!/bin/sh
# A burst of deadlines under a steady stream of events: N runs sleep
# until the same instant while events keep arriving, with the memory
# store and the SQLite store, twice each. One JSON line per point (see
# bench/burst.c for the figures).
#
# usage: bench/burst.sh [SIZES] [DIR] [RATES]
#   SIZES  space-separated N values (default "100000 1000000")
#   DIR    where SQLite files go (default a new directory under /tmp)
#   RATES  space-separated offered event rates per second; 0 (the
#          default) ingests as many events as the loop takes
set -eu
cd "$(dirname "$0")/.."

sizes=${1:-"100000 1000000"}
dir=${2:-$(mktemp -d /tmp/journey-burst.XXXXXX)}
rates=${3:-0}

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j2 --target burst >/dev/null

for n in $sizes; do
    for rate in $rates; do
        for store in memory sqlite; do
            for run in 1 2; do
                spec=$store
                if [ "$store" = sqlite ]; then
                    rm -f "$dir"/b.db*
                    spec="sqlite:$dir/b.db"
                fi
                line=$(./build-release/burst "$n" "$spec" "$rate")
                echo "$line" | sed "s/^{/{\"run\":$run,/"
            done
        done
    done
done
rm -f "$dir"/b.db*
