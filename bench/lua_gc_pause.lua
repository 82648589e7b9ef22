-- The longest pause of Lua's collector with N suspended coroutines, in
-- the stock interpreter, without the host. Each coroutine waits in a
-- yield with two small tables on its stack, as a waiting run waits with
-- its j table and its trigger event. Prints one JSON line.
--
-- usage: lua5.4 bench/lua_gc_pause.lua N [CYCLES]
--   N       suspended coroutines
--   CYCLES  full collection cycles to step through (default 2)

local n = tonumber(arg[1])
local cycles = tonumber(arg[2] or "2")
if n == nil or cycles == nil then
  io.stderr:write("usage: lua5.4 bench/lua_gc_pause.lua N [CYCLES]\n")
  os.exit(2)
end

local function wait_for_event(j, event)
  local woken = coroutine.yield()
  return j, event, woken
end

local waiting = {}
for i = 1, n do
  local co = coroutine.create(wait_for_event)
  coroutine.resume(co, {user = "u" .. i, run_id = i}, {data = {email = "u" .. i .. "@example.test"}})
  waiting[i] = co
end

-- The interpreter starts in generational mode, in which a step never
-- ends a cycle. States made with lua_newstate, as the host makes them,
-- start in incremental mode.
collectgarbage("collect")
collectgarbage("incremental")
local live_kib = collectgarbage("count")

-- Full cycles, one step at a time. With the default settings each call
-- does the work the collector does for 8 KB of allocation, so the
-- longest call is the longest pause a cycle makes a program take. The
-- step that finishes the marking (the atomic phase) cannot be split.
local clock = os.clock
local longest, total, steps = 0, 0, 0
for _ = 1, cycles do
  repeat
    local started = clock()
    local finished = collectgarbage("step", 0)
    local elapsed = clock() - started
    steps = steps + 1
    total = total + elapsed
    if elapsed > longest then
      longest = elapsed
    end
  until finished
end

print(string.format('{"bench":"lua_gc_pause","coroutines":%d,"live_mib":%.1f,'
                    .. '"cycles":%d,"steps":%d,"cycle_ms":%.1f,"longest_step_ms":%.2f}',
                    n, live_kib / 1024, cycles, steps, total / cycles * 1e3, longest * 1e3))
assert(#waiting == n)
