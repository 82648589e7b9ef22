-- The standard library inside a run: journaled os.time and
-- math.random, print to the run log, yields from inside pcall, nested
-- functions and functions that Lua calls from C, and runs' coroutines
-- kept out of the script's reach.
local journey = require "journey"
local support = require "spec.support"

local SPEC = debug.getinfo(1, "S").short_src
local T0 = journey.time("2024-01-01T00:00:00Z")
local DAY = 86400

describe("sandbox", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  local function define(fn)
    h:define{name = "sandboxed", on = "app/signed_up", run = fn}
  end

  describe("os.time", function()
    it("returns the virtual time in a run", function()
      local seen
      define(function(j)
        j.sleep("1d")
        seen = os.time()
      end)
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1d")

      assert.are.equal(T0 + DAY, seen)
      assert.are.equal("integer", math.type(seen))
    end)

    it("is journaled", function()
      define(function()
        os.time()
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      local entry = support.only_run(h).journal[1]
      assert.are.equal("os.time", entry.kind)
      assert.are.equal(tostring(T0), entry.result)
    end)

    it("converts a date table as usual", function()
      local seen
      define(function()
        seen = os.time{year = 2024, month = 1, day = 1, hour = 12}
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal(os.time{year = 2024, month = 1, day = 1, hour = 12}, seen)
      assert.are.same({}, support.only_run(h).journal)
    end)

    it("reads the real clock inside j.step", function()
      local seen
      define(function(j)
        seen = j.step("clock", function()
          return os.time()
        end)
      end)
      local before = os.time()
      h:ingest{user = "u1", name = "app/signed_up"}
      local after = os.time()

      assert.is_true(seen >= before and seen <= after)
      assert.are.same({"step"}, support.journal_kinds(support.only_run(h)))
    end)
  end)

  describe("math.random", function()
    it("returns an integer in range", function()
      local values = {}
      define(function()
        for i = 1, 20 do
          values[i] = math.random(1, 6)
        end
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      for _, value in ipairs(values) do
        assert.are.equal("integer", math.type(value))
        assert.is_true(value >= 1 and value <= 6)
      end
    end)

    it("returns a float below one", function()
      local value
      define(function()
        value = math.random()
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal("float", math.type(value))
      assert.is_true(value >= 0 and value < 1)
    end)

    it("journals each value", function()
      local values = {}
      define(function()
        values[1] = math.random(1, 1000000)
        values[2] = math.random(1, 1000000)
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      local journal = support.only_run(h).journal
      assert.are.same({"math.random", "math.random"}, support.journal_kinds({journal = journal}))
      assert.are.equal(tostring(values[1]), journal[1].result)
      assert.are.equal(tostring(values[2]), journal[2].result)
    end)

    it("journals a float exactly", function()
      local value
      define(function()
        value = math.random()
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal(value, tonumber(support.only_run(h).journal[1].result))
    end)

    it("is not journaled inside j.step", function()
      define(function(j)
        j.step("pick", function()
          return math.random(1, 6)
        end)
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.same({"step"}, support.journal_kinds(support.only_run(h)))
    end)
  end)

  describe("print", function()
    it("writes to the run log", function()
      define(function()
        print("hello", 42, true)
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      local logs = support.traces(h, "log")
      assert.are.equal(1, #logs)
      assert.are.equal("hello 42 true", logs[1].detail)
      assert.are.equal(support.only_run(h).id, logs[1].run)
      assert.are.equal("u1", logs[1].user)
    end)

    it("reaches the host's log function", function()
      local lines = {}
      local logged = support.host{
        log = function(level, run_id, journey_name, message)
          lines[#lines + 1] = {level, run_id, journey_name, message}
        end,
      }
      logged:define{
        name = "sandboxed",
        on = "app/signed_up",
        run = function()
          print("hello")
        end,
      }
      logged:ingest{user = "u1", name = "app/signed_up"}

      local run_id = support.only_run(logged).id
      assert.are.same({{"info", run_id, "sandboxed", "hello"}}, lines)
    end)

    it("is not journaled", function()
      define(function()
        print("hello")
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.same({}, support.only_run(h).journal)
    end)

    it("wraps a replaced print again", function()
      -- Test runners restore globals between files, so print may be a
      -- plain function again by the time the next host is created.
      local wrapped = _G.print
      local replaced_calls = 0
      _G.print = function()
        replaced_calls = replaced_calls + 1
      end
      local ok, err = pcall(function()
        local fresh = support.host()
        fresh:define{
          name = "sandboxed",
          on = "app/signed_up",
          run = function()
            print("hello")
          end,
        }
        fresh:ingest{user = "u1", name = "app/signed_up"}
        assert.are.equal(1, #support.traces(fresh, "log"))
      end)
      _G.print = wrapped

      assert.is_true(ok, err)
      assert.are.equal(0, replaced_calls)
    end)

    it("shares the run log with j.log", function()
      define(function(j)
        j.log("step", 1)
        print("step", 2)
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      local details = {}
      for i, trace in ipairs(support.traces(h, "log")) do
        details[i] = trace.detail
      end
      assert.are.same({"step 1", "step 2"}, details)
    end)
  end)

  describe("yields", function()
    it("wait inside pcall", function()
      local ok, event
      define(function(j)
        ok, event = pcall(j.wait_for, "app/activated", {timeout = "1d"})
      end)
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/activated"}

      assert.is_true(ok)
      assert.are.equal("app/activated", event.name)
    end)

    it("let pcall catch a later error", function()
      local ok, message
      define(function(j)
        ok, message = pcall(function()
          j.sleep("1h")
          error("after the sleep")
        end)
        return "continued"
      end)
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")

      local run = support.only_run(h)
      assert.is_false(ok)
      assert.matches("after the sleep", message, 1, true)
      assert.are.equal("completed", run.status)
      assert.are.equal("continued", run.result)
    end)

    it("sleep inside xpcall", function()
      local ok, value
      define(function(j)
        ok, value = xpcall(j.sleep, debug.traceback, "1h", "slept")
      end)
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")

      assert.is_true(ok)
      assert.are.equal("slept", value)
    end)

    it("wait inside nested functions", function()
      local names = {}
      define(function(j)
        local function wait_for(name)
          return j.wait_for(name, {timeout = "1d"})
        end
        local function walk(depth)
          if depth == 0 then
            return wait_for("app/activated")
          end
          return walk(depth - 1)
        end
        for i = 1, 2 do
          local event = walk(10)
          names[i] = event and event.data.n
        end
      end)
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/activated", data = {n = 1}}
      h:advance("1h")
      h:ingest{user = "u1", name = "app/activated", data = {n = 2}}

      assert.are.same({1, 2}, names)
      assert.are.equal("completed", support.only_run(h).status)
    end)

    it("sleep inside a for-in iterator", function()
      local days = {}
      define(function(j)
        local function each_day(n)
          return function(_, day)
            if day < n then
              j.sleep("1d")
              return day + 1
            end
          end, nil, 0
        end
        for day in each_day(3) do
          days[#days + 1] = j.now()
        end
      end)
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("5d")

      assert.are.same({T0 + DAY, T0 + 2 * DAY, T0 + 3 * DAY}, days)
    end)
  end)

  describe("functions called from C", function()
    it("fail a wait in a sort comparator", function()
      define(function(j)
        local items = {3, 1, 2}
        table.sort(items, function(a, b)
          j.wait_for("app/activated", {timeout = "1d"}) -- at: sort-wait
          return a < b
        end)
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      local run = support.only_run(h)
      assert.are.equal("failed", run.status)
      assert.matches("j.wait_for cannot suspend the run here", run.error, 1, true)
      assert.matches("table.sort comparator", run.error, 1, true)
      assert.matches(support.where(SPEC, "sort-wait"), run.error, 1, true)
    end)

    it("fail a sleep in a gsub callback", function()
      define(function(j)
        string.gsub("ab", ".", function()
          j.sleep("1h") -- at: gsub-sleep
        end)
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      local run = support.only_run(h)
      assert.are.equal("failed", run.status)
      assert.matches("j.sleep cannot suspend the run here", run.error, 1, true)
      assert.matches(support.where(SPEC, "gsub-sleep"), run.error, 1, true)
    end)

    it("fail a bare coroutine.yield", function()
      define(function()
        coroutine.yield()
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      local run = support.only_run(h)
      assert.are.equal("failed", run.status)
      assert.matches("coroutine.yield", run.error, 1, true)
    end)
  end)

  describe("a run's coroutine", function()
    -- Three journeys on one user: "keeper" stores its own coroutine in
    -- kept_coroutine (and waits when keeper_waits is set), "waiter"
    -- waits a day, and "thief" calls coroutine[operation] on the stored
    -- coroutine.
    local kept_coroutine

    local function define_three(operation, keeper_waits)
      h:define{name = "keeper", on = "app/keep", run = function(j)
        kept_coroutine = coroutine.running()
        if keeper_waits then
          j.wait_for("app/never", {timeout = "1d"})
        end
        return {result = "kept"}
      end}
      h:define{name = "waiter", on = "app/wait", run = function(j)
        local event = j.wait_for("app/never", {timeout = "1d"})
        return {result = event == nil and "timed out" or "woken"}
      end}
      h:define{name = "thief", on = "app/steal", run = function()
        coroutine[operation](kept_coroutine) -- at: steal
      end}
    end

    local function result_of(name)
      return support.only_run(h, {journey = name})
    end

    for _, operation in ipairs({"resume", "close"}) do
      it("cannot be passed to coroutine." .. operation .. " by another run", function()
        define_three(operation, true)
        h:ingest{user = "u1", name = "app/keep"}
        h:ingest{user = "u1", name = "app/steal"}
        h:advance("2d")

        local thief = result_of("thief")
        assert.are.equal("failed", thief.status)
        assert.matches("coroutine." .. operation .. ": the coroutine belongs to a run", thief.error,
          1, true)
        assert.matches(support.where(SPEC, "steal"), thief.error, 1, true)
        assert.are.same({result = "kept"}, result_of("keeper").result)
      end)
    end

    it("of a run that returned is reused, still out of reach", function()
      define_three("resume", false)
      h:ingest{user = "u1", name = "app/keep"}
      local first = kept_coroutine
      h:ingest{user = "u1", name = "app/wait"}
      h:ingest{user = "u1", name = "app/steal"}
      h:advance("2d")

      -- The waiter started in the keeper's coroutine, and the thief's
      -- resume of it failed instead of waking the waiter.
      assert.are.equal("failed", result_of("thief").status)
      assert.are.same({result = "timed out"}, result_of("waiter").result)
      h:ingest{user = "u1", name = "app/keep"}
      assert.is_true(rawequal(first, kept_coroutine))
    end)

    it("of a failed run is not reused", function()
      h:define{name = "failing", on = "app/fail", run = function()
        kept_coroutine = coroutine.running()
        error("boom")
      end}
      h:define{name = "keeper", on = "app/keep", run = function()
        return {thread = tostring(coroutine.running())}
      end}
      h:ingest{user = "u1", name = "app/fail"}
      local failed = tostring(kept_coroutine)
      h:ingest{user = "u1", name = "app/keep"}

      local keeper = support.only_run(h, {journey = "keeper"})
      assert.are.equal("completed", keeper.status)
      assert.are_not.equal(failed, keeper.result.thread)
    end)

    it("leaves coroutines the script creates to the standard rules", function()
      local outcome
      define(function()
        local function dive(n)
          if n == 0 then
            return "bottom"
          end
          local ok, value = coroutine.resume(coroutine.create(dive), n - 1)
          assert(ok, value)
          return value
        end
        local generator = coroutine.create(function()
          coroutine.yield(1)
        end)
        local itself
        itself = coroutine.create(function()
          return {coroutine.resume(itself)}
        end)
        outcome = {
          itself = select(2, coroutine.resume(itself)),
          deep = dive(150),
          first = {coroutine.resume(generator)},
          closed = coroutine.close(generator),
          after_close = coroutine.status(generator),
          dead = {coroutine.resume(generator)},
        }
        coroutine.resume(42) -- at: bad-resume
      end)
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.same({false, "cannot resume non-suspended coroutine"}, outcome.itself)
      assert.are.equal("bottom", outcome.deep)
      assert.are.same({true, 1}, outcome.first)
      assert.is_true(outcome.closed)
      assert.are.equal("dead", outcome.after_close)
      assert.are.same({false, "cannot resume dead coroutine"}, outcome.dead)
      local run = support.only_run(h)
      assert.are.equal("failed", run.status)
      assert.matches(support.where(SPEC, "bad-resume") .. " bad argument #1 to 'resume'",
        run.error, 1, true)
    end)

    it("gives each run of a reused coroutine its own j and event", function()
      h:define{name = "echo", on = "app/echo", key = false, run = function(j, event)
        if event.data.wait then
          j.sleep("1h")
        end
        return {run_id = j.run_id, n = event.data.n}
      end}
      for n = 1, 20 do
        h:ingest{user = "u" .. (n % 3), name = "app/echo", data = {n = n, wait = n % 4 == 0}}
      end
      h:advance("2h")

      local runs = h:runs()
      assert.are.equal(20, #runs)
      for _, listed in ipairs(runs) do
        local run = h:run(listed.id)
        assert.are.equal("completed", run.status)
        assert.are.equal(run.id, run.result.run_id)
        assert.are.equal(run.id, run.result.n)
      end
    end)
  end)
end)
