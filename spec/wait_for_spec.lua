-- j.wait_for: the earliest matching event of the run's user, from the
-- past or the future, or nil once the timeout passes.
local journey = require "journey"
local support = require "spec.support"

local SPEC = debug.getinfo(1, "S").short_src
local T0 = journey.time("2024-01-01T00:00:00Z")
local HOUR = 3600
local DAY = 86400

local UNSET = {}

describe("j.wait_for", function()
  local h
  local got

  before_each(function()
    h = support.host()
    got = UNSET
  end)

  after_each(support.close_hosts)

  -- Defines a journey that starts on app/signed_up, optionally sleeps,
  -- then stores the result of j.wait_for(names, opts) in `got`.
  local function define_waiter(names, opts, sleep_first)
    h:define{
      name = "waiter",
      on = "app/signed_up",
      run = function(j)
        if sleep_first then
          j.sleep(sleep_first)
        end
        got = j.wait_for(names, opts)
      end,
    }
  end

  describe("live events", function()
    it("returns an event that arrives later", function()
      define_waiter("app/activated", {timeout = "3d"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/activated", data = {plan = "pro"}}

      assert.are.equal("app/activated", got.name)
      assert.are.equal("u1", got.user)
      assert.are.equal("pro", got.data.plan)
      assert.are.equal(T0 + HOUR, got.ts)
      assert.are.equal("completed", support.only_run(h).status)
    end)

    it("finds an older event after a loop of waits took later ones", function()
      local clicks, view
      h:define{
        name = "looper",
        on = "app/start",
        run = function(j)
          clicks = 0
          while clicks < 3 and j.wait_for("app/click", {timeout = "1h"}) do
            clicks = clicks + 1
          end
          view = j.wait_for("app/view", {timeout = "1h"})
          return {clicks = clicks}
        end,
      }
      h:ingest{user = "u1", name = "app/start"}
      h:ingest{user = "u1", name = "app/click", data = {n = 1}}
      h:ingest{user = "u1", name = "app/view", data = {n = 1}}
      h:ingest{user = "u1", name = "app/click", data = {n = 2}}
      h:ingest{user = "u1", name = "app/view", data = {n = 2}}
      h:ingest{user = "u1", name = "app/click", data = {n = 3}}

      assert.are.equal(3, clicks)
      assert.are.equal(1, view.data.n)
      assert.are.equal("completed", support.only_run(h).status)
    end)

    it("wakes a user whose id is longer than 128 bytes", function()
      local user = ("u"):rep(300)
      define_waiter("app/" .. ("a"):rep(200), {timeout = "3d"})
      h:ingest{user = user, name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/" .. ("a"):rep(200)}
      assert.are.equal(UNSET, got)

      h:ingest{user = user, name = "app/" .. ("a"):rep(200)}
      assert.are.equal(user, got.user)
      assert.are.equal("completed", support.only_run(h).status)
    end)

    it("returns nil after the timeout", function()
      define_waiter("app/activated", {timeout = "3d"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("7d")

      assert.is_nil(got)
      local run = support.only_run(h)
      assert.are.equal("completed", run.status)
      assert.are.equal(T0 + 3 * DAY, run.ended_at)
    end)

    it("keeps waiting until the deadline", function()
      define_waiter("app/activated", {timeout = "3d"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance_to(T0 + 3 * DAY - 0.001)

      assert.are.equal(UNSET, got)
      local run = support.only_run(h)
      assert.are.equal("waiting", run.status)
      assert.are.equal(T0 + 3 * DAY, run.deadline)
      assert.are.same({"app/activated"}, run.waiting_for)
    end)

    it("accepts a timeout in seconds", function()
      define_waiter("app/activated", {timeout = 90})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("89s")
      assert.are.equal("waiting", support.only_run(h).status)

      h:advance("1s")
      assert.is_nil(got)
      assert.are.equal(T0 + 90, support.only_run(h).ended_at)
    end)

    it("returns the event data as a table", function()
      define_waiter("app/activated", {timeout = "1d"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/activated", id = "evt-7",
               data = {plan = {tier = "pro", seats = 3}, tags = {"a", "b"}}}

      assert.are.equal("evt-7", got.id)
      assert.are.same({plan = {tier = "pro", seats = 3}, tags = {"a", "b"}}, got.data)
      assert.is_number(got.seq)
    end)

    it("ignores another user's events", function()
      define_waiter("app/activated", {timeout = "1d"})
      h:ingest{user = "u2", name = "app/activated"}
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u2", name = "app/activated"}
      h:advance("1d")

      assert.is_nil(got)
      assert.are.equal(T0 + DAY, support.only_run(h).ended_at)
    end)

    it("wakes only on a matching event", function()
      define_waiter("app/activated", {timeout = "1d", match = {plan = "pro"}})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/activated", data = {plan = "basic"}}
      assert.are.equal(UNSET, got)

      h:advance("1h")
      h:ingest{user = "u1", name = "app/activated", data = {plan = "pro"}}
      assert.are.equal("pro", got.data.plan)
      assert.are.equal(T0 + 2 * HOUR, got.ts)
    end)
  end)

  describe("missing timeout", function()
    it("fails the run naming the script line", function()
      h:define{
        name = "no_timeout",
        on = "app/signed_up",
        run = function(j)
          j.wait_for("app/activated") -- at: no-timeout
        end,
      }
      h:ingest{user = "u1", name = "app/signed_up"}

      local run = support.only_run(h)
      assert.are.equal("failed", run.status)
      assert.matches("missing timeout", run.error, 1, true)
      assert.matches(support.where(SPEC, "no-timeout"), run.error, 1, true)
    end)

    it("fails when options lack a timeout", function()
      h:define{
        name = "match_only",
        on = "app/signed_up",
        run = function(j)
          j.wait_for("app/activated", {match = {plan = "pro"}}) -- at: match-only
        end,
      }
      h:ingest{user = "u1", name = "app/signed_up"}

      local run = support.only_run(h)
      assert.are.equal("failed", run.status)
      assert.matches("missing timeout", run.error, 1, true)
      assert.matches(support.where(SPEC, "match-only"), run.error, 1, true)
    end)
  end)

  describe("past events", function()
    it("returns an event from before the call", function()
      define_waiter("app/activated", {timeout = "1d"}, "1h")
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("30m")
      h:ingest{user = "u1", name = "app/activated"}
      assert.are.equal(UNSET, got)

      h:advance("30m")
      assert.are.equal("app/activated", got.name)
      assert.are.equal(T0 + 1800, got.ts)
      assert.are.equal(T0 + HOUR, support.only_run(h).ended_at)
    end)

    it("returns the earliest past event", function()
      define_waiter("app/activated", {timeout = "1d"}, "1h")
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("20m")
      h:ingest{user = "u1", name = "app/activated", data = {n = 1}}
      h:ingest{user = "u1", name = "app/activated", data = {n = 2}}
      h:advance("1h")

      assert.are.equal(1, got.data.n)
    end)

    it("orders past events by timestamp", function()
      define_waiter("app/activated", {timeout = "1d"}, "1h")
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("20m")
      h:ingest{user = "u1", name = "app/activated", data = {n = 1}}
      -- Arrives later but happened earlier.
      h:ingest{user = "u1", name = "app/activated", data = {n = 2}, ts = T0 + 600}
      h:advance("1h")

      assert.are.equal(2, got.data.n)
      assert.are.equal(T0 + 600, got.ts)
    end)

    it("ignores events before the trigger", function()
      define_waiter("app/activated", {timeout = "1d"})
      h:ingest{user = "u1", name = "app/activated"}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1d")

      assert.is_nil(got)
    end)

    it("never returns the trigger itself", function()
      h:define{
        name = "clicks",
        on = "app/clicked",
        run = function(j)
          got = j.wait_for("app/clicked", {timeout = "1d"})
        end,
      }
      h:ingest{user = "u1", name = "app/clicked"}
      h:advance("1d")

      assert.is_nil(got)
    end)

    it("returns the next same-named event", function()
      h:define{
        name = "clicks",
        on = "app/clicked",
        run = function(j)
          got = j.wait_for("app/clicked", {timeout = "1d"})
        end,
      }
      local first = h:ingest{user = "u1", name = "app/clicked"}
      h:advance("1h")
      local second = h:ingest{user = "u1", name = "app/clicked"}

      assert.are_not.equal(first, second)
      assert.are.equal(second, got.seq)
    end)

    it("ignores another user's past events", function()
      define_waiter("app/activated", {timeout = "1d"}, "1h")
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u2", name = "app/activated"}
      h:advance("2d")

      assert.is_nil(got)
    end)
  end)

  describe("since", function()
    it("reaches before the trigger with ever", function()
      define_waiter("app/activated", {timeout = "1d", since = "ever"})
      h:ingest{user = "u1", name = "app/activated"}
      h:advance("30d")
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal("app/activated", got.name)
      assert.are.equal(T0, got.ts)
      assert.are.equal(T0 + 30 * DAY, support.only_run(h).ended_at)
    end)

    it("excludes events older than a duration", function()
      define_waiter("app/activated", {timeout = "1d", since = "30d"})
      h:ingest{user = "u1", name = "app/activated"}
      h:advance("40d")
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1d")

      assert.is_nil(got)
    end)

    it("includes events within a duration", function()
      define_waiter("app/activated", {timeout = "1d", since = "45d"})
      h:ingest{user = "u1", name = "app/activated"}
      h:advance("40d")
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal(T0, got.ts)
    end)

    it("starts at a given ISO time", function()
      define_waiter("app/activated", {timeout = "1d", since = "2024-01-02T00:00:00Z"})
      h:ingest{user = "u1", name = "app/activated", data = {n = 1}}
      h:advance("2d")
      h:ingest{user = "u1", name = "app/activated", data = {n = 2}}
      h:advance("1d")
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal(2, got.data.n)
      assert.are.equal(T0 + 2 * DAY, got.ts)
    end)

    it("starts at a given epoch time", function()
      define_waiter("app/activated", {timeout = "1d", since = T0 + DAY})
      h:ingest{user = "u1", name = "app/activated", data = {n = 1}}
      h:advance("2d")
      h:ingest{user = "u1", name = "app/activated", data = {n = 2}}
      h:advance("1d")
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal(2, got.data.n)
    end)
  end)

  describe("list of names", function()
    it("returns the first event to arrive", function()
      define_waiter({"app/activated", "app/cancelled"}, {timeout = "1d"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/cancelled"}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/activated"}

      assert.are.equal("app/cancelled", got.name)
      assert.are.equal(T0 + HOUR, got.ts)
    end)

    it("returns the earliest past event", function()
      define_waiter({"app/activated", "app/cancelled"}, {timeout = "1d"}, "1h")
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("10m")
      h:ingest{user = "u1", name = "app/cancelled"}
      h:advance("10m")
      h:ingest{user = "u1", name = "app/activated"}
      h:advance("1h")

      assert.are.equal("app/cancelled", got.name)
    end)

    it("times out when no name arrives", function()
      define_waiter({"app/activated", "app/cancelled"}, {timeout = "2h"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/other"}
      h:advance("2h")

      assert.is_nil(got)
      assert.are.equal(T0 + 2 * HOUR, support.only_run(h).ended_at)
    end)

    it("rejects an empty name", function()
      define_waiter({"app/activated", ""}, {timeout = "1d"})
      h:ingest{user = "u1", name = "app/signed_up"}

      local run = support.only_run(h)
      assert.are.equal("failed", run.status)
      assert.matches("event name 2 is empty", run.error, 1, true)
    end)

    it("takes names of up to 511 bytes joined", function()
      local cases = {
        {{string.rep("a", 511)}, "waiting"},
        {{string.rep("a", 512)}, "failed"},
        {{string.rep("a", 255), string.rep("b", 255)}, "waiting"},
        {{string.rep("a", 255), string.rep("b", 256)}, "failed"},
      }
      for i, case in ipairs(cases) do
        local user = "u" .. i
        h:define{name = "waiter" .. i, on = "app/signed_up", run = function(j, event)
          if event.user == user then
            j.wait_for(case[1], {timeout = "1d"})
          end
        end}
        h:ingest{user = user, name = "app/signed_up"}
        local run = support.only_run(h, {journey = "waiter" .. i, user = user})
        assert.are.equal(case[2], run.status)
        if case[2] == "failed" then
          assert.matches("joined with commas are longer than 511 bytes", run.error, 1, true)
        end
      end
    end)
  end)

  describe("each event once", function()
    it("walks forward in a loop", function()
      local seqs = {}
      h:define{
        name = "clicks",
        on = "app/signed_up",
        run = function(j)
          j.sleep("1h")
          for _ = 1, 4 do
            local click = j.wait_for("app/clicked", {timeout = "1h"})
            seqs[#seqs + 1] = click and click.data.n or "timeout"
          end
        end,
      }
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/clicked", data = {n = 1}}
      h:ingest{user = "u1", name = "app/clicked", data = {n = 2}}
      h:advance("90m")
      h:ingest{user = "u1", name = "app/clicked", data = {n = 3}}
      h:advance("1d")

      assert.are.same({1, 2, 3, "timeout"}, seqs)
    end)

    it("finds another name after a loop skipped it", function()
      local clicks = 0
      h:define{
        name = "looper",
        on = "app/start",
        run = function(j)
          while clicks < 3 and j.wait_for("app/click", {timeout = "1h"}) do
            clicks = clicks + 1
          end
          got = j.wait_for({"app/click", "app/view"}, {timeout = "1h"})
        end,
      }
      h:ingest{user = "u1", name = "app/start"}
      for n = 1, 3 do
        h:ingest{user = "u1", name = "app/click", data = {n = n}}
        h:ingest{user = "u1", name = "app/view", data = {n = n}}
      end

      assert.are.equal(3, clicks)
      assert.are.equal("app/view", got.name)
      assert.are.equal(1, got.data.n)
    end)

    it("finds an event of the same name that a match left", function()
      local kinds = {}
      h:define{
        name = "looper",
        on = "app/start",
        run = function(j)
          j.sleep("1h")
          for _ = 1, 2 do
            local click = j.wait_for("app/click", {match = {kind = "a"}, timeout = "1h"})
            kinds[#kinds + 1] = click and click.data.n or "timeout"
          end
          got = j.wait_for("app/click", {timeout = "1h"})
        end,
      }
      h:ingest{user = "u1", name = "app/start"}
      h:ingest{user = "u1", name = "app/view"}
      h:ingest{user = "u1", name = "app/click", data = {kind = "a", n = 1}}
      h:ingest{user = "u1", name = "app/click", data = {kind = "b", n = 2}}
      h:ingest{user = "u1", name = "app/view"}
      h:ingest{user = "u1", name = "app/click", data = {kind = "a", n = 3}}
      h:advance("1h")

      assert.are.same({1, 3}, kinds)
      assert.are.equal(2, got.data.n)
    end)

    it("reaches before the trigger after a loop with ever", function()
      local clicks = 0
      h:define{
        name = "looper",
        on = "app/start",
        run = function(j)
          while clicks < 2 and j.wait_for("app/click", {timeout = "1h"}) do
            clicks = clicks + 1
          end
          got = j.wait_for("app/click", {since = "ever", timeout = "1h"})
        end,
      }
      h:ingest{user = "u1", name = "app/click", data = {n = 0}}
      h:ingest{user = "u1", name = "app/start"}
      h:ingest{user = "u1", name = "app/view"}
      h:ingest{user = "u1", name = "app/click", data = {n = 1}}
      h:ingest{user = "u1", name = "app/view"}
      h:ingest{user = "u1", name = "app/click", data = {n = 2}}

      assert.are.equal(2, clicks)
      assert.are.equal(0, got.data.n)
    end)

    it("tells a list of names from one name with a comma", function()
      local first
      h:define{
        name = "waiter",
        on = "app/start",
        run = function(j)
          j.sleep("1h")
          first = j.wait_for({"x", "y"}, {timeout = "1h"})
          got = j.wait_for("x,y", {timeout = "1h"})
        end,
      }
      h:ingest{user = "u1", name = "app/start"}
      h:ingest{user = "u1", name = "x,y", data = {n = 1}}
      h:advance("3h")

      assert.is_nil(first)
      assert.are.equal("x,y", got.name)
      assert.are.equal(1, got.data.n)
    end)

    it("never returns the run's own emits", function()
      h:define{
        name = "nudger",
        on = "app/signed_up",
        run = function(j)
          j.emit("app/nudged", {})
          got = j.wait_for("app/nudged", {timeout = "1h"})
        end,
      }
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")

      assert.is_nil(got)
      assert.are.equal(1, #h:events{name = "app/nudged"})
    end)
  end)

  describe("refs", function()
    it("hold one match per live wait", function()
      h:define{
        name = "counter",
        on = "app/signed_up",
        run = function(j)
          for _ = 1, 50 do
            j.wait_for("app/clicked", {match = {button = "buy"}, timeout = "1d"})
          end
        end,
      }
      h:ingest{user = "u1", name = "app/signed_up"}
      for _ = 1, 49 do
        h:ingest{user = "u1", name = "app/clicked", data = {button = "buy"}}
      end

      -- The journey, the run's coroutine and the match of its 50th wait.
      assert.are.equal(3, h:stats().refs)
      assert.are.equal("waiting", support.only_run(h).status)
    end)

    it("release the match on timeout", function()
      define_waiter("app/activated", {match = {plan = "pro"}, timeout = "1h"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")

      assert.are.equal(1, h:stats().refs)
    end)
  end)

  describe("same instant", function()
    it("takes an event at the deadline", function()
      define_waiter("app/activated", {timeout = "1d"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/activated", ts = T0 + DAY}

      assert.are.equal("app/activated", got.name)
      assert.are.equal(T0 + DAY, got.ts)
    end)

    it("times out before a later event", function()
      define_waiter("app/activated", {timeout = "1d"})
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/activated", ts = T0 + DAY + 0.001}

      assert.is_nil(got)
      assert.are.equal(T0 + DAY, support.only_run(h).ended_at)
    end)
  end)
end)
