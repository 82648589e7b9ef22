#!/bin/bash
# Tests how `journey simulate` reads its input. The inputs are a mapped
# file that ends exactly on a page boundary without a final newline, the
# same events from a pipe and from a FIFO, a byte order mark at the
# start, an empty file and a directory. Each input must replay the same
# events, or fail with a message that names the file.
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
    checks=$((checks + 1))
    "$journey" simulate "$script" --events - --json --quiet < "$work/exact.jsonl" \
        > "$work/pipe.json" 2> "$work/err"
    if [ "$(counts "$work/pipe.json")" != "$(counts "$work/file.json")" ]; then
        fail "$size bytes from a pipe: $(counts "$work/pipe.json") against $(counts "$work/file.json")"
    fi
done

# A FIFO has no size to map; it is read to its end.
checks=$((checks + 1))
mkfifo "$work/fifo"
cat "$work/exact.jsonl" > "$work/fifo" &
writer=$!
"$journey" simulate "$script" --events "$work/fifo" --json --quiet > "$work/fifo.json" 2> "$work/err"
wait "$writer"
if [ "$(counts "$work/fifo.json")" != "$(counts "$work/file.json")" ]; then
    fail "FIFO: $(counts "$work/fifo.json") against $(counts "$work/file.json")"
fi

# A byte order mark before the first event is skipped, in a mapped file
# as from a pipe.
checks=$((checks + 1))
{ printf '\357\273\277'; cat "$work/exact.jsonl"; } > "$work/bom.jsonl"
"$journey" simulate "$script" --events "$work/bom.jsonl" --json --quiet > "$work/bom.json" 2> "$work/err"
if [ "$(counts "$work/bom.json")" != "$(counts "$work/file.json")" ]; then
    fail "byte order mark in a file: $(counts "$work/bom.json")"
    head -3 "$work/err"
fi
checks=$((checks + 1))
"$journey" simulate "$script" --events - --json --quiet < "$work/bom.jsonl" \
    > "$work/bom_pipe.json" 2> "$work/err"
if [ "$(counts "$work/bom_pipe.json")" != "$(counts "$work/file.json")" ]; then
    fail "byte order mark from a pipe: $(counts "$work/bom_pipe.json")"
fi

# An empty file replays nothing, and its summary counts no events.
checks=$((checks + 1))
: > "$work/empty.jsonl"
"$journey" simulate "$script" --events "$work/empty.jsonl" --json --quiet \
    > "$work/empty.json" 2> "$work/err"
status=$?
if [ "$status" != 0 ] || [ "$(counts "$work/empty.json")" != '"events_read":0,"events_rejected":0' ]; then
    fail "empty file: status $status, $(counts "$work/empty.json")"
fi

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
