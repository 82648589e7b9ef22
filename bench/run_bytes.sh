#!/bin/sh
# The byte profile of one waiting run. Runs bench/run_bytes.c under
# heaptrack twice, with SMALL and LARGE waiting runs, and classifies
# every allocation still live when all runs wait (after a full Lua
# garbage collection) by its call stack. The
# difference between the two runs, over LARGE - SMALL, is what one more
# waiting run costs, hash tables and arrays that grow by doubling
# included at their average. heaptrack counts the bytes requested from
# malloc; the heap line at the end counts glibc's chunks, headers
# included.
#
# usage: bench/run_bytes.sh [STORE] [SMALL] [LARGE] [RESIDENT]
#   STORE     memory (default) or sqlite
#   SMALL     waiting runs of the first profile (default 10000)
#   LARGE     waiting runs of the second (default 30000)
#   RESIDENT  the host's resident limit (default 0, no limit). Keep it
#             below SMALL, so that both profiles evict.
set -eu
cd "$(dirname "$0")/.."

store=${1:-memory}
small=${2:-10000}
large=${3:-30000}
resident=${4:-0}
dir=$(mktemp -d /tmp/journey-run-bytes.XXXXXX)

# Debug information keeps the inlined frames that tell the categories
# apart.
cmake -S . -B build-bytes -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build-bytes -j2 --target run_bytes >/dev/null

for n in "$small" "$large"; do
    spec=$store
    [ "$store" = sqlite ] && spec="sqlite:$dir/store-$n.db"
    heaptrack -o "$dir/profile-$n" ./build-bytes/run_bytes "$n" "$spec" "$resident" > "$dir/heap-$n.json" 2> /dev/null
    heaptrack_print -f "$dir/profile-$n.zst" --flamegraph-cost-type leaked \
        -F "$dir/stacks-$n.txt" > /dev/null
done

# The first rule whose pattern occurs in a stack names its category.
cat > "$dir/rules" <<'RULES'
jy_event_new	store	trigger event (jy_event: user, name, id, data)
jy_lua_parse_event	lua	strings interned while parsing the event (user, e-mail), shared with e
stack_init	lua	Lua stack
luaD_growstack	lua	Lua stack
luaD_reallocstack	lua	Lua stack
lua_newthread	lua	Lua thread (lua_State)
luaE_extendCI	lua	Lua CallInfo
push_j	lua	j table
start_values_protected;jy_lua_push_event	lua	trigger event table e, with e.data
wake_value_protected	lua	woken event table
luaL_ref	lua	registry references (coroutine, match)
start_values_protected;lua_rawset	lua	runs-by-thread entry
luaV_execute;luaH_	lua	tables the script builds (wait_for options, match)
luaV_execute;luaC_newobj	lua	tables the script builds (wait_for options, match)
memory_run_put	store	run record copy (jy_run_record)
journal	store	journal entries
memory_event_append	store	event indexes (by seq, by user, by id)
sqlite3	store	SQLite (page cache, statements)
timer_heap	host	deadline heap
jy_host_wait	host	wait index (link, names, map entry)
link_user_run	host	user_runs index
jy_map_put_id	host	runs index
jy__run_start;jy_map_put	host	live_keys index
jy__run_start	host	run (jy_run, user, received set)
	other	other
RULES

awk -F '\t' -v small="$small" -v large="$large" '
    FILENAME ~ /rules$/ { pattern[++rules] = $1; part[rules] = $2; name[rules] = $3; next }
    {
        n = split($0, fields, " ")
        cost = fields[n]
        stack = substr($0, 1, length($0) - length(cost) - 1)
        gsub(/ \([^)]*\)/, "", stack)   # "push_j (runtime.c)" to "push_j"
        for (r = 1; r <= rules; r++)
            if (pattern[r] == "" || index(stack, pattern[r]) > 0)
                break
        if (FILENAME ~ "stacks-" small ".txt$") bytes[r] -= cost; else bytes[r] += cost
    }
    END {
        for (r = 1; r <= rules; r++) {
            if (bytes[r] == 0) continue
            per_run = bytes[r] / (large - small)
            printf "{\"part\":\"%s\",\"what\":\"%s\",\"bytes_per_run\":%.1f}\n", part[r], name[r], per_run
            total += per_run
        }
        printf "{\"part\":\"all\",\"what\":\"requested from malloc\",\"bytes_per_run\":%.1f}\n", total
    }' "$dir/rules" "$dir/stacks-$small.txt" "$dir/stacks-$large.txt"

# glibc's view of the same runs, chunk headers and rounding included.
awk -v small="$small" -v large="$large" '
    match($0, /"heap_bytes_waiting":[0-9]+/) { heap[FILENAME] = substr($0, RSTART + 21, RLENGTH - 21) }
    END {
        a = heap[ARGV[1]]; b = heap[ARGV[2]]
        printf "{\"part\":\"all\",\"what\":\"malloc chunks in use (mallinfo2)\",\"bytes_per_run\":%.1f}\n", (b - a) / (large - small)
    }' "$dir/heap-$small.json" "$dir/heap-$large.json"
rm -rf "$dir"
