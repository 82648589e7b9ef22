#!/bin/bash
# Tests how the journey subcommands respond to bad usage: each names the bad
# option, argument or value, says what to give instead, and exits with
# status 2, or 1 for a setting that is valid but cannot work. None of
# them may abort. A usage error prints one line that names --help in
# place of the help text, and --help prints the help to standard output.
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
# status, out and err.
run() {
    (cd "$work" && "$journey" "$@") > "$work/out" 2> "$work/err"
    status=$?
    out=$(cat "$work/out")
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

# Checks that the last run exited with status 2 and printed two lines to
# standard error: "journey COMMAND: MESSAGE" and the line that names the
# command's --help, with none of the help text. An empty COMMAND means
# the top-level command.
expect_usage_error() { # NAME COMMAND MESSAGE
    local prefix="journey $2: "
    local hint="Run \"journey $2 --help\" for the options."
    if [ -z "$2" ]; then
        prefix="journey: "
        hint='Run "journey --help" for the commands.'
    fi
    expect "$1" 2 "$prefix$3"

    checks=$((checks + 1))
    if ! grep -qxF "$hint" "$work/err"; then
        failures=$((failures + 1))
        echo "FAIL: $1: expected the line: $hint"
        head -5 "$work/err" | sed 's/^/  | /'
    fi

    checks=$((checks + 1))
    if grep -q '^usage:' "$work/err"; then
        failures=$((failures + 1))
        echo "FAIL: $1: standard error contains the help text"
    fi

    checks=$((checks + 1))
    local lines
    lines=$(wc -l < "$work/err")
    if [ "$lines" -ne 2 ]; then
        failures=$((failures + 1))
        echo "FAIL: $1: expected 2 lines on standard error, got $lines"
    fi
}

# Runs journey with ARGS and checks that it exits with status 0 and
# prints the whole help to standard output: the usage line first, the
# LAST_TEXT of its last entry, and nothing to standard error.
expect_help() { # NAME LAST_TEXT ARGS...
    local name=$1 last_text=$2
    shift 2
    run "$@"

    checks=$((checks + 1))
    if [ "$status" != 0 ]; then
        failures=$((failures + 1))
        echo "FAIL: $name: expected status 0, got $status"
    fi

    checks=$((checks + 1))
    if [[ "$(head -1 "$work/out")" != "usage: journey "* ]]; then
        failures=$((failures + 1))
        echo "FAIL: $name: standard output does not start with the usage line"
        head -3 "$work/out" | sed 's/^/  | /'
    fi

    checks=$((checks + 1))
    if [[ "$out" != *"$last_text"* ]]; then
        failures=$((failures + 1))
        echo "FAIL: $name: standard output lacks the end of the help: $last_text"
    fi

    checks=$((checks + 1))
    if [ -n "$err" ]; then
        failures=$((failures + 1))
        echo "FAIL: $name: expected nothing on standard error, got:"
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

# A --until that reads as neither a time nor a duration gets the reason
# of the reading it looks like, or of both.
run simulate "$script" --events "$events" --until -1h
expect "simulate: negative --until" 2 \
    'invalid --until "-1h": durations must not be negative; give a duration such as 30d or an ISO-8601 time'
run simulate "$script" --events "$events" --until 3dys
expect "simulate: --until with a mistyped unit" 2 \
    'invalid --until "3dys": unknown unit "dys" (use ms, s, m, h, d, w, y or mo); give a duration'
run simulate "$script" --events "$events" --until 2024-06-31
expect "simulate: --until on a day that does not exist" 2 \
    'invalid --until "2024-06-31": day 31 is out of range (June 2024 has 30 days); give an ISO-8601 time'
run simulate "$script" --events "$events" --until 20240601T120000Z
expect "simulate: --until in ISO-8601's basic form" 2 \
    'invalid --until "20240601T120000Z": expected a date as YYYY-MM-DD'
run simulate "$script" --events "$events" --until 1000Wks
expect "simulate: --until with a mistyped week unit" 2 \
    'invalid --until "1000Wks": unknown unit "Wks"'
run simulate "$script" --events "$events" --until yesterday
expect "simulate: --until that looks like neither" 2 \
    'give an ISO-8601 time (invalid time "yesterday": expected a date as YYYY-MM-DD'
run simulate "$script" --events "$events" --memory-cap 99999999999999999999
expect "simulate: memory cap past 64 bits" 2 "1 to 18446744073709551615"
run simulate "$script" --events "$events" --max-journal 4294967296
expect "simulate: journal cap past 32 bits" 2 "1 to 4294967295"
run simulate "$script" --events "$events" --memory-cap 10000
expect "simulate: memory cap too small for Lua" 1 "with a memory cap of 10000 bytes; raise the cap"

run simulate "$script" --events "$events" --bogus
expect_usage_error "simulate: unknown option, hint line" simulate "unknown option --bogus"
run simulate "$script" --event "$events"
expect_usage_error "simulate: suggestion, hint line" simulate \
    "unknown option --event; did you mean --events?"
run simulate "$script" --events
expect_usage_error "simulate: option without a value" simulate "--events needs a value"
run simulate "$script" --events "$events" --jobs
expect_usage_error "simulate: --jobs without a value" simulate "--jobs needs a value"
run simulate "$script"
expect_usage_error "simulate: missing --events" simulate "missing --events FILE"
run simulate --events "$events"
expect_usage_error "simulate: missing script" simulate "give at least one journey script"
run send app/x --user u --bogus
expect_usage_error "send: unknown option, hint line" send "unknown option --bogus"
run send app/x extra --user u
expect_usage_error "send: extra argument, hint line" send 'unexpected argument "extra"'
run send app/x
expect_usage_error "send: missing --user" send "give an event NAME and --user, or --file"
run serve "$work" --bogus
expect_usage_error "serve: unknown option, hint line" serve "unknown option --bogus"
run serve "$work" --listen
expect_usage_error "serve: option without a value" serve "--listen needs a value"
run serve
expect_usage_error "serve: missing scripts directory" serve \
    "give the directory of the journey scripts"
run runs --staus waiting
expect_usage_error "runs: suggestion, hint line" runs \
    "unknown option --staus; did you mean --status?"
run runs extra
expect_usage_error "runs: extra argument" runs 'unexpected argument "extra"'
run runs --limit
expect_usage_error "runs: --limit without a value" runs "--limit needs a value"
run show --bogus 1
expect_usage_error "show: unknown option, hint line" show "unknown option --bogus"
run show
expect_usage_error "show: missing run id" show "missing the run id"
run show 1 2
expect_usage_error "show: two run ids" show 'give one run id, got "1" and "2"'
run frobnicate
expect_usage_error "unknown command, hint line" "" 'unknown command "frobnicate"'
run simualte
expect_usage_error "mistyped command" "" 'unknown command "simualte"; did you mean simulate?'
run run
expect_usage_error "command cut short" "" 'unknown command "run"; did you mean runs?'

expect_help "simulate --help" "off keeps everything)" simulate --help
expect_help "send --help" "--url URL     the server" send --help
expect_help "serve --help" "(default: every run keeps its coroutine)" serve --help
expect_help "runs --help" "print one JSON object per run" runs --help
expect_help "show -h" "print everything as one JSON object" show -h
expect_help "journey --help" "version                            print the version" --help
expect_help "journey help" "version                            print the version" help

# With no command at all, journey prints the list of commands, as help
# does, but to standard error and with status 2.
run
expect "no command: the list of commands" 2 "usage: journey <command> [options]"

echo "cli usage test: $checks checks, $failures failed"
[ "$failures" -eq 0 ]
