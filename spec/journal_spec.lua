-- The run record: its journal of steps from the start, its result or
-- error, and the run values j.now, j.user and j.run_id.
local cjson = require "cjson"
local journey = require "journey"
local support = require "spec.support"

local SPEC = debug.getinfo(1, "S").short_src
local T0 = journey.time("2024-01-01T00:00:00Z")
local HOUR = 3600

describe("journal", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  local function define(fn)
    h:define{name = "recorded", on = "app/signed_up", run = fn}
  end

  it("records every kind of step in order", function()
    define(function(j)
      j.now()
      j.sleep("1h")
      j.wait_for("app/activated", {timeout = "1h"})
      j.events("app/activated")
      j.emit("app/welcomed", {})
      j.step("send", function() end)
      j.sleep_until(T0 + 3 * HOUR)
      os.time()
      math.random()
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")
    h:ingest{user = "u1", name = "app/activated"}
    h:advance("2h")

    local run = support.only_run(h)
    assert.are.equal("completed", run.status)
    assert.are.same({
      "now", "sleep", "wait_for", "events", "emit", "step", "sleep_until", "os.time",
      "math.random",
    }, support.journal_kinds(run))
    assert.are.equal(9, run.steps)
  end)

  it("records the time each step completed", function()
    define(function(j)
      j.sleep("1h")
      j.wait_for("app/activated", {timeout = "1h"})
      j.now()
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("90m")
    h:ingest{user = "u1", name = "app/activated"}

    local times = {}
    for i, entry in ipairs(support.only_run(h).journal) do
      times[i] = entry.at
    end
    assert.are.same({T0 + HOUR, T0 + 90 * 60, T0 + 90 * 60}, times)
  end)

  it("records step names", function()
    define(function(j)
      j.wait_for({"app/activated", "app/deleted"}, {timeout = 0})
      j.emit("app/welcomed", {})
      j.step("send", function() end)
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local names = {}
    for i, entry in ipairs(support.only_run(h).journal) do
      names[i] = entry.name
    end
    assert.are.same({"app/activated,app/deleted", "app/welcomed", "send"}, names)
  end)

  it("records the event a wait received", function()
    define(function(j)
      j.wait_for("app/activated", {timeout = "1h"})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    local seq = h:ingest{user = "u1", name = "app/activated"}

    local entry = support.only_run(h).journal[1]
    assert.are.equal(seq, cjson.decode(entry.result).event)
  end)

  it("records a timeout as null", function()
    define(function(j)
      j.wait_for("app/activated", {timeout = "1h"})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.equal("null", support.only_run(h).journal[1].result)
  end)

  it("records the events j.events returned", function()
    define(function(j)
      j.sleep("1h")
      j.events("app/clicked")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    local first = h:ingest{user = "u1", name = "app/clicked"}
    local second = h:ingest{user = "u1", name = "app/clicked"}
    h:advance("1h")

    local entry = support.only_run(h).journal[2]
    assert.are.same({first, second}, cjson.decode(entry.result).events)
  end)

  it("records each attempt of a retried step", function()
    local attempts = 0
    define(function(j)
      j.step("send", function()
        attempts = attempts + 1
        if attempts == 1 then
          error("timeout")
        end
      end)
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1m")

    local journal = support.only_run(h).journal
    assert.are.same({"step", "sleep", "step"}, support.journal_kinds({journal = journal}))
    assert.is_false(cjson.decode(journal[1].result).ok)
    assert.is_true(cjson.decode(journal[3].result).ok)
  end)

  it("shows the steps of a live run", function()
    define(function(j)
      j.now()
      j.wait_for("app/activated", {timeout = "1d"})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("waiting", run.status)
    assert.are.same({"now"}, support.journal_kinds(run))
  end)

  it("is empty for a run without steps", function()
    define(function() end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.same({}, run.journal)
    assert.are.equal(0, run.steps)
  end)

  it("keeps the steps of a failed run", function()
    define(function(j)
      j.now()
      error("boom")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.are.same({"now"}, support.journal_kinds(support.only_run(h)))
  end)

  it("keeps the steps of a cancelled run", function()
    h:define{
      name = "recorded",
      on = "app/signed_up",
      cancel_on = "app/deleted",
      run = function(j)
        j.now()
        j.sleep("1d")
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/deleted"}

    local run = support.only_run(h)
    assert.are.equal("cancelled", run.status)
    assert.are.same({"now"}, support.journal_kinds(run))
  end)
end)

describe("run record", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  local function define(fn)
    h:define{name = "recorded", on = "app/signed_up", run = fn}
  end

  it("stores the decoded result", function()
    define(function()
      return {result = "activated", days = 3, tags = {"a", "b"}}
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("completed", run.status)
    assert.are.same({result = "activated", days = 3, tags = {"a", "b"}}, run.result)
  end)

  it("stores no result for nil", function()
    define(function() end)
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.is_nil(support.only_run(h).result)
  end)

  it("records start and end times", function()
    define(function(j)
      j.sleep("2h")
    end)
    h:advance("1h")
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1d")

    local run = support.only_run(h)
    assert.are.equal(T0 + HOUR, run.started_at)
    assert.are.equal(T0 + 3 * HOUR, run.ended_at)
  end)

  it("stores an error with the script line", function()
    define(function()
      error("boom") -- at: run-error
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches(support.where(SPEC, "run-error") .. " boom", run.error, 1, true)
    assert.is_nil(run.result)
  end)

  it("stores an error raised after a wait", function()
    define(function(j)
      j.wait_for("app/activated", {timeout = "1h"})
      local missing
      return missing.field -- at: after-wait
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches(support.where(SPEC, "after-wait"), run.error, 1, true)
    assert.matches("attempt to index", run.error, 1, true)
  end)

  it("counts failures in stats", function()
    define(function()
      error("boom")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local stats = h:stats()
    assert.are.equal(1, stats.runs_failed)
    assert.are.equal(1, stats.journeys.recorded.failed)
  end)

  it("traces the failure's first line", function()
    define(function()
      error("boom") -- at: traced-error
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local failed = support.traces(h, "failed")
    assert.are.equal(1, #failed)
    local expected = "failed: " .. support.where(SPEC, "traced-error") .. " boom"
    assert.are.equal(expected, failed[1].line:sub(-#expected))
  end)

  it("gives j.now the virtual time", function()
    local times = {}
    define(function(j)
      times[1] = j.now()
      j.sleep("90m")
      times[2] = j.now()
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("2h")

    assert.are.same({T0, T0 + 90 * 60}, times)
  end)

  it("gives j.now milliseconds", function()
    local now
    define(function(j)
      j.sleep(0.25)
      now = j.now()
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1s")

    assert.are.equal(T0 + 0.25, now)
  end)

  it("sends j.log to the run log", function()
    define(function(j)
      j.log("welcome sent to", j.user)
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local logs = support.traces(h, "log")
    assert.are.equal(1, #logs)
    assert.are.equal("welcome sent to u1", logs[1].detail)
  end)
end)
