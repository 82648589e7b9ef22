#!/bin/bash
# Runs the embedding examples: the libuv line server on 127.0.0.1 and the
# poll() loop, and checks through `journey runs` that journeys acted.
# usage: tests/examples_test.sh LINE_SERVER POLL_LOOP JOURNEY
set -uo pipefail

line_server=$(realpath "$1")
poll_loop=$(realpath "$2")
journey=$(realpath "$3")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/journey-examples.XXXXXX)
checks=0
failed=0
pid=

cleanup() {
    if [ -n "$pid" ] && kill -0 "$pid" 2> /dev/null; then
        kill -KILL "$pid"
    fi
    rm -rf "$work"
}
trap cleanup EXIT

check() {
    local what=$1
    shift
    checks=$((checks + 1))
    if ! "$@"; then
        failed=$((failed + 1))
        echo "FAILED: $what"
    fi
}

contains() {
    case "$1" in *"$2"*) return 0 ;; esac
    echo "  \"$2\" not in: ${1:0:300}"
    return 1
}

script="$here/serve/journeys.lua"

# --- the libuv line server ---
port=$((20000 + RANDOM % 20000))
"$line_server" "$port" "sqlite:$work/line.db" "$script" 2> "$work/line.log" &
pid=$!
for _ in $(seq 1 100); do
    grep -q listening "$work/line.log" && break
    sleep 0.05
done

exec 3<> "/dev/tcp/127.0.0.1/$port"
printf '%s\n' '{"id":"s1","user":"ada","name":"app/signed_up","data":{"plan":"pro"}}' \
    '{"id":"s1","user":"ada","name":"app/signed_up"}' \
    '{"user":"ada","name":"app/account.created"}' \
    '{"name":"no user"}' >&3
answers=""
for _ in 1 2 3 4; do
    read -r -t 5 answer <&3 || break
    answers="$answers$answer;"
done
# A line over the 64 KiB buffer gets one reply, and the next line is
# read as a line of its own.
long_line="{\"user\":\"zed\",\"name\":\"app/other\",\"data\":{\"pad\":\"$(head -c 70000 /dev/zero | tr '\0' a)\"}}"
printf '%s\n' "$long_line" '{"user":"zed","name":"app/other"}' >&3
for _ in 1 2; do
    read -r -t 5 answer <&3 || break
    long_answers="${long_answers:-}$answer;"
done
exec 3>&-
check "the line server replies once to a long line" contains "${long_answers:-}" "error line too long;ok "
# A refused line is answered at once, the others after the commit, so
# only the acknowledgements have a fixed order.
acks=$(echo "$answers" | tr ';' '\n' | grep -v '^error' | paste -sd ';' -)
check "the line server acknowledges after the commit" contains "$acks" "ok 1;duplicate;ok 2"
check "the line server names a bad event" contains "$answers" 'error invalid event: missing "user"'
kill -TERM "$pid"
wait "$pid"
check "the line server stops cleanly on SIGTERM" test $? -eq 0
pid=
runs=$("$journey" runs --store "sqlite:$work/line.db" --json)
check "the journey run by the line server completed" contains "$runs" '"result":{"result":"created"}'

# --- the poll() loop ---
printf '%s\n' '{"id":"p1","user":"bob","name":"app/signed_up","data":{"wait":"1s"}}' \
    '{"id":"p2","user":"cy","name":"app/signed_up","data":{"wait":"1h"}}' \
    '{"id":"p3","user":"cy","name":"app/account.created"}' |
    "$poll_loop" "sqlite:$work/poll.db" 3000 "$script" > "$work/poll.out" 2> "$work/poll.log"
check "the poll loop exits 0" test $? -eq 0
check "the poll loop acknowledges every event" contains "$(cat "$work/poll.out")" "ok 1
ok 2
ok 3"
check "the poll loop ran until no run was live" contains "$(cat "$work/poll.log")" "0 runs still live"
runs=$("$journey" runs --store "sqlite:$work/poll.db" --json)
check "a deadline fired on the poll loop's real clock" contains "$runs" '"result":{"result":"timed_out"}'
check "an event woke a run on the poll loop" contains "$runs" '"result":{"result":"created"}'

# A line over the poll loop's buffer is reported and dropped whole; the
# lines after it are read.
printf '%s\n' "$long_line" '{"id":"q1","user":"dee","name":"app/other"}' |
    "$poll_loop" memory 100 "$script" > "$work/poll_long.out" 2> "$work/poll_long.log"
check "the poll loop reports a long line" contains "$(cat "$work/poll_long.out")" \
    "error line too long"
check "the poll loop reads on after a long line" contains "$(cat "$work/poll_long.log")" \
    "1 events acknowledged"

echo "examples test: $checks checks, $failed failed"
[ "$failed" -eq 0 ]
