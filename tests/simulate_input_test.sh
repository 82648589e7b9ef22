#!/bin/bash
# Tests how `journey simulate` reads its input. The first input is a
# mapped file that ends exactly on a page boundary without a final
# newline, where a parser that reads past the text faults. The others
# are the same events from a pipe and from a FIFO, a byte order mark at
# the start, a NUL byte, a sysfs file that cannot be mapped, an empty
# file and a directory. Each input must replay the same events, or fail
# with a message that names the file.
#
# usage: tests/simulate_input_test.sh JOURNEY_BINARY
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 JOURNEY_BINARY" >&2
    exit 2
fi
journey=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/journey-simulate-input.XXXXXX)
trap 'rm -rf "$work"' EXIT

checks=0
failures=0
script="$here/scripts/winback.lua"

fail() {
    failures=$((failures + 1))
    echo "FAIL: $*"
}

# Prints the summary fields that must not depend on how the input was
# read.
counts() { # FILE
    grep -o '"events_read":[0-9]*,"events_rejected":[0-9]*' "$1"
}

# Writes order lines for users u1..uN until the file contains exactly
# SIZE bytes, the last line without a newline: a padding field in the last
# event takes up the rest.
make_exact() { # PATH SIZE
    local path=$1 size=$2 i=0
    : > "$path"
    while :; do
        i=$((i + 1))
        local line="{\"user\":\"u$i\",\"event\":\"shop/order_placed\",\"ts\":\"2024-01-0$(( i % 9 + 1 ))T00:00:00Z\",\"data\":{\"invoice\":\"$i\"}}"
        local have
        have=$(stat -c %s "$path")
        if [ $((have + ${#line} + 1 + 200)) -ge "$size" ]; then
            local head="{\"user\":\"u$i\",\"event\":\"shop/order_placed\",\"ts\":\"2024-01-09T00:00:00Z\",\"data\":{\"invoice\":\"$i\",\"pad\":\""
            local tail="\"}}"
            local pad=$((size - have - ${#head} - ${#tail}))
            printf '%s%*s%s' "$head" "$pad" '' "$tail" | tr ' ' 'x' >> "$path"
            echo "$i"
            return
        fi
        printf '%s\n' "$line" >> "$path"
    done
}

# Replays the input that the arguments (or standard input) give, and
# checks that its counts are those of the last mapped file.
expect_same() { # NAME ARGS...
    local name=$1
    shift
    checks=$((checks + 1))
    "$journey" simulate "$script" "$@" --json --quiet > "$work/same.json" 2> "$work/err"
    if [ "$(counts "$work/same.json")" != "$(counts "$work/file.json")" ]; then
        fail "$name: $(counts "$work/same.json") against $(counts "$work/file.json")"
        head -3 "$work/err"
    fi
}

# A file of exactly one page, and one of three, without a final newline.
for size in 4096 12288; do
    checks=$((checks + 1))
    lines=$(make_exact "$work/exact.jsonl" "$size")
    if [ "$(stat -c %s "$work/exact.jsonl")" != "$size" ]; then
        fail "the file for $size bytes holds $(stat -c %s "$work/exact.jsonl") bytes"
        continue
    fi
    "$journey" simulate "$script" --events "$work/exact.jsonl" --json --quiet \
        > "$work/file.json" 2> "$work/err"
    if [ "$(counts "$work/file.json")" != "\"events_read\":$lines,\"events_rejected\":0" ]; then
        fail "$size-byte file: expected $lines events and none rejected, got $(counts "$work/file.json")"
        head -3 "$work/err"
    fi

    # The same bytes from a pipe replay the same way.
    expect_same "$size bytes from a pipe" --events - < "$work/exact.jsonl"
done

# A FIFO has no size to map, so it is read to its end.
mkfifo "$work/fifo"
# The timeout ends the writer if journey never opens the FIFO.
timeout 60 cat "$work/exact.jsonl" > "$work/fifo" &
writer=$!
expect_same "FIFO" --events "$work/fifo"
wait "$writer"

# A byte order mark before the first event is skipped, in a mapped file
# as from a pipe.
{ printf '\357\273\277'; cat "$work/exact.jsonl"; } > "$work/bom.jsonl"
expect_same "byte order mark in a file" --events "$work/bom.jsonl"
expect_same "byte order mark from a pipe" --events - < "$work/bom.jsonl"

# A NUL byte outside a string makes its line invalid, and the lines
# after it still replay.
checks=$((checks + 1))
{
    printf '%s\n' '{"user":"n1","event":"shop/order_placed","ts":"2024-01-01T00:00:00Z"}'
    printf '\0\n'
    printf '%s\n' '{"user":"n2","event":"shop/order_placed","ts":"2024-01-02T00:00:00Z"}'
} > "$work/nul.jsonl"
"$journey" simulate "$script" --events "$work/nul.jsonl" --json --quiet > "$work/nul.json" 2> "$work/err"
if [ "$(counts "$work/nul.json")" != '"events_read":3,"events_rejected":1' ] ||
    ! grep -q "nul.jsonl:2: invalid JSON" "$work/err"; then
    fail "NUL byte: $(counts "$work/nul.json"), $(head -1 "$work/err")"
fi

# A sysfs file reports a size but cannot be mapped, so it is read: its
# text is not an event, and the message names its first line.
sysfs=/sys/kernel/mm/transparent_hugepage/enabled
if [ -r "$sysfs" ]; then
    checks=$((checks + 1))
    "$journey" simulate "$script" --events "$sysfs" --json --quiet > /dev/null 2> "$work/err"
    status=$?
    if [ "$status" != 1 ] || ! grep -q "$sysfs:1: invalid JSON" "$work/err"; then
        fail "sysfs file: status $status, $(head -1 "$work/err")"
    fi
else
    echo "simulate input: $sysfs is missing, so the unmappable file is not checked"
fi

# An empty file replays nothing, and its summary counts no events. A
# warning follows, since an export that failed looks like this.
checks=$((checks + 1))
: > "$work/empty.jsonl"
"$journey" simulate "$script" --events "$work/empty.jsonl" --json --quiet \
    > "$work/empty.json" 2> "$work/err"
status=$?
if [ "$status" != 0 ] || [ "$(counts "$work/empty.json")" != '"events_read":0,"events_rejected":0' ]; then
    fail "empty file: status $status, $(counts "$work/empty.json")"
fi
if ! grep -q "warning: $work/empty.jsonl contains no events" "$work/err"; then
    fail "empty file: no warning, got: $(head -1 "$work/err")"
fi

# A byte order mark at the start of a later line, as joined files leave
# it, is named in that line's message.
checks=$((checks + 1))
{ cat "$work/exact.jsonl"; printf '\n\357\273\277'; cat "$work/exact.jsonl"; } > "$work/joined.jsonl"
"$journey" simulate "$script" --events "$work/joined.jsonl" --json --quiet > /dev/null 2> "$work/err"
bom_line=$(( $(wc -l < "$work/exact.jsonl") + 2 ))
if ! grep -q "joined.jsonl:$bom_line: the line starts with a UTF-8 byte order mark" "$work/err"; then
    fail "byte order mark on line $bom_line: $(head -1 "$work/err")"
fi

# A JSON array gets its note before the invalid lines, where it is seen.
checks=$((checks + 1))
printf '[\n  {"user":"a","name":"x"},\n  {"user":"b","name":"x"}\n]\n' > "$work/array.json"
"$journey" simulate "$script" --events "$work/array.json" --quiet > /dev/null 2> "$work/err"
status=$?
if [ "$status" != 1 ] || ! head -1 "$work/err" | grep -q "looks like one JSON array"; then
    fail "JSON array: status $status, first line: $(head -1 "$work/err")"
fi

# An --until before the first event replays nothing, and the summary
# reports that instead of a time the clock never ran to.
checks=$((checks + 1))
"$journey" simulate "$script" --events "$work/exact.jsonl" --until 2000-01-01T00:00:00Z \
    > "$work/out" 2> "$work/err"
if ! grep -q "none replayed (horizon 2000-01-01T00:00:00Z is before the first event)" "$work/out"; then
    fail "--until before the first event: $(grep 'event time' "$work/out")"
fi

# The events after the horizon are counted, with one job and with two.
sample="$here/data/uci-online-retail/events.jsonl"
after=$(grep -o '"ts":"[^"]*"' "$sample" | awk -F'"' '$4 > "2011-06-01T00:00:00Z"' | wc -l)
for jobs in 1 2; do
    checks=$((checks + 1))
    "$journey" simulate "$script" --events "$sample" --until 2011-06-01T00:00:00Z --json \
        --jobs "$jobs" > "$work/out" 2> "$work/err"
    got=$(grep -o '"events_past_horizon":[0-9]*' "$work/out")
    if [ "$after" -eq 0 ] || [ "$got" != "\"events_past_horizon\":$after" ]; then
        fail "events after the horizon, $jobs job(s): expected $after, got $got"
    fi
done

# A directory is named with the reason.
checks=$((checks + 1))
mkdir "$work/a_directory"
"$journey" simulate "$script" --events "$work/a_directory" --json --quiet \
    > /dev/null 2> "$work/err"
status=$?
if [ "$status" != 1 ] || ! grep -q "cannot read events from $work/a_directory: Is a directory" "$work/err"; then
    fail "directory: status $status, $(head -1 "$work/err")"
fi

echo "simulate input: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
