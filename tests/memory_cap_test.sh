#!/bin/bash
# Tests the memory cap on Lua code with journey simulate. A run can pass
# it in j.emit, j.step, j.events, a string buffer, its result or a
# wait's match. Each such run fails with its script line or its step
# named in the error. Other runs of the same event go on, and runs that start later
# get the memory back. In the sanitizer build, the leak check at exit
# fails the replay if a failed run left C memory behind.
#
# usage: tests/memory_cap_test.sh JOURNEY_BINARY
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 JOURNEY_BINARY" >&2
    exit 2
fi
journey=$(realpath "$1")
work=$(mktemp -d /tmp/journey-memory-cap.XXXXXX)
trap 'rm -rf "$work"' EXIT

checks=0
failures=0

check_contains() { # NAME HAYSTACK NEEDLE
    checks=$((checks + 1))
    if [[ "$2" != *"$3"* ]]; then
        failures=$((failures + 1))
        echo "FAIL: $1: expected to find: $3"
        printf '%s\n' "$2" | head -40 | sed 's/^/  | /'
    fi
}

check_equals() { # NAME ACTUAL EXPECTED
    checks=$((checks + 1))
    if [ "$2" != "$3" ]; then
        failures=$((failures + 1))
        echo "FAIL: $1: expected $3, found $2"
    fi
}

# Each big value is 20 MB of JSON, five times the cap.
cat > "$work/big.lua" <<'EOF'
local journey = require "journey"

local function big_list(letter)
  local s = string.rep(letter, 100000)
  local list = {}
  for i = 1, 200 do list[i] = s end
  return list
end

journey.define{name = "big_emit", on = "app/go", run = function(j)
  j.emit("app/big", {list = big_list("x")})
end}

journey.define{name = "big_step", on = "app/go", run = function(j)
  j.step("load", function() return big_list("y") end)
end}

journey.define{name = "every_click", on = "app/go", run = function(j)
  local clicks = j.events("app/click", {since = "ever"})
  return {count = #clicks}
end}

journey.define{name = "fine", on = "app/go", run = function(j)
  return {ok = true}
end}

-- string.rep builds its result in a buffer that only a collection with
-- finalizers frees.
journey.define{name = "build", on = "app/build", run = function(j)
  local parts = {}
  for i = 1, 200 do parts["k" .. i] = string.rep("b", 100000) end
end}

-- Returning every field of a large event decodes them all for the
-- result.
journey.define{name = "give_back", on = "app/result", run = function(j, event)
  return event.data
end}

-- Matching decodes the event's data, here 4 MB of it.
journey.define{name = "matcher", on = "app/start", run = function(j)
  local signal = j.wait_for("app/signal", {match = {kind = "x"}, timeout = "1h"})
  return {woke = signal ~= nil}
end}

journey.define{name = "later", on = "app/later", run = function(j)
  local s = string.rep("z", 1000000)
  return {length = #s}
end}
EOF

# 30,000 clicks: j.events builds a table for each, past the cap.
awk 'BEGIN {
    for (i = 0; i < 30000; i++)
        printf "{\"user\":\"u1\",\"name\":\"app/click\",\"ts\":\"2024-01-01T00:00:00Z\",\"data\":{\"i\":%d,\"pad\":\"zzzzzzzzzzzzzzzzzzzz\"}}\n", i
    print "{\"user\":\"u1\",\"name\":\"app/go\",\"ts\":\"2024-01-01T00:01:00Z\"}"
    print "{\"user\":\"u2\",\"name\":\"app/go\",\"ts\":\"2024-01-01T00:02:00Z\"}"
    print "{\"user\":\"u4\",\"name\":\"app/build\",\"ts\":\"2024-01-01T00:02:30Z\"}"
    pad = sprintf("%300s", "")
    gsub(/ /, "p", pad)
    printf "{\"user\":\"u5\",\"name\":\"app/result\",\"ts\":\"2024-01-01T00:02:40Z\",\"data\":{"
    for (i = 0; i < 6000; i++)
        printf "%s\"k%d\":\"%s\"", (i > 0 ? "," : ""), i, pad
    print "}}"
    print "{\"user\":\"u6\",\"name\":\"app/start\",\"ts\":\"2024-01-01T00:02:50Z\"}"
    blob = "b"
    while (length(blob) < 4000000)
        blob = blob blob
    printf "{\"user\":\"u6\",\"name\":\"app/signal\",\"ts\":\"2024-01-01T00:02:55Z\","
    print "\"data\":{\"kind\":\"x\",\"blob\":\"" blob "\"}}"
    print "{\"user\":\"u3\",\"name\":\"app/later\",\"ts\":\"2024-01-01T00:03:00Z\"}"
}' > "$work/events.jsonl"

out=$(cd "$work" && "$journey" simulate big.lua --events events.jsonl --memory-cap 4000000 \
    2> "$work/stderr")
status=$?
err=$(cat "$work/stderr")

check_equals "the replay exits 0 (a leak report makes it fail)" "$status" 0
if [ "$status" -ne 0 ]; then
    printf '%s\n' "$err" | tail -20 | sed 's/^/  stderr| /'
fi
check_contains "j.emit past the cap names its line" "$out" \
    'big_emit #1 u1  failed: big.lua:11: j.emit("app/big"): data cannot be written as JSON: not enough memory'
check_contains "j.step past the cap names its line" "$out" \
    'big_step #2 u1  failed: big.lua:15: j.step("load"): not enough memory to journal its values'
check_contains "a memory error in j.events names the run's line" "$out" \
    'every_click #3 u1  failed: big.lua:19: not enough memory'
check_contains "the next user's runs fail the same way" "$out" \
    'big_emit #5 u2  failed: big.lua:11:'
check_contains "the user with few clicks lists them" "$out" \
    'every_click #7 u2  completed {"count":0}'
check_contains "the other runs of the event complete" "$out" \
    'fine #8 u2  completed {"ok":true}'
check_contains "a buffer past the cap names its line" "$out" \
    'build #9 u4  failed: big.lua:31: not enough memory'
check_contains "a result past the cap fails the run" "$out" \
    "give_back #10 u5  failed: not enough memory to encode the run's result"
check_contains "a match past the cap fails the waiting run" "$out" \
    "matcher #11 u6  failed: matching event 30006 against the wait's match table failed: not enough memory"
check_contains "a later run gets the memory back" "$out" \
    'later #12 u3  completed {"length":1000000}'
check_contains "the summary counts the failures" "$out" \
    'big_emit                         2          0       2          0        0'
check_contains "the summary counts the runs that went on" "$out" \
    'fine                             2          2       0          0        0'

echo "memory cap: $checks checks, $failures failures"
[ "$failures" -eq 0 ]
