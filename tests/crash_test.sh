#!/bin/bash
# Crash test: replays a stream of events durably while killing the host
# with SIGKILL at random moments, restarting it each time, then checks
# the store against a run that was never killed:
# - every acknowledged event is stored exactly once;
# - every run reached the same end state, with the same journal;
# - no emitted event and no step result appears twice.
# A replay in stages with --until must end as the run in one go, too.
#
# usage: tests/crash_test.sh JOURNEY_BINARY [KILLS] [USERS]
set -euo pipefail

journey=$(realpath "$1")
kills_wanted=${2:-50}
users=${3:-2000}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/journey-crash.XXXXXX)
trap 'if [ "${keep_work:-0}" = 1 ]; then echo "kept $work"; else rm -rf "$work"; fi' EXIT

lua5.4 "$here/crash/make_events.lua" "$users" > "$work/events.jsonl"
events=$(wc -l < "$work/events.jsonl")

replay() { # replay DB [ACKS]
    local acks=()
    [ $# -gt 1 ] && acks=(--acks "$2")
    "$journey" simulate "$here/crash/journeys.lua" --events "$work/events.jsonl" \
        --store "sqlite:$1" --commit-every 20 --retention off --quiet "${acks[@]}" \
        > /dev/null 2>> "$work/stderr.log"
}

# Starts a replay in the background with pid set to the journey process
# itself, not to a subshell, so SIGKILL reaches the host.
start_replay() { # start_replay DB ACKS
    "$journey" simulate "$here/crash/journeys.lua" --events "$work/events.jsonl" \
        --store "sqlite:$1" --commit-every 20 --retention off --quiet --acks "$2" \
        > /dev/null 2>> "$work/stderr.log" &
    pid=$!
}

replay "$work/baseline.db"

# Kill the host at random moments until enough kills landed on a running
# process; a replay that finished on its own starts a new cycle.
kills=0
cycles=0
restarts=0
RANDOM=4242
while [ "$kills" -lt "$kills_wanted" ]; do
    cycles=$((cycles + 1))
    db="$work/crash-$cycles.db"
    acks="$work/acks-$cycles.txt"
    : > "$acks"
    while :; do
        start_replay "$db" "$acks"
        restarts=$((restarts + 1))
        sleep "0.0$((RANDOM % 60 + 10))"
        if kill -0 "$pid" 2> /dev/null; then
            kill -KILL "$pid"
            wait "$pid" 2> /dev/null || true
            kills=$((kills + 1))
        else
            wait "$pid"
            break
        fi
        [ "$kills" -ge "$kills_wanted" ] && break
    done
    # Finish the cycle without a kill, so its end state can be compared.
    replay "$db" "$acks"
done

# The same replay in stages, each up to a later --until, then to the
# end: the events after each horizon must reach the next stage.
staged="$work/staged.db"
for quarter in 1 2 3; do
    ms=$(sed -n "$((events * quarter / 4))p" "$work/events.jsonl" | grep -o '"ts":[0-9]*' | cut -d: -f2)
    horizon=$(date -u -d "@$((ms / 1000))" +%Y-%m-%dT%H:%M:%SZ)
    "$journey" simulate "$here/crash/journeys.lua" --events "$work/events.jsonl" \
        --store "sqlite:$staged" --commit-every 20 --retention off --quiet --until "$horizon" \
        > /dev/null 2>> "$work/stderr.log"
done
replay "$staged"

# Comparable views of a store, independent of run ids and sequence
# numbers: a run is named by its journey and its trigger event.
dump() { # dump DB KIND
    local run_name="r.journey || ' ' || t.user || ' ' || t.name || ' ' || t.ts || ' ' || t.data"
    case "$2" in
    input)   sqlite3 "$1" "SELECT user, id, name, ts, data FROM events
                           WHERE origin_run = 0 ORDER BY user, id" ;;
    emitted) sqlite3 "$1" "SELECT $run_name, e.name, e.ts, e.data FROM events e
                           JOIN runs r ON r.id = e.origin_run JOIN events t ON t.seq = r.trigger_seq
                           ORDER BY 1, 2, 3, 4" ;;
    runs)    sqlite3 "$1" "SELECT $run_name, r.status, r.result, r.error FROM runs r
                           JOIN events t ON t.seq = r.trigger_seq ORDER BY 1" ;;
    journal) sqlite3 "$1" "SELECT $run_name, j.idx, j.kind, j.name,
                           CASE WHEN j.kind IN (1, 2) THEN '' ELSE j.result END FROM journal j
                           JOIN runs r ON r.id = j.run_id JOIN events t ON t.seq = r.trigger_seq
                           ORDER BY 1, 2" ;;
    esac
}

# Sorted after canonical JSON, so only content decides the order.
view() { # view DB KIND
    dump "$1" "$2" | lua5.4 "$here/crash/canonical.lua" | LC_ALL=C sort
}

for kind in input emitted runs journal; do
    view "$work/baseline.db" "$kind" > "$work/baseline.$kind"
done

failed=0
lost=0
duplicates=0
mismatched=0

# Counts each view of DB that differs from the baseline's, and shows how.
compare_views() { # compare_views DB LABEL
    for kind in input emitted runs journal; do
        view "$1" "$kind" > "$work/other.$kind"
        if ! cmp -s "$work/baseline.$kind" "$work/other.$kind"; then
            echo "$2: $kind differs from the replay without crashes, in one go:"
            diff "$work/baseline.$kind" "$work/other.$kind" | head -10
            mismatched=$((mismatched + 1))
        fi
    done
}

for cycle in $(seq 1 "$cycles"); do
    db="$work/crash-$cycle.db"
    compare_views "$db" "cycle $cycle"

    # Every acknowledged id is stored, and ids are unique per user by the
    # schema; count what an acknowledgement promised but the store lacks.
    missing=$(sort -u "$work/acks-$cycle.txt" | while read -r id; do
        printf "SELECT count(*) = 0 FROM events WHERE id = '%s';\n" "$id"
    done | sqlite3 "$db" | grep -c '^1$' || true)
    lost=$((lost + missing))

    # The same emitted event twice, or a step journaled twice, would show
    # up as repeated rows.
    dup_emits=$(sqlite3 "$db" "SELECT count(*) - count(DISTINCT origin_run || '|' || name || '|'
                               || ts || '|' || data) FROM events WHERE origin_run <> 0")
    dup_steps=$(sqlite3 "$db" "SELECT count(*) - count(DISTINCT run_id || '|' || name) FROM journal
                               WHERE kind = 6")
    duplicates=$((duplicates + dup_emits + dup_steps))
done

compare_views "$staged" "replay in stages"

acked=$(cat "$work"/acks-*.txt | sort -u | wc -l)
echo "crash test: $kills kills over $restarts starts in $cycles cycles," \
     "$events events ($acked acknowledged), $(wc -l < "$work/baseline.runs") runs," \
     "duplicates found = $duplicates, lost = $lost, mismatched views = $mismatched"

if [ "$duplicates" -ne 0 ] || [ "$lost" -ne 0 ] || [ "$mismatched" -ne 0 ]; then
    sed -n '1,20p' "$work/stderr.log"
    exit 1
fi
