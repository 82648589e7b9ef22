#!/bin/sh
# Compares two builds in one sitting: runs each point with build A, then
# with build B, RUNS times, so that both meet the same load of a shared
# machine. Prints one JSON line per run with the build's label.
#
# usage: bench/ab.sh DIR_A DIR_B [RUNS] [POINTS]
#   DIR_A, DIR_B  build directories with `journey` and `workload`, such
#                 as a Release build of another commit in a worktree
#   RUNS          runs per point and build (default 2)
#   POINTS        what to run, separated by ";" (default below). Each is
#                 "w1 N STORE HOSTS", "w2 N STORE" or "backtest FILE JOBS",
#                 where STORE is memory or sqlite.
set -eu
cd "$(dirname "$0")/.."

a=$1
b=$2
runs=${3:-2}
points=${4:-"w1 100000 memory 1; w1 100000 sqlite 1; w2 100000 memory; w2 100000 sqlite; backtest data/uci-online-retail/events.jsonl 1"}
dir=$(mktemp -d /tmp/journey-ab.XXXXXX)

run_point() {
    build=$1
    shift
    case $1 in
    w1 | w2)
        spec=$3
        if [ "$3" = sqlite ]; then
            rm -f "$dir"/w.db*
            spec="sqlite:$dir/w.db"
        fi
        "$build/workload" "$1" "$2" "$spec" 1000 0 "${4:-1}"
        ;;
    backtest)
        "$build/journey" simulate scripts/winback.lua scripts/post_purchase.lua \
            --events "$2" --json --quiet --jobs "${3:-1}"
        ;;
    *)
        echo "bench/ab.sh: unknown point \"$*\"; give w1, w2 or backtest" >&2
        exit 2
        ;;
    esac
}

echo "$points" | tr ';' '\n' | while read -r point; do
    [ -n "$point" ] || continue
    run=1
    while [ "$run" -le "$runs" ]; do
        for label in A B; do
            if [ "$label" = A ]; then build=$a; else build=$b; fi
            # shellcheck disable=SC2086 # the point's words are arguments
            line=$(run_point "$build" $point)
            printf '{"build":"%s","dir":"%s","run":%d,"point":"%s","at":"%s","result":%s}\n' \
                "$label" "$build" "$run" "$point" "$(date -u +%H:%M:%S)" "$line"
        done
        run=$((run + 1))
    done
done
rm -rf "$dir"
