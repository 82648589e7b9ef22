-- j.sleep and j.sleep_until: suspending a run until a deadline on the
-- host's virtual clock.
local journey = require "journey"
local support = require "spec.support"

local SPEC = debug.getinfo(1, "S").short_src
local T0 = journey.time("2024-01-01T00:00:00Z")
local DAY = 86400
local YEAR = 365.25 * DAY

describe("j.sleep", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  -- Defines a journey on app/signed_up with run function fn.
  local function define(fn)
    h:define{name = "sleeper", on = "app/signed_up", run = fn}
  end

  it("returns the given value", function()
    define(function(j)
      return {value = j.sleep("1d", "done")}
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1d")

    assert.are.same({value = "done"}, support.only_run(h).result)
  end)

  it("returns a table value unchanged", function()
    local given = {n = 1}
    local returned
    define(function(j)
      returned = j.sleep("1h", given)
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.equal(given, returned)
  end)

  it("returns nil without a value", function()
    local returned = "unset"
    define(function(j)
      returned = j.sleep("1h")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.is_nil(returned)
  end)

  it("sleeps until the deadline", function()
    define(function(j)
      j.sleep("1d")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance_to(T0 + DAY - 0.001)

    local run = support.only_run(h)
    assert.are.equal("sleeping", run.status)
    assert.are.equal(T0 + DAY, run.deadline)
  end)

  it("resumes at the deadline", function()
    local woke_at
    define(function(j)
      j.sleep("1d")
      woke_at = j.now()
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("3d")

    assert.are.equal(T0 + DAY, woke_at)
    assert.are.equal(T0 + DAY, support.only_run(h).ended_at)
  end)

  it("accepts a number of seconds", function()
    define(function(j)
      j.sleep(1.5)
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("10s")

    assert.are.equal(T0 + 1.5, support.only_run(h).ended_at)
  end)

  it("returns at once for zero", function()
    local returned
    define(function(j)
      returned = j.sleep(0, "now")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("now", returned)
    assert.are.equal("completed", run.status)
    assert.are.equal(T0, run.ended_at)
  end)

  it("journals a zero sleep as a step", function()
    define(function(j)
      j.sleep("0s")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.are.same({"sleep"}, support.journal_kinds(support.only_run(h)))
  end)

  it("runs a 30-day journey in milliseconds", function()
    define(function(j)
      for day = 1, 30 do
        j.sleep("1d")
        j.emit("app/daily_tip", {day = day})
      end
    end)
    local started = os.clock()
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("30d")
    local cpu_seconds = os.clock() - started

    local run = support.only_run(h)
    assert.are.equal("completed", run.status)
    assert.are.equal(T0 + 30 * DAY, run.ended_at)
    assert.are.equal(30, #h:events{name = "app/daily_tip"})
    assert.is_true(cpu_seconds < 1, "took " .. cpu_seconds .. " s of CPU time")
  end)

  it("sleeps ten years", function()
    define(function(j)
      j.sleep("10y")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("10y")

    local run = support.only_run(h)
    assert.are.equal("completed", run.status)
    assert.are.equal(T0 + 10 * YEAR, run.ended_at)
  end)

  it("sleeps a hundred years", function()
    define(function(j)
      j.sleep("100y")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance_to(T0 + 100 * YEAR - 1)
    assert.are.equal("sleeping", support.only_run(h).status)

    h:advance("1s")
    assert.are.equal(T0 + 100 * YEAR, support.only_run(h).ended_at)
  end)

  it("adds a calendar month clamped", function()
    local month_end = support.host{start = "2024-01-31T10:00:00Z"}
    month_end:define{
      name = "sleeper",
      on = "app/signed_up",
      run = function(j)
        j.sleep("1mo")
      end,
    }
    month_end:ingest{user = "u1", name = "app/signed_up"}
    month_end:advance("60d")

    local run = support.only_run(month_end)
    assert.are.equal(journey.time("2024-02-29T10:00:00Z"), run.ended_at)
  end)

  it("fails the run on an invalid duration", function()
    define(function(j)
      j.sleep("1 secnd") -- at: bad-duration
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches('"1 secnd"', run.error, 1, true)
    assert.matches(support.where(SPEC, "bad-duration"), run.error, 1, true)
  end)

  it("wakes equal deadlines in the order set", function()
    define(function(j)
      j.sleep_until(T0 + DAY)
    end)
    h:ingest{user = "u2", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u3", name = "app/signed_up"}
    h:advance("1d")

    local users = {}
    for _, trace in ipairs(support.traces(h, "completed")) do
      users[#users + 1] = trace.user
    end
    assert.are.same({"u2", "u1", "u3"}, users)
  end)
end)

describe("j.sleep_until", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  local function define(fn)
    h:define{name = "sleeper", on = "app/signed_up", run = fn}
  end

  it("wakes at an ISO time", function()
    define(function(j)
      j.sleep_until("2024-01-05T09:30:00Z")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("10d")

    assert.are.equal(journey.time("2024-01-05T09:30:00Z"), support.only_run(h).ended_at)
  end)

  it("wakes at an epoch time", function()
    define(function(j)
      j.sleep_until(T0 + 2 * DAY)
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance_to(T0 + 2 * DAY - 1)
    assert.are.equal("sleeping", support.only_run(h).status)

    h:advance("1s")
    assert.are.equal(T0 + 2 * DAY, support.only_run(h).ended_at)
  end)

  it("returns at once for a past time", function()
    define(function(j)
      j.sleep_until("2023-06-01T00:00:00Z")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("completed", run.status)
    assert.are.equal(T0, run.ended_at)
  end)

  it("journals a past time as a step", function()
    define(function(j)
      j.sleep_until(T0)
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.are.same({"sleep_until"}, support.journal_kinds(support.only_run(h)))
  end)

  it("fails the run on an invalid time", function()
    define(function(j)
      j.sleep_until("next tuesday") -- at: bad-time
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("next tuesday", run.error, 1, true)
    assert.matches(support.where(SPEC, "bad-time"), run.error, 1, true)
  end)
end)
