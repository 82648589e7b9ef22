#!/bin/bash
# Tests journey runs and journey show against a store that journey
# simulate writes. The store has a completed run with steps, a retried
# step and emits, a wait that timed out, two failed runs, a cancelled
# run, and runs left waiting and sleeping at the horizon, and a run whose
# replay diverged after its coroutine was evicted. Then checks
# the error cases and that reading works beside a host that is writing
# the store.
#
# usage: tests/inspect_test.sh JOURNEY_BINARY
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 JOURNEY_BINARY" >&2
    exit 2
fi
journey=$(realpath "$1")
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d /tmp/journey-inspect.XXXXXX)
writer_pid=
cleanup() {
    if [ -n "$writer_pid" ]; then
        kill "$writer_pid" 2> /dev/null
        wait "$writer_pid" 2> /dev/null
    fi
    rm -rf "$work"
}
trap cleanup EXIT

checks=0
failures=0

# Runs journey with the given arguments and sets out, err and status.
run() {
    out=$("$journey" "$@" 2> "$work/stderr")
    status=$?
    err=$(cat "$work/stderr")
    last_command="journey $*"
}

fail() {
    failures=$((failures + 1))
    echo "FAIL: $1"
    echo "  command: $last_command (exit status $status)"
    if [ -n "$out" ]; then printf '%s\n' "$out" | head -40 | sed 's/^/  stdout| /'; fi
    if [ -n "$err" ]; then printf '%s\n' "$err" | head -20 | sed 's/^/  stderr| /'; fi
}

check_status() { # NAME EXPECTED
    checks=$((checks + 1))
    [ "$status" -eq "$2" ] || fail "$1: expected exit status $2"
}

check_out() { # NAME TEXT: stdout contains TEXT
    checks=$((checks + 1))
    grep -q -F -- "$2" <<< "$out" || fail "$1: expected stdout to contain: $2"
}

check_no_out() { # NAME TEXT: stdout does not contain TEXT
    checks=$((checks + 1))
    if grep -q -F -- "$2" <<< "$out"; then fail "$1: expected stdout not to contain: $2"; fi
}

check_err() { # NAME TEXT: stderr contains TEXT
    checks=$((checks + 1))
    grep -q -F -- "$2" <<< "$err" || fail "$1: expected stderr to contain: $2"
}

check_equal() { # NAME ACTUAL EXPECTED
    checks=$((checks + 1))
    [ "$2" = "$3" ] || fail "$1: expected \"$3\", got \"$2\""
}

# Decodes stdout as JSON Lines with lua-cjson and prints the value of a
# Lua expression over rows (every decoded line) and doc (the first).
json_eval() { # EXPRESSION
    EXPRESSION="$1" lua5.4 -e '
        local cjson = require "cjson"
        local rows = {}
        for line in io.lines() do
            local ok, value = pcall(cjson.decode, line)
            if not ok then
                io.write("invalid JSON line: ", line)
                os.exit(0)
            end
            rows[#rows + 1] = value
        end
        local env = setmetatable({rows = rows, doc = rows[1], null = cjson.null},
                                 {__index = _G})
        local chunk = assert(load("return " .. os.getenv("EXPRESSION"), "expression", "t", env))
        local ok, value = pcall(chunk)
        if not ok then
            io.write("error: ", tostring(value))
        else
            -- cjson decodes every number as a float: print 10, not 10.0.
            io.write(tostring(math.tointeger(value) or value))
        end
    ' <<< "$out"
}

# Prints how many table rows (lines that start with a run id) stdout has.
table_rows() {
    grep -c -E '^ *[0-9]+  ' <<< "$out"
}

# ---- The store ----

cat > "$work/journeys.lua" <<'EOF'
local journey = require "journey"

-- Reserves, waits an hour for a payment or a payment failure, then
-- charges with a step whose first attempt fails.
journey.define {
  name = "checkout",
  on = "shop/order_placed",
  key = "data.order",
  run = function(j, order)
    local id = order.data.order
    local code = j.step("reserve", function() return "R-" .. id end)
    j.emit("shop/reserved", { order = id, code = code })
    local paid = j.wait_for({ "shop/paid", "shop/payment_failed" },
                            { match = { order = id }, timeout = "1h" })
    if not paid then
      j.emit("shop/expired", { order = id })
      return { result = "expired" }
    end
    local attempts = 0
    local charge = j.step({ name = "charge", retries = 2, backoff = "1m" }, function()
      attempts = attempts + 1
      if attempts == 1 then error("card declined", 0) end
      return "ch-" .. id
    end)
    j.emit("shop/shipped", { order = id, charge = charge })
    return { result = "shipped" }
  end,
}

-- Journals now, os.time, math.random and events, then sleeps 30 days:
-- past the horizon, so these runs stay sleeping unless cancelled.
journey.define {
  name = "review",
  on = "shop/order_placed",
  key = false,
  cancel_on = "shop/order_cancelled",
  run = function(j, order)
    j.now()
    os.time()
    math.random(1, 6)
    j.events("shop/order_placed", { since = "ever" })
    j.sleep("30d")
    j.emit("review/requested", { order = order.data.order })
    return { result = "requested" }
  end,
}

-- Emits for another user, then fails in a step without retries.
journey.define {
  name = "refund",
  on = "shop/refund_requested",
  run = function(j, request)
    j.emit("ops/alert", { order = request.data.order }, "ops-team")
    j.step({ name = "refund", retries = 0 }, function()
      error("payment gateway refused the refund", 0)
    end)
    return { result = "refunded" }
  end,
}

-- Fails outside any step.
journey.define {
  name = "address",
  on = "shop/address_changed",
  run = function(j, change)
    error("address check failed for " .. change.user)
  end,
}
EOF

cat > "$work/events.jsonl" <<'EOF'
{"id":"o1","user":"u1","name":"shop/order_placed","ts":"2024-01-01T10:00:00Z","data":{"order":"1"}}
{"id":"o2","user":"u2","name":"shop/order_placed","ts":"2024-01-01T10:05:00Z","data":{"order":"2"}}
{"id":"o3","user":"u3","name":"shop/order_placed","ts":"2024-01-01T10:10:00Z","data":{"order":"3"}}
{"id":"c3","user":"u3","name":"shop/order_cancelled","ts":"2024-01-01T10:15:00Z","data":{"order":"3"}}
{"id":"p1","user":"u1","name":"shop/paid","ts":"2024-01-01T10:20:00Z","data":{"order":"1"}}
{"id":"r4","user":"u4","name":"shop/refund_requested","ts":"2024-01-01T10:30:00Z","data":{"order":"4"}}
{"id":"a5","user":"u5","name":"shop/address_changed","ts":"2024-01-01T10:40:00Z","data":{"street":"Main St 1"}}
{"id":"o6","user":"u6","name":"shop/order_placed","ts":"2024-01-01T11:50:00Z","data":{"order":"6"}}
EOF

db="$work/store.db"
store="sqlite:$db"
run simulate "$work/journeys.lua" --events "$work/events.jsonl" --store "$store" \
    --until 2024-01-01T12:00:00Z --retention off --quiet
check_status "simulate builds the store" 0
if [ "$status" -ne 0 ]; then
    echo "inspect test: cannot build the store, stopping"
    exit 1
fi
store_sum=$(sha256sum < "$db")

# ---- journey runs ----

run runs --store "$store"
check_status "runs all" 0
check_equal "runs all: row count" "$(table_rows)" 10
check_equal "runs all: newest first" "$(sed -n 2p <<< "$out" | awk '{print $1}')" 10
check_out "runs all: header" "ended, or waiting until"
check_out "runs all: waiting run shows its wait" \
    "shop/paid,shop/payment_failed until 2024-01-01T12:50:00Z"
check_out "runs all: sleeping run shows its deadline" "sleep until 2024-01-31T11:50:00Z"
check_no_out "runs all: no more-line" "more run"

run runs --store "$store" --limit 3
check_status "runs limit" 0
check_equal "runs limit: row count" "$(table_rows)" 3
check_out "runs limit: more-line" "7 more runs match; --limit 10 shows them"

run runs --store "$store" --status failed
check_equal "runs failed: row count" "$(table_rows)" 2
check_out "runs failed: refund" "refund"
check_out "runs failed: address" "address"
check_no_out "runs failed: no completed" "completed"

run runs --store "$store" --status live
check_equal "runs live: row count" "$(table_rows)" 4
check_no_out "runs live: no ended run" " failed "

run runs --store "$store" --status waiting
check_equal "runs waiting: row count" "$(table_rows)" 1
check_out "runs waiting: the checkout of u6" "checkout  u6"

run runs --store "$store" --status sleeping --journey review
check_equal "runs sleeping review: row count" "$(table_rows)" 3

run runs --store "$store" --status completed,cancelled
check_equal "runs status list: row count" "$(table_rows)" 4

run runs --store "$store" --user u1
check_equal "runs user: row count" "$(table_rows)" 2

run runs --store "$store" --user nobody
check_status "runs no match" 0
check_out "runs no match: message" "no runs in $db match"

run runs --store "$store" --json
check_status "runs json" 0
check_equal "runs json: line count" "$(json_eval '#rows')" 10
check_equal "runs json: newest first" "$(json_eval 'rows[1].id')" 10
waiting='(function() for _, r in ipairs(rows) do if r.status == "waiting" then return r end end end)()'
check_equal "runs json: wait names" "$(json_eval "$waiting.wait_names[1]")" "shop/paid"
check_equal "runs json: second wait name" "$(json_eval "$waiting.wait_names[2]")" \
    "shop/payment_failed"
check_equal "runs json: deadline" "$(json_eval "$waiting.deadline")" "2024-01-01T12:50:00Z"
check_equal "runs json: live run has no end" "$(json_eval "$waiting.ended_at == null")" true
check_equal "runs json: trigger name" "$(json_eval "$waiting.trigger_name")" "shop/order_placed"
first='rows[#rows]'
check_equal "runs json: result is JSON" "$(json_eval "$first.result.result")" "shipped"
check_equal "runs json: journal length" "$(json_eval "$first.steps")" 7
check_equal "runs json: run without key" "$(json_eval 'rows[1].key == null')" true
check_equal "runs json: error text" \
    "$(json_eval '(function() for _, r in ipairs(rows) do if r.journey == "address" then return r.error:match("address check failed for u5") ~= nil end end end)()')" true

run runs --store "$store" --json --limit 2
check_equal "runs json limit: line count" "$(json_eval '#rows')" 2
check_err "runs json limit: more-note on stderr" "8 more runs match"

run runs --store "$store" --status bogus
check_status "runs bad status" 2
check_err "runs bad status: message" 'invalid --status "bogus"'

run runs --store "$store" --status waiting,bogus
check_status "runs bad status in list" 2
check_err "runs bad status in list: message" 'invalid --status "bogus"'

run runs --store "$store" --limit many
check_status "runs bad limit" 2
check_err "runs bad limit: message" 'invalid --limit "many"'

# ---- journey show ----

# Prints the id of the first run of journey $2 for user $1.
run_id_of() { # USER JOURNEY
    run runs --store "$store" --user "$1" --journey "$2" --json
    json_eval 'rows[1].id'
}

shipped=$(run_id_of u1 checkout)
run show "$shipped" --store "$store"
check_status "show completed" 0
check_out "show completed: status" "status      completed: the run returned"
check_out "show completed: result" 'result      {"result":"shipped"}'
check_out "show completed: trigger" "trigger     event #1 shop/order_placed at 2024-01-01T10:00:00Z, id o1"
check_out "show completed: trigger data" 'data {"order":"1"}'
check_out "show completed: step result" 'step "reserve" -> "R-1"'
check_out "show completed: emit" "emit shop/reserved -> event #2"
check_out "show completed: wait_for event" \
    "wait_for shop/paid or shop/payment_failed -> event #8 shop/paid at 2024-01-01T10:20:00Z"
check_out "show completed: failed attempt" 'step "charge" attempt 1 failed: card declined'
check_out "show completed: backoff" 'sleep before retrying step "charge" -> woke at 2024-01-01T10:21:00Z'
check_out "show completed: retried step" 'step "charge" -> "ch-1"'
check_out "show completed: journal length" "journal: 7 steps"
check_out "show completed: emitted count" "emitted: 2 events"
check_out "show completed: duration" "21 minutes after the start"

run show "#$shipped" --store "$store" --json
check_status "show json" 0
check_equal "show json: id" "$(json_eval 'doc.id')" "$shipped"
check_equal "show json: trigger" "$(json_eval 'doc.trigger.name')" "shop/order_placed"
check_equal "show json: result" "$(json_eval 'doc.result.result')" "shipped"
check_equal "show json: journal length" "$(json_eval '#doc.journal')" 7
check_equal "show json: first step kind" "$(json_eval 'doc.journal[1].kind')" "step"
check_equal "show json: step values" "$(json_eval 'doc.journal[1].result["values"][1]')" "R-1"
check_equal "show json: received event" "$(json_eval 'doc.journal[3].event.name')" "shop/paid"
check_equal "show json: step text" "$(json_eval 'doc.journal[4].text')" 'step "charge" attempt 1 failed: card declined'
check_equal "show json: emitted count" "$(json_eval '#doc.emitted')" 2
check_equal "show json: emitted data" "$(json_eval 'doc.emitted[2].data.charge')" "ch-1"
check_equal "show json: no wait" "$(json_eval 'doc.wait == null')" true

expired=$(run_id_of u2 checkout)
run show "$expired" --store "$store"
check_out "show timeout: wait" "wait_for shop/paid or shop/payment_failed -> timed out"
check_out "show timeout: emit" "emit shop/expired -> event #"
check_out "show timeout: result" '{"result":"expired"}'

waiting=$(run_id_of u6 checkout)
run show "$waiting" --store "$store"
check_status "show waiting" 0
check_out "show waiting: status" \
    "waiting for shop/paid or shop/payment_failed until 2024-01-01T12:50:00Z (in 1 hour from the store's clock)"
check_out "show waiting: match" "match: not stored"
check_out "show waiting: timeout" "At the deadline the wait times out"
check_out "show waiting: store clock" "store clock 2024-01-01T11:50:00Z"
check_out "show waiting: pending line" \
    "(pending)             wait_for shop/paid or shop/payment_failed until 2024-01-01T12:50:00Z"
check_no_out "show waiting: no end" "ended "

run show "$waiting" --store "$store" --json
check_equal "show json waiting: names" "$(json_eval 'doc.wait.names[2]')" "shop/payment_failed"
check_equal "show json waiting: deadline" "$(json_eval 'doc.wait.deadline')" "2024-01-01T12:50:00Z"
check_equal "show json waiting: clock" "$(json_eval 'doc.store_clock')" "2024-01-01T11:50:00Z"
check_equal "show json waiting: no end" "$(json_eval 'doc.ended_at == null')" true

sleeping=$(run_id_of u6 review)
run show "$sleeping" --store "$store"
check_out "show sleeping: status" "sleeping until 2024-01-31T11:50:00Z (in 30 days from the store's clock)"
check_out "show sleeping: pending line" "sleep until 2024-01-31T11:50:00Z"
check_out "show sleeping: now" "now -> 2024-01-01T11:50:00Z"
check_out "show sleeping: os.time" "os.time -> 1704109800 (2024-01-01T11:50:00Z)"
check_out "show sleeping: math.random" "math.random -> "
check_out "show sleeping: events" "events shop/order_placed -> 1 event: #"
check_out "show sleeping: no key" "key         none"

cancelled=$(run_id_of u3 review)
run show "$cancelled" --store "$store"
check_out "show cancelled: status" "cancelled: an event in the journey's cancel_on list"
check_out "show cancelled: not stored" "The store does not record which event"
check_out "show cancelled: candidate" "#7 shop/order_cancelled"
check_out "show cancelled: end" "ended       2024-01-01T10:15:00Z"

run show "$cancelled" --store "$store" --json
check_equal "show json cancelled: candidate" "$(json_eval 'doc.cancel_candidates[1].name')" \
    "shop/order_cancelled"

refund=$(run_id_of u4 refund)
run show "$refund" --store "$store"
check_out "show failed step: status" "failed: the run raised an error"
check_out "show failed step: error" 'j.step("refund") failed after 1 attempt: payment gateway refused the refund'
check_out "show failed step: traceback" "stack traceback:"
check_out "show failed step: final attempt" \
    'step "refund" attempt 1 failed, no retry left: payment gateway refused the refund'
check_out "show failed step: emit for another user" "emit ops/alert -> event #11 for user ops-team"
check_out "show failed step: emitted list" "for user ops-team"

address=$(run_id_of u5 address)
run show "$address" --store "$store"
check_out "show failed run: error" "address check failed for u5"
check_out "show failed run: traceback" "in function 'error'"
check_out "show failed run: empty journal" "journal: 0 steps"

run show "$address" --store "$store" --json
check_equal "show json failed: error" \
    "$(json_eval 'doc.error:match("stack traceback") ~= nil')" true

# ---- Errors ----

run show 999 --store "$store"
check_status "show missing run" 1
check_err "show missing run: message" "run 999 not found in $db"

run show abc --store "$store"
check_status "show invalid run id" 2
check_err "show invalid run id: message" 'invalid run id "abc"'

run show --store "$store"
check_status "show without run id" 2
check_err "show without run id: message" "missing the run id"

run show 1
check_status "show without store" 2
check_err "show without store: message" "missing --store sqlite:PATH"

run runs --store memory
check_status "runs memory store" 2
check_err "runs memory store: message" "give --store sqlite:PATH"

# A run that the host failed because its rebuild by replay diverged:
# the script waits for another event once a global counter has moved.
cat > "$work/fickle.lua" << 'LUA'
local journey = require "journey"
calls = 0
journey.define {
  name = "fickle",
  on = "app/started",
  run = function(j)
    calls = calls + 1
    j.wait_for(calls == 1 and "app/first" or "app/second", {timeout = "1h"})
  end,
}
LUA
printf '%s\n' '{"user":"u1","name":"app/started","ts":"2024-01-01T00:00:00Z"}' \
    '{"user":"u2","name":"app/started","ts":"2024-01-01T00:00:01Z"}' \
    '{"user":"u1","name":"app/first","ts":"2024-01-01T00:00:02Z"}' > "$work/fickle.jsonl"
run simulate "$work/fickle.lua" --events "$work/fickle.jsonl" --store "sqlite:$work/fickle.db" \
    --resident-runs 1 --quiet
check_status "fickle replay" 0
run show 1 --store "sqlite:$work/fickle.db"
check_status "show diverged run" 0
check_out "show diverged run: status" "failed: its replay took another path than the run had taken"
check_out "show diverged run: error" "replay diverged at step 1: when its coroutine was evicted"

run runs --store "sqlite:$work/missing.db"
check_status "runs missing file" 1
check_err "runs missing file: message" "cannot open the store $work/missing.db: No such file or directory"
checks=$((checks + 1))
[ ! -e "$work/missing.db" ] || fail "runs missing file: the file must not be created"

run show 1 --store "sqlite:$work/missing.db"
check_status "show missing file" 1
check_err "show missing file: message" "cannot open the store $work/missing.db"

sqlite3 "$work/other.db" "CREATE TABLE notes (text TEXT); INSERT INTO notes VALUES ('hi');"
run runs --store "sqlite:$work/other.db"
check_status "runs other database" 1
check_err "runs other database: message" "$work/other.db is not a journey store"

echo "plain text, not a database" > "$work/notes.txt"
run show 1 --store "sqlite:$work/notes.txt"
check_status "show text file" 1
check_err "show text file: message" "is it a SQLite database?"

cp "$db" "$work/newer.db"
sqlite3 "$work/newer.db" "PRAGMA user_version = 3;"
run runs --store "sqlite:$work/newer.db"
check_status "runs newer schema" 1
check_err "runs newer schema: message" "has store schema version 3, newer than this journey reads (2)"

# A store of schema version 1 kept deadlines in a table of their own.
# The readers show it as they show the same store in version 2, and
# leave it as it is.
cp "$db" "$work/v1.db"
sqlite3 "$work/v1.db" "CREATE TABLE deadlines (run_id INTEGER PRIMARY KEY, at INTEGER NOT NULL);
INSERT INTO deadlines SELECT id, deadline FROM runs WHERE deadline IS NOT NULL;
ALTER TABLE runs DROP COLUMN deadline; PRAGMA user_version = 1;"
run runs --store "$store"
current_runs=$out
run runs --store "sqlite:$work/v1.db"
check_status "runs version 1" 0
check_equal "runs version 1: same listing" "$out" "$current_runs"
check_out "runs version 1: deadline shown" "until 2024-01-01T12:50:00Z"
run show 9 --store "$store" --json
current_show=$out
run show 9 --store "sqlite:$work/v1.db" --json
check_equal "show version 1: same run" "$out" "$current_show"
check_equal "version 1 left as it is" "$(sqlite3 "$work/v1.db" "PRAGMA user_version")" "1"

# ---- Reading beside a host ----

checks=$((checks + 1))
[ "$(sha256sum < "$db")" = "$store_sum" ] || fail "reads left the store file unchanged"

# The host's exclusive lock on PATH.lock does not stop a reader.
out=$(flock "$db.lock" "$journey" runs --store "$store" --limit 1 2> "$work/stderr")
status=$?
err=$(cat "$work/stderr")
last_command="flock $db.lock journey runs"
check_status "runs while the store is locked" 0

# Read over and over while a replay commits every 20 events.
lua5.4 "$here/crash/make_events.lua" 300 > "$work/busy-events.jsonl"
busy="$work/busy.db"
"$journey" simulate "$here/crash/journeys.lua" --events "$work/busy-events.jsonl" \
    --store "sqlite:$busy" --commit-every 20 --retention off --quiet > /dev/null 2>&1 &
writer_pid=$!
# Until the host has created the schema, the file is not a journey store yet.
for _ in $(seq 200); do
    "$journey" runs --store "sqlite:$busy" --limit 1 > /dev/null 2>&1 && break
    sleep 0.01
done
reads=0
read_failures=0
while kill -0 "$writer_pid" 2> /dev/null && [ "$reads" -lt 500 ]; do
    run runs --store "sqlite:$busy" --status live --limit 5
    reads=$((reads + 1))
    if [ "$status" -ne 0 ]; then
        read_failures=$((read_failures + 1))
        failed_read_err=$err
    fi
done
echo "  reads while the host was writing: $reads"
out=
err=${failed_read_err:-}
checks=$((checks + 1))
[ "$read_failures" -eq 0 ] || fail "runs beside a writing host: $read_failures of $reads reads failed"

wait "$writer_pid"
status=$?
writer_pid=
last_command="journey simulate (the writing host)"
check_status "the writing host finished" 0

run runs --store "sqlite:$busy" --json --limit 0
check_status "runs after the writing host" 0
check_equal "runs after the writing host: every run" "$(json_eval '#rows')" \
    "$(sqlite3 "$busy" 'SELECT count(*) FROM runs')"

# ---- times with milliseconds ----

# A journal time with milliseconds is 4 characters longer; the pending
# line keeps the column of the steps above it.
cat > "$work/ms.lua" <<'LUA'
local journey = require "journey"
journey.define{ name = "ms", on = "app/go", run = function(j)
  j.now()
  j.wait_for("app/done", {timeout = "1h"})
end }
LUA
printf '%s\n' '{"user":"m","name":"app/go","ts":"2024-01-01T10:00:00.250Z"}' > "$work/ms.jsonl"
run simulate "$work/ms.lua" --events "$work/ms.jsonl" --store "sqlite:$work/ms.db" \
    --until 2024-01-01T10:30:00Z --quiet
check_status "simulate with millisecond times" 0
run show 1 --store "sqlite:$work/ms.db"
check_out "show: a step at a millisecond time" "  1  2024-01-01T10:00:00.250Z  now"
check_out "show: the pending line in the same column" "  2  (pending)                 wait_for app/done"

echo "inspect test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
