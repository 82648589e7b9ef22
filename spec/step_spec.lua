-- j.step: a side effect that runs once per run, with its results
-- journaled, retried with a doubling backoff when it raises.
local cjson = require "cjson"
local journey = require "journey"
local support = require "spec.support"

local SPEC = debug.getinfo(1, "S").short_src
local T0 = journey.time("2024-01-01T00:00:00Z")

describe("j.step", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  -- Defines a journey on app/checkout whose run function is fn.
  local function define(fn)
    h:define{name = "checkout", on = "app/checkout", run = fn}
  end

  -- Returns a step function that raises until its attempt number
  -- reaches succeed_on, recording the virtual time of each attempt.
  local function flaky(succeed_on, attempts)
    return function()
      attempts[#attempts + 1] = h:now()
      if #attempts < succeed_on then
        error("card declined")
      end
      return "charged"
    end
  end

  it("returns the function's results", function()
    local a, b
    define(function(j)
      a, b = j.step("charge", function(x, y)
        return x + y, "ok"
      end, 2, 3)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    assert.are.equal(5, a)
    assert.are.equal("ok", b)
  end)

  it("runs the function once", function()
    local calls = 0
    define(function(j)
      j.step("charge", function()
        calls = calls + 1
      end)
      j.sleep("1h")
    end)
    h:ingest{user = "u1", name = "app/checkout"}
    h:advance("2h")

    assert.are.equal(1, calls)
  end)

  it("journals its name and results", function()
    define(function(j)
      j.step("charge", function()
        return 42, {id = "ch_1"}
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local entry = support.only_run(h).journal[1]
    assert.are.equal("step", entry.kind)
    assert.are.equal("charge", entry.name)
    assert.are.same({42, {id = "ch_1"}}, cjson.decode(entry.result).values)
  end)

  it("accepts an options table", function()
    local value
    define(function(j)
      value = j.step({name = "charge", retries = 1, backoff = "5s"}, function()
        return "ok"
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    assert.are.equal("ok", value)
    assert.are.equal("charge", support.only_run(h).journal[1].name)
  end)

  it("retries after 1s then 2s", function()
    local attempts = {}
    local value
    define(function(j)
      value = j.step("charge", flaky(3, attempts))
    end)
    h:ingest{user = "u1", name = "app/checkout"}
    h:advance("1m")

    assert.are.same({T0, T0 + 1, T0 + 3}, attempts)
    assert.are.equal("charged", value)
    assert.are.equal("completed", support.only_run(h).status)
  end)

  it("doubles a given backoff", function()
    local attempts = {}
    define(function(j)
      j.step({name = "charge", retries = 3, backoff = "1m"}, flaky(4, attempts))
    end)
    h:ingest{user = "u1", name = "app/checkout"}
    h:advance("1h")

    assert.are.same({T0, T0 + 60, T0 + 180, T0 + 420}, attempts)
  end)

  it("sleeps between attempts", function()
    local attempts = {}
    define(function(j)
      j.step("charge", flaky(2, attempts))
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("sleeping", run.status)
    assert.are.equal(T0 + 1, run.deadline)
  end)

  it("raises after 4 attempts by default", function()
    local attempts = {}
    define(function(j)
      j.step("charge", flaky(math.huge, attempts)) -- at: default-retries
    end)
    h:ingest{user = "u1", name = "app/checkout"}
    h:advance("1m")

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.are.same({T0, T0 + 1, T0 + 3, T0 + 7}, attempts)
    assert.matches('j.step("charge") failed after 4 attempts', run.error, 1, true)
    assert.matches("card declined", run.error, 1, true)
    assert.matches(support.where(SPEC, "default-retries"), run.error, 1, true)
  end)

  it("raises at once with zero retries", function()
    local attempts = {}
    define(function(j)
      j.step({name = "charge", retries = 0}, flaky(math.huge, attempts))
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.are.equal(1, #attempts)
    assert.matches("failed after 1 attempt", run.error, 1, true)
  end)

  it("lets the run catch the final error", function()
    local ok, message
    define(function(j)
      ok, message = pcall(j.step, {name = "charge", retries = 1}, function()
        error("card declined")
      end)
      return "handled"
    end)
    h:ingest{user = "u1", name = "app/checkout"}
    h:advance("1m")

    local run = support.only_run(h)
    assert.is_false(ok)
    assert.matches("failed after 2 attempts", message, 1, true)
    assert.are.equal("completed", run.status)
    assert.are.equal("handled", run.result)
  end)

  it("logs each failed attempt", function()
    local warnings = {}
    local logged = support.host{
      log = function(level, _, journey_name, message)
        if level == "warn" then
          warnings[#warnings + 1] = journey_name .. ": " .. message
        end
      end,
    }
    logged:define{
      name = "checkout",
      on = "app/checkout",
      run = function(j)
        j.step({name = "charge", retries = 1}, function()
          error("card declined")
        end)
      end,
    }
    logged:ingest{user = "u1", name = "app/checkout"}
    logged:advance("1m")

    assert.are.equal(1, #warnings)
    assert.matches('checkout: step "charge" attempt 1 failed', warnings[1], 1, true)
    assert.matches("card declined", warnings[1], 1, true)
  end)

  it("rejects j.wait_for inside the function", function()
    define(function(j)
      j.step({name = "lookup", retries = 0}, function()
        return j.wait_for("app/paid", {timeout = "1h"})
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("j.wait_for cannot be called inside j.step", run.error, 1, true)
  end)

  it("fails j.wait_for inside the function without retrying", function()
    local calls = 0
    define(function(j)
      j.step("lookup", function()
        calls = calls + 1
        return j.wait_for("app/paid", {timeout = "1h"})
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.are.equal(1, calls)
    assert.matches("j.wait_for cannot be called inside j.step", run.error, 1, true)
    assert.matches("failed after 1 attempt:", run.error, 1, true)
  end)

  it("rejects j.sleep inside the function", function()
    define(function(j)
      j.step({name = "pause", retries = 0}, function()
        j.sleep("1h")
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("j.sleep cannot be called inside j.step", run.error, 1, true)
  end)

  it("fails j.emit inside the function without retrying", function()
    local calls = 0
    define(function(j)
      j.step("notify", function()
        calls = calls + 1
        j.emit("app/notified", {})
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.are.equal(1, calls)
    assert.matches("j.emit cannot be called inside j.step", run.error, 1, true)
    assert.are.same({}, h:emitted())
  end)

  it("fails j.now inside the function", function()
    define(function(j)
      j.step({name = "stamp", retries = 0}, function()
        return j.now()
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("j.now cannot be called inside j.step", run.error, 1, true)
  end)

  it("fails a nested step without retrying", function()
    local calls = 0
    define(function(j)
      j.step("outer", function()
        calls = calls + 1
        j.step("inner", function() end)
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.are.equal(1, calls)
  end)

  it("rejects a step inside a step", function()
    define(function(j)
      j.step({name = "outer", retries = 0}, function()
        j.step("inner", function() end)
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches('j.step("inner") cannot be called inside another step', run.error, 1, true)
  end)

  it("rejects a result JSON cannot hold", function()
    define(function(j)
      j.step("charge", function() -- at: function-result
        return function() end
      end)
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("JSON cannot hold", run.error, 1, true)
    assert.matches(support.where(SPEC, "function-result"), run.error, 1, true)
  end)

  -- What the run saw of each step, before and after a sleep. With a
  -- resident limit of 1, the second run evicts the first, which is
  -- rebuilt from its journal when its sleep ends.
  local function seen_around_sleep(resident_runs)
    h = support.host{resident_runs = resident_runs}
    local seen = {}
    define(function(j, event)
      local sum, sparse, whole = j.step("compute", function()
        return 0.1 + 0.2, {[20] = "x", n = 1}, 3.0
      end)
      -- A rebuild runs the code before the sleep again, so the last
      -- note of each moment counts.
      local function note(moment)
        seen[event.user .. " " .. moment] = string.format(
          "%.17g %s %s %s %s", sum, tostring(sparse[20]), tostring(sparse["20"]),
          math.type(whole), tostring(sum == 0.1 + 0.2))
      end
      note("before")
      j.sleep("1h")
      note("after")
    end)
    h:ingest{user = "u1", name = "app/checkout"}
    h:ingest{user = "u2", name = "app/checkout"}
    h:advance("2h")
    return seen
  end

  it("returns journaled values on replay", function()
    local resident = seen_around_sleep(nil)
    local rebuilt = seen_around_sleep(1)

    assert.is_true(h:stats().rebuilds >= 1)
    assert.are.same(resident, rebuilt)
    assert.are.equal("0.30000000000000004 nil x integer true", resident["u1 before"])
    assert.are.equal(resident["u1 before"], resident["u2 after"])
  end)

  it("keeps nils among its values", function()
    h = support.host{resident_runs = 1}
    local seen = {}
    define(function(j, event)
      local values = table.pack(j.step("lookup", function()
        return nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, "last", 2.0 ^ 60
      end))
      j.sleep("1h")
      seen[event.user] = {values.n, values[12], values[13] == 2 ^ 60}
    end)
    h:ingest{user = "u1", name = "app/checkout"}
    h:ingest{user = "u2", name = "app/checkout"}
    h:advance("2h")

    assert.is_true(h:stats().rebuilds >= 1)
    assert.are.same({13, "last", true}, seen.u1)
    assert.are.same({13, "last", true}, seen.u2)
  end)

  it("rejects a missing function", function()
    define(function(j)
      j.step("charge") -- at: no-function
    end)
    h:ingest{user = "u1", name = "app/checkout"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches(support.where(SPEC, "no-function"), run.error, 1, true)
  end)
end)
