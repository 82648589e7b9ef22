#!/bin/bash
# Tests how the journey subcommands respond to bad usage: each names the bad
# option, argument or value, says what to give instead, and exits with
# status 2, or 1 for a setting that is valid but cannot work. None of
# them may abort.
#
# usage: tests/cli_usage_test.sh JOURNEY_BINARY
set -uo pipefail

if [ $# -ne 1 ]; then
    echo "usage: $0 JOURNEY_BINARY" >&2
    exit 2
fi
journey=$(realpath "$1")
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/journey-cli-usage.XXXXXX)
trap 'rm -rf "$work"' EXIT

checks=0
failures=0

# Runs journey in the work directory with the given arguments; sets
# status and err.
run() {
    (cd "$work" && "$journey" "$@") > "$work/out" 2> "$work/err"
    status=$?
    err=$(cat "$work/err")
}

check_no_file() { # NAME PATH
    checks=$((checks + 1))
    if [ -e "$2" ]; then
        failures=$((failures + 1))
        echo "FAIL: $1: $2 exists"
    fi
}

# Checks the last run's exit status and that its standard error contains
# the text.
expect() { # NAME STATUS TEXT
    checks=$((checks + 1))
    if [ "$status" != "$2" ] || [[ "$err" != *"$3"* ]]; then
        failures=$((failures + 1))
        echo "FAIL: $1: expected status $2 and: $3"
        echo "  got status $status and:"
        printf '%s\n' "$err" | head -5 | sed 's/^/  | /'
    fi
}

events="$here/data/uci-online-retail/events.jsonl"
script="$here/scripts/winback.lua"

run send app/x --user u --bogus
expect "send: unknown option last" 2 "unknown option --bogus"
run send app/x --usr u
expect "send: a misspelt option gets a suggestion" 2 "unknown option --usr; did you mean --user?"
run simulate "$script" --event "$events"
expect "simulate: a cut-off option gets a suggestion" 2 \
    "unknown option --event; did you mean --events?"
run simulate "$script" --events "$events" --untill 2012-01-01T00:00:00Z
expect "simulate: a doubled letter gets a suggestion" 2 \
    "unknown option --untill; did you mean --until?"
run runs --staus waiting
expect "runs: a misspelt option gets a suggestion" 2 "unknown option --staus; did you mean --status?"
run show --bogus 1
expect "show: a far option gets no suggestion" 2 "unknown option --bogus"
checks=$((checks + 1))
if [[ "$err" == *"did you mean"* ]]; then
    failures=$((failures + 1))
    echo "FAIL: show: a far option gets no suggestion: $err"
fi
run send app/x extra --user u
expect "send: extra argument" 2 'unexpected argument "extra" after the event name "app/x"'
run send app/x --user
expect "send: option without a value" 2 "--user needs a value"
run send app/x --user u --file "$events"
expect "send: an event and a file" 2 "give either --file or an event NAME"
mkdir "$work/a_directory"
run send --file "$work/a_directory" --url http://127.0.0.1:9
expect "send: a directory as the file" 1 "cannot read $work/a_directory: Is a directory"

run serve "$work" --bogus
expect "serve: unknown option last" 2 "unknown option --bogus"
run serve "$work" "$work/other"
expect "serve: extra argument" 2 "unexpected argument \"$work/other\" after the scripts directory"

run serve "$work/missing"
expect "serve: missing scripts directory" 1 "cannot read the scripts directory $work/missing: No such file or directory; create it"
check_no_file "serve: no store file for a missing directory" "$work/journey.db"

run simulate "$script" --events "$events" --emitted -
expect "simulate: --emitted to standard output" 2 \
    'invalid --emitted "-": standard output carries the transcript and the summary'
run simulate "$script" --events "$events" --retention 0s
expect "simulate: zero retention" 2 'invalid --retention "0s": give a duration above zero, or off'
run simulate "$script" --events "$events" --store sqlite:
expect "simulate: store without a path" 2 'invalid store "sqlite:"'
run simulate "$script" --events "$events" --memory-cap 99999999999999999999
expect "simulate: memory cap past 64 bits" 2 "1 to 18446744073709551615"
run simulate "$script" --events "$events" --max-journal 4294967296
expect "simulate: journal cap past 32 bits" 2 "1 to 4294967295"
run simulate "$script" --events "$events" --memory-cap 10000
expect "simulate: memory cap too small for Lua" 1 "with a memory cap of 10000 bytes; raise the cap"

echo "cli usage test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
