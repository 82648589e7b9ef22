-- j.emit: events a run reports, stored at once and dispatched at the
-- same instant once the emitting run has suspended or ended.
local journey = require "journey"
local support = require "spec.support"

local SPEC = debug.getinfo(1, "S").short_src
local T0 = journey.time("2024-01-01T00:00:00Z")
local HOUR = 3600
local DAY = 86400

describe("j.emit", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  -- Defines the journey "nudger": on app/signed_up it runs fn.
  local function define_nudger(fn)
    h:define{name = "nudger", on = "app/signed_up", run = fn}
  end

  -- Returns the position of the first trace of h for which test is true.
  local function trace_index(test)
    for i, trace in ipairs(h:trace()) do
      if test(trace) then
        return i
      end
    end
    return nil
  end

  it("stores the event at once", function()
    local stored_before_suspend
    define_nudger(function(j)
      j.emit("app/nudged", {channel = "email"})
      stored_before_suspend = #h:events{name = "app/nudged"}
      j.sleep("1h")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.are.equal(1, stored_before_suspend)
  end)

  it("stores data, user and run", function()
    define_nudger(function(j)
      j.emit("app/nudged", {channel = "email", attempt = 2})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local emitted = h:emitted()
    assert.are.equal(1, #emitted)
    assert.are.equal("app/nudged", emitted[1].name)
    assert.are.equal("u1", emitted[1].user)
    assert.are.same({channel = "email", attempt = 2}, emitted[1].data)
    assert.are.equal(support.only_run(h).id, emitted[1].run)
    assert.are.equal("nudger", emitted[1].journey)
  end)

  it("writes numbers that read back", function()
    define_nudger(function(j)
      j.emit("app/nudged", {order = 1234567890123456, share = 1 / 3, sum = 0.1 + 0.2,
                            big = 2.0 ^ 60})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local data = h:emitted()[1].data
    assert.are.equal(1234567890123456, data.order)
    assert.are.equal(math.type(1), math.type(data.order))
    assert.are.equal(1 / 3, data.share)
    assert.are.equal(0.1 + 0.2, data.sum)
    assert.is_true(data.big == 2 ^ 60)
  end)

  it("defaults data to an empty table", function()
    define_nudger(function(j)
      j.emit("app/nudged")
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.are.same({}, h:emitted()[1].data)
  end)

  it("takes the virtual time of the emit", function()
    define_nudger(function(j)
      j.sleep("2h")
      j.emit("app/nudged", {})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1d")

    assert.are.equal(T0 + 2 * HOUR, h:emitted()[1].ts)
  end)

  it("counts emitted events in stats", function()
    define_nudger(function(j)
      j.emit("app/nudged", {})
      j.emit("app/nudged", {})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local stats = h:stats()
    assert.are.equal(2, stats.events_emitted)
    assert.are.equal(3, stats.events_ingested)
  end)

  it("dispatches after the emitter suspends", function()
    define_nudger(function(j)
      j.emit("app/nudged", {})
      j.sleep("1h")
    end)
    h:define{name = "follower", on = "app/nudged", run = function() end}
    h:ingest{user = "u1", name = "app/signed_up"}

    local sleeping = trace_index(function(t)
      return t.kind == "sleeping" and t.journey == "nudger"
    end)
    local dispatched = trace_index(function(t)
      return t.kind == "event" and t.event == "app/nudged"
    end)
    local started = trace_index(function(t)
      return t.kind == "started" and t.journey == "follower"
    end)
    assert.is_true(sleeping < dispatched, "the emitter suspends before the dispatch")
    assert.is_true(dispatched < started, "the dispatch starts the follower")
  end)

  it("dispatches after the emitter ends", function()
    define_nudger(function(j)
      j.emit("app/nudged", {})
      return "done"
    end)
    h:define{name = "follower", on = "app/nudged", run = function() end}
    h:ingest{user = "u1", name = "app/signed_up"}

    local completed = trace_index(function(t)
      return t.kind == "completed" and t.journey == "nudger"
    end)
    local dispatched = trace_index(function(t)
      return t.kind == "event" and t.event == "app/nudged"
    end)
    assert.is_true(completed < dispatched)
  end)

  it("starts another journey at the same instant", function()
    local trigger
    define_nudger(function(j)
      j.sleep("3h")
      j.emit("app/nudged", {channel = "push"})
    end)
    h:define{
      name = "follower",
      on = "app/nudged",
      run = function(_, event)
        trigger = event
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1d")

    local run = support.only_run(h, {journey = "follower"})
    assert.are.equal(T0 + 3 * HOUR, run.started_at)
    assert.are.equal("u1", run.user)
    assert.are.equal("push", trigger.data.channel)
  end)

  it("wakes a waiting run of another journey", function()
    local got
    h:define{
      name = "waiter",
      on = "app/signed_up",
      run = function(j)
        got = j.wait_for("app/nudged", {timeout = "1d"})
      end,
    }
    h:define{
      name = "nudger",
      on = "app/signed_up",
      run = function(j)
        j.sleep("1h")
        j.emit("app/nudged", {n = 1})
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("2h")

    assert.are.equal(1, got.data.n)
    assert.are.equal(T0 + HOUR, got.ts)
  end)

  it("reaches a wait due that instant", function()
    local got = "unset"
    h:define{
      name = "nudger",
      on = "app/signed_up",
      run = function(j)
        j.sleep("1d")
        j.emit("app/nudged", {})
      end,
    }
    h:define{
      name = "waiter",
      on = "app/signed_up",
      run = function(j)
        got = j.wait_for("app/nudged", {timeout = "1d"})
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("2d")

    assert.are.equal("app/nudged", got and got.name)
  end)

  it("restarts its journey after ending", function()
    h:define{
      name = "ticker",
      on = "app/tick",
      run = function(j, event)
        if event.data.n < 3 then
          j.emit("app/tick", {n = event.data.n + 1})
        end
        return event.data.n
      end,
    }
    h:ingest{user = "u1", name = "app/tick", data = {n = 1}}

    local results = {}
    for i, run in ipairs(h:runs{journey = "ticker"}) do
      results[i] = h:run(run.id).result
      assert.are.equal("completed", run.status)
    end
    assert.are.same({1, 2, 3}, results)
  end)

  it("respects the live emitter's key", function()
    h:define{
      name = "ticker",
      on = "app/tick",
      run = function(j)
        j.emit("app/tick", {})
        j.sleep("1h")
      end,
    }
    h:ingest{user = "u1", name = "app/tick"}
    h:advance("2h")

    assert.are.equal(1, #h:runs{journey = "ticker"})
  end)

  it("cancels another journey's run", function()
    h:define{
      name = "trial",
      on = "app/signed_up",
      cancel_on = "app/nudged",
      run = function(j)
        j.sleep("1d")
      end,
    }
    define_nudger(function(j)
      j.sleep("1h")
      j.emit("app/nudged", {})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("2h")

    local run = support.only_run(h, {journey = "trial"})
    assert.are.equal("cancelled", run.status)
    assert.are.equal(T0 + HOUR, run.ended_at)
  end)

  it("wakes another user's waiting run", function()
    local got
    h:define{
      name = "invitee",
      on = "team/created",
      run = function(j)
        got = j.wait_for("team/invited", {timeout = "1d"})
      end,
    }
    define_nudger(function(j)
      j.emit("team/invited", {by = j.user}, "u2")
    end)
    h:ingest{user = "u2", name = "team/created"}
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.are.equal("u2", got.user)
    assert.are.equal("u1", got.data.by)
  end)

  it("emits for another user", function()
    define_nudger(function(j)
      j.emit("team/invited", {by = j.user}, "u2")
    end)
    h:define{name = "invitee", on = "team/invited", run = function() end}
    h:ingest{user = "u1", name = "app/signed_up"}

    local event = h:emitted()[1]
    assert.are.equal("u2", event.user)
    assert.are.equal("u1", event.data.by)
    assert.are.equal("u2", support.only_run(h, {journey = "invitee"}).user)
  end)

  it("rejects data with a number key among string keys", function()
    define_nudger(function(j)
      j.emit("app/nudged", {x = 1, [5] = 2})
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("found a number key", run.error, 1, true)
    assert.are.same({}, h:emitted())
  end)

  it("rejects a list as data", function()
    define_nudger(function(j)
      j.emit("app/nudged", {"a", "b"}) -- at: list-data
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("found a number key", run.error, 1, true)
    assert.matches(support.where(SPEC, "list-data"), run.error, 1, true)
    assert.are.same({}, h:emitted())
  end)

  it("rejects data that is not a table", function()
    define_nudger(function(j)
      j.emit("app/nudged", "email") -- at: string-data
    end)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("data must be a table", run.error, 1, true)
    assert.matches(support.where(SPEC, "string-data"), run.error, 1, true)
  end)

  it("keeps emitting across days", function()
    define_nudger(function(j)
      for day = 1, 3 do
        j.sleep("1d")
        j.emit("app/reminded", {day = day})
      end
    end)
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("5d")

    local times = {}
    for i, event in ipairs(h:events{name = "app/reminded"}) do
      times[i] = event.ts
    end
    assert.are.same({T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY}, times)
  end)

  describe("chains of emits", function()
    it("stops a journey that triggers itself", function()
      h:define{name = "echo", on = "*", key = false, run = function(j, event)
        j.emit("echo", {depth = (event.data.depth or 0) + 1})
      end}
      h:ingest{user = "u1", name = "app/signed_up"}

      local failed = h:runs{status = "failed"}
      assert.are.equal(1, #failed)
      assert.matches("not emitted, because it would follow 100 events", h:run(failed[1].id).error,
                     1, true)
      assert.are.equal(100, #h:emitted())
      assert.are.equal(100, h:emitted()[100].data.depth)

      -- The host goes on: the next event starts a chain of its own.
      h:ingest{user = "u2", name = "app/signed_up"}
      assert.are.equal(2, #h:runs{status = "failed"})
    end)

    it("stops a journey that doubles its emits", function()
      h:define{name = "star", on = "*", key = false, run = function(j)
        j.emit("audit/seen", {})
        j.emit("audit/counted", {})
      end}
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal(10000, #h:emitted())
      local failed = h:runs{status = "failed"}
      assert.is_true(#failed > 0)
      assert.matches("runs already emitted 10000 events at this instant", h:run(failed[1].id).error,
                     1, true)

      -- The next event from outside starts a cascade of its own.
      h:ingest{user = "u2", name = "app/signed_up"}
      assert.are.equal(20000, #h:emitted())
    end)

    it("counts emits after a retry without backoff", function()
      -- Each run's step fails once and retries at the same instant, so
      -- its emits come from a deadline, not from the event.
      h:define{name = "star", on = "*", key = false, run = function(j, event)
        local depth = event.data.depth or 0
        if depth >= 15 then
          return
        end
        local tries = 0
        j.step({name = "flaky", retries = 1, backoff = 0}, function()
          tries = tries + 1
          if tries == 1 then
            error("first attempt fails", 0)
          end
        end)
        j.emit("audit/a", {depth = depth + 1})
        j.emit("audit/b", {depth = depth + 1})
      end}
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance(0)

      assert.are.equal(10000, #h:emitted())
      assert.is_true(#h:runs{status = "failed"} > 0)
    end)

    it("stops a loop through zero-length sleeps", function()
      h:define{name = "zero", on = "app/tick", key = false, run = function(j)
        j.sleep(0)
        j.emit("app/tick", {})
      end}
      h:ingest{user = "u1", name = "app/tick"}

      assert.are.equal(1, #h:runs{status = "failed"})
      assert.are.equal(100, #h:emitted())
      assert.are.equal(T0, h:now())
    end)

    it("lets a chain go on once time passes", function()
      h:define{name = "daily", on = "app/tick", key = false, run = function(j)
        j.sleep("1d")
        j.emit("app/tick", {})
      end}
      h:ingest{user = "u1", name = "app/tick"}
      h:advance(150 * DAY)

      assert.are.equal(0, #h:runs{status = "failed"})
      assert.are.equal(150, #h:emitted())
    end)
  end)
end)
