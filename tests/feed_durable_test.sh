#!/bin/bash
# GET /events of journey serve lists an event only once it is durable.
# A preloaded library delays every sync of the write-ahead log by 1 s.
# So an event posted a moment ago is written to the store file but not
# yet synced. The feed must not list it before the server has responded
# to the POST.
#
# usage: tests/feed_durable_test.sh JOURNEY_BINARY SLOW_WAL_SYNC_LIBRARY
set -uo pipefail

journey=$(realpath "$1")
library=$(realpath "$2")
if [ ! -f "$library" ]; then
    echo "feed durable test: the preload library $2 is missing; build the slow_wal_sync target"
    exit 1
fi
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/journey-feed.XXXXXX)
pid=
failed=0

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
        kill -KILL "$pid"
        wait "$pid" 2> /dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

mkdir "$work/scripts"
cp "$here/serve/journeys.lua" "$work/scripts/signup.lua"

# A sanitizer build of journey checks that its runtime comes first in
# the preload list, which this library would break.
LD_PRELOAD="$library" SLOW_WAL_SYNC_MS=1000 ASAN_OPTIONS="${ASAN_OPTIONS:-}:verify_asan_link_order=0" \
    "$journey" serve "$work/scripts" --store "sqlite:$work/store.db" --sync full \
    --listen 127.0.0.1:0 2> "$work/server.log" &
pid=$!
url=
for _ in $(seq 1 200); do
    port=$(grep -o 'listening on 127.0.0.1:[0-9]*' "$work/server.log" | cut -d: -f2)
    if [ -n "$port" ]; then
        url="http://127.0.0.1:$port"
        break
    fi
    sleep 0.05
done
if [ -z "$url" ]; then
    echo "the server did not start:"
    cat "$work/server.log"
    exit 1
fi

# The start's own groups are synced by now.
sleep 2.5

curl -s -o "$work/post.out" -H 'Content-Type: application/json' \
    -d '{"id":"e1","user":"ada","name":"app/visited"}' "$url/events" &
post=$!
sleep 0.3
early=$(curl -s "$url/events?user=ada")
answered_early=$([ -s "$work/post.out" ] && echo yes || echo no)
wait "$post"
late=$(curl -s "$url/events?user=ada")

check() { # check DESCRIPTION CONDITION...
    if ! eval "$2"; then
        echo "FAILED: $1"
        echo "  before the answer: $early"
        echo "  after it: $late"
        failed=$((failed + 1))
    fi
}
check "the POST waits for the held sync" '[ "$answered_early" = no ]'
check "the feed does not list the event before its sync" \
    '[[ "$early" != *"\"id\":\"e1\""* ]]'
check "the feed keeps its cursor before the event" '[[ "$early" == *"\"next_after\":0}"* ]]'
check "the POST was acknowledged" '[[ "$(cat "$work/post.out")" == *"\"accepted\":1"* ]]'
check "the feed lists the event once it is durable" '[[ "$late" == *"\"id\":\"e1\""* ]]'

kill -TERM "$pid"
wait "$pid"
pid=
echo "feed durable test: 5 checks, $failed failed"
[ "$failed" -eq 0 ]
