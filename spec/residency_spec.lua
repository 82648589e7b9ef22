-- A resident limit: past it, suspended runs drop their coroutine and
-- are rebuilt by replay when an event or a deadline wakes them. Every
-- run must end exactly as it would with all coroutines kept.
local support = require "support"
local journey = require "journey"

local T0 = journey.time("2024-01-01T00:00:00Z")

-- A run that uses every journaled step before and between its waits, so
-- a rebuild has something to replay at each point.
local side_effects

local function define_order(h)
  h:define{
    name = "order",
    on = "shop/ordered",
    run = function(j, event)
      local started = j.now()
      local ticket = j.step("open ticket", function()
        side_effects = side_effects + 1
        return "t-" .. event.data.order
      end)
      local pick = math.random(1000)
      j.emit("shop/confirmed", {order = event.data.order, pick = pick})
      local paid = j.wait_for("shop/paid", {match = {order = event.data.order}, timeout = "2d"})
      if not paid then
        return {result = "unpaid", ticket = ticket}
      end
      j.sleep("1h")
      local shipped = j.wait_for("shop/shipped", {timeout = "1d"})
      return {
        result = shipped and "shipped" or "late",
        ticket = ticket,
        pick = pick,
        amount = paid.data.amount,
        waited = j.now() - started,
      }
    end,
  }
end

-- Runs the same orders through a host with the given resident limit and
-- returns the results by order number, with the host.
local function run_orders(resident_runs)
  side_effects = 0
  local h = support.host{resident_runs = resident_runs}
  define_order(h)
  for n = 1, 10 do
    h:ingest{user = "u" .. n, name = "shop/ordered", data = {order = n}}
  end
  h:advance("1m")
  -- Orders 1 to 8 are paid, out of order; 9 and 10 never are.
  for _, n in ipairs({3, 1, 8, 2, 7, 4, 6, 5}) do
    h:ingest{user = "u" .. n, name = "shop/paid", data = {order = n, amount = n * 10}}
  end
  h:advance("2h")
  for n = 1, 6 do
    h:ingest{user = "u" .. n, name = "shop/shipped"}
  end
  h:advance("3d")

  -- math.random is journaled, so each run must end with the number it
  -- drew (and emitted) before its first wait; the numbers differ
  -- between hosts.
  local picks = {}
  for _, event in ipairs(h:emitted()) do
    picks[event.data.order] = event.data.pick
  end
  local results = {}
  for _, run in ipairs(h:runs{journey = "order"}) do
    local full = h:run(run.id)
    if full.result.pick ~= nil then
      assert.are.equal(picks[tonumber(full.user:sub(2))], full.result.pick)
      full.result.pick = nil
    end
    results[full.user] = {status = full.status, result = full.result}
  end
  return results, h
end

describe("a resident limit", function()
  after_each(support.close_hosts)

  it("ends every run as it ends with every coroutine kept", function()
    local kept, h_all = run_orders(0)
    local effects_all = side_effects
    local evicted, h = run_orders(3)

    assert.are.same(kept, evicted)
    assert.are.equal(effects_all, side_effects)
    assert.are.equal(10, side_effects)
    assert.are.equal(10, #h:emitted())
    assert.are.equal("shipped", evicted.u1.result.result)
    assert.are.equal(10, evicted.u1.result.amount)
    assert.are.equal("late", evicted.u7.result.result)
    assert.are.equal("unpaid", evicted.u9.result.result)

    local stats = h:stats()
    assert.are.equal(0, stats.runs_live)
    assert.are.equal(0, stats.runs_evicted)
    assert.is_true(stats.evictions >= 7)
    assert.is_true(stats.rebuilds >= 7)
    assert.are.equal(0, h_all:stats().evictions)
  end)

  it("keeps only the most recently suspended coroutines", function()
    local h = support.host{resident_runs = 4}
    h:define{name = "wait", on = "app/started", run = function(j)
      return {result = j.wait_for("app/done", {timeout = "1h"}) and "done" or "timeout"}
    end}
    for n = 1, 10 do
      h:ingest{user = "u" .. n, name = "app/started"}
    end

    local stats = h:stats()
    assert.are.equal(10, stats.runs_live)
    assert.are.equal(6, stats.runs_evicted)
    -- One ref per journey, two per resident run (coroutine and nothing
    -- else here: the waits have no match), none for an evicted run.
    assert.are.equal(1 + 4, stats.refs)

    -- Waking an evicted run rebuilds it; it ends, and another stays.
    h:ingest{user = "u1", name = "app/done"}
    assert.are.equal("done", support.only_run(h, {user = "u1"}).result.result)
    assert.are.equal(1, h:stats().rebuilds)
    assert.are.equal(5, h:stats().runs_evicted)

    -- The deadline wakes the rest, evicted or not.
    h:advance("1h")
    for n = 2, 10 do
      local run = support.only_run(h, {user = "u" .. n})
      assert.are.equal("timeout", run.result.result)
      assert.are.equal(T0 + 3600, run.ended_at)
    end
    assert.are.equal(6, h:stats().rebuilds)
  end)

  it("matches events against an evicted run's wait without rebuilding it", function()
    local h = support.host{resident_runs = 1}
    h:define{name = "cart", on = "shop/cart", run = function(j, event)
      local paid = j.wait_for("shop/paid", {match = {cart = event.data.cart}, timeout = "1d"})
      return {result = paid and paid.data.cart or "none"}
    end}
    h:ingest{user = "ada", name = "shop/cart", data = {cart = "a"}}
    h:ingest{user = "bob", name = "shop/cart", data = {cart = "b"}}
    assert.are.equal(1, h:stats().runs_evicted)

    h:ingest{user = "ada", name = "shop/paid", data = {cart = "other"}}
    assert.are.equal(0, h:stats().rebuilds)
    assert.are.equal("waiting", support.only_run(h, {user = "ada"}).status)

    h:ingest{user = "ada", name = "shop/paid", data = {cart = "a"}}
    assert.are.equal("a", support.only_run(h, {user = "ada"}).result.result)
    assert.are.equal(1, h:stats().rebuilds)
  end)

  it("rebuilds sleeping runs at their deadline", function()
    local h = support.host{resident_runs = 1}
    h:define{name = "nap", on = "app/nap", run = function(j, event)
      j.sleep(event.data.seconds)
      j.sleep_until(T0 + 2 * event.data.seconds)
      return {result = j.now()}
    end}
    for n = 1, 5 do
      h:ingest{user = "u" .. n, name = "app/nap", data = {seconds = n * 60}}
    end
    assert.are.equal(4, h:stats().runs_evicted)

    h:advance("1h")
    for n = 1, 5 do
      local run = support.only_run(h, {user = "u" .. n})
      assert.are.equal("completed", run.status)
      assert.are.equal(T0 + 2 * n * 60, run.result.result)
    end
  end)

  it("traces a rebuilt run's wait once, when it began", function()
    local h = support.host{resident_runs = 1}
    h:define{name = "wait", on = "app/started", run = function(j)
      j.wait_for("app/done", {timeout = "1h"})
    end}
    h:ingest{user = "u1", name = "app/started"}
    h:ingest{user = "u2", name = "app/started"}
    h:ingest{user = "u1", name = "app/done"}

    assert.are.equal(2, #support.traces(h, "waiting"))
    assert.are.equal(1, #support.traces(h, "woken"))
    assert.are.equal(1, #support.traces(h, "completed"))
  end)

  it("keeps an evicted run's old coroutine from scripts", function()
    local h = support.host{resident_runs = 1}
    local kept_coroutine
    local closed = 0
    h:define{name = "keeper", on = "app/keep", run = function(j)
      kept_coroutine = coroutine.running()
      local guard <close> = setmetatable({}, {__close = function() closed = closed + 1 end})
      j.wait_for("app/done", {timeout = "1d"})
      return {result = "done"}
    end}
    h:define{name = "waiter", on = "app/wait", run = function(j)
      j.wait_for("app/done", {timeout = "1d"})
    end}
    h:define{name = "thief", on = "app/steal", run = function()
      coroutine.close(kept_coroutine)
    end}
    -- The waiter's suspension evicts the keeper's coroutine.
    h:ingest{user = "u1", name = "app/keep"}
    h:ingest{user = "u2", name = "app/wait"}
    assert.are.equal(1, h:stats().runs_evicted)
    h:ingest{user = "u3", name = "app/steal"}

    local thief = support.only_run(h, {journey = "thief"})
    assert.are.equal("failed", thief.status)
    assert.matches("coroutine.close: the coroutine belongs to a run", thief.error, 1, true)
    assert.are.equal(0, closed)

    h:ingest{user = "u1", name = "app/done"}
    assert.are.equal("done", support.only_run(h, {journey = "keeper"}).result.result)
    assert.are.equal(1, closed)
  end)

  it("cancels an evicted run", function()
    local h = support.host{resident_runs = 1}
    h:define{name = "trial", on = "app/trial", cancel_on = "app/paid", run = function(j)
      j.sleep("7d")
    end}
    h:ingest{user = "u1", name = "app/trial"}
    h:ingest{user = "u2", name = "app/trial"}
    assert.are.equal(1, h:stats().runs_evicted)

    h:ingest{user = "u1", name = "app/paid"}
    assert.are.equal("cancelled", support.only_run(h, {user = "u1"}).status)
    assert.are.equal(0, h:stats().runs_evicted)
    assert.are.equal(0, h:stats().rebuilds)
  end)

  it("fails a run whose rebuild takes another path, and only that run", function()
    local h = support.host{resident_runs = 1}
    local calls = 0
    h:define{name = "fickle", on = "app/started", run = function(j)
      -- Reading state outside j.* makes the replay differ from the run.
      calls = calls + 1
      local name = calls == 1 and "app/first" or "app/second"
      local got = j.wait_for(name, {timeout = "1h"})
      return {result = got and got.name or "timeout"}
    end}
    h:define{name = "steady", on = "app/started", run = function(j)
      return {result = j.wait_for("app/first", {timeout = "1h"}) and "got" or "timeout"}
    end}
    h:ingest{user = "u1", name = "app/started"}
    assert.are.equal(1, h:stats().runs_evicted)

    h:ingest{user = "u1", name = "app/first"}
    local fickle = support.only_run(h, {journey = "fickle"})
    assert.are.equal("failed", fickle.status)
    assert.matches("replay diverged at step 1: when its coroutine was evicted the run was "
                   .. "waiting for app/first, but the script now waits for app/second; code "
                   .. "outside j.* (a global, a file) took another path",
                   fickle.error, 1, true)
    -- The error starts with the line of the wait that differs.
    assert.matches("^[^:]*residency_spec%.lua:%d+: replay diverged", fickle.error)
    assert.are.equal("got", support.only_run(h, {journey = "steady"}).result.result)
  end)

  it("rebuilds a run evicted while j.step waits to retry", function()
    local h = support.host{resident_runs = 1}
    local tries = {}
    h:define{name = "flaky", on = "app/go", run = function(j, e)
      return {result = j.step({name = "api", retries = 3, backoff = "1m"}, function()
        tries[e.user] = (tries[e.user] or 0) + 1
        if tries[e.user] < 2 then
          error("boom")
        end
        return "ok"
      end)}
    end}
    h:ingest{user = "u1", name = "app/go"}
    h:ingest{user = "u2", name = "app/go"}
    assert.are.equal(1, h:stats().runs_evicted)

    h:advance("5m")
    for _, user in ipairs({"u1", "u2"}) do
      local run = support.only_run(h, {user = user})
      assert.are.equal("completed", run.status)
      assert.are.equal("ok", run.result.result)
      assert.are.equal(2, tries[user])
    end
    assert.is_true(h:stats().rebuilds >= 1)
  end)

  it("never calls an action from a rebuild that diverges", function()
    local h = support.host{resident_runs = 1}
    local calls, starts = 0, 0
    h:action("notify", function()
      calls = calls + 1
      return true
    end)
    h:define{name = "fickle", on = "app/started", run = function(j)
      starts = starts + 1
      if starts == 1 then
        j.sleep("1h")
      else
        j.call("notify")
      end
    end}
    h:define{name = "other", on = "app/started", run = function(j)
      j.sleep("2h")
    end}
    h:ingest{user = "u1", name = "app/started"}
    assert.are.equal(1, h:stats().runs_evicted)

    h:advance("1h")
    assert.are.equal(0, calls)
    local fickle = support.only_run(h, {journey = "fickle"})
    assert.are.equal("failed", fickle.status)
    assert.matches('the script calls j.call("notify") where the run was sleeping when its '
                   .. "coroutine was evicted", fickle.error, 1, true)
  end)

  it("rejects a negative limit", function()
    assert.has_error(function()
      support.host{resident_runs = -1}
    end, "journey.host: resident_runs must be 0 (no limit) or more, not -1")
  end)
end)
