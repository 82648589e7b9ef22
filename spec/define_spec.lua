-- journey.define: triggers (`on`), run keys (`key`), `cancel_on`, the
-- checks on a definition, and loading definitions from a script.
local journey = require "journey"
local support = require "spec.support"

local SPEC = debug.getinfo(1, "S").short_src
local T0 = journey.time("2024-01-01T00:00:00Z")
local HOUR = 3600
local DAY = 86400

local function noop() end

-- Returns the names of the trigger events of h's runs, in run order.
local function trigger_names(h)
  local names = {}
  for _, trace in ipairs(h:trace()) do
    if trace.kind == "started" then
      names[#names + 1] = trace.event
    end
  end
  return names
end

describe("journey.define", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  describe("on", function()
    it("starts on one event name", function()
      h:define{name = "welcome", on = "app/signed_up", run = noop}
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/signed_in"}

      assert.are.same({"app/signed_up"}, trigger_names(h))
    end)

    it("starts on any name of a list", function()
      h:define{name = "welcome", on = {"app/signed_up", "app/invited"}, key = false, run = noop}
      h:ingest{user = "u1", name = "app/invited"}
      h:ingest{user = "u1", name = "app/signed_in"}
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.same({"app/invited", "app/signed_up"}, trigger_names(h))
    end)

    it("starts on names with a prefix", function()
      h:define{name = "activity", on = "app/*", key = false, run = noop}
      h:ingest{user = "u1", name = "app/clicked"}
      h:ingest{user = "u1", name = "billing/paid"}
      h:ingest{user = "u1", name = "application/opened"}
      h:ingest{user = "u1", name = "app/viewed/page"}

      assert.are.same({"app/clicked", "app/viewed/page"}, trigger_names(h))
    end)

    it("starts on every event with a star", function()
      h:define{name = "audit", on = "*", key = false, run = noop}
      h:ingest{user = "u1", name = "app/clicked"}
      h:ingest{user = "u2", name = "billing/paid"}

      assert.are.same({"app/clicked", "billing/paid"}, trigger_names(h))
    end)

    it("passes the trigger event to run", function()
      local trigger
      h:define{
        name = "welcome",
        on = "app/signed_up",
        run = function(_, event)
          trigger = event
        end,
      }
      local seq = h:ingest{user = "u1", name = "app/signed_up", id = "e1", data = {plan = "pro"}}

      assert.are.equal(seq, trigger.seq)
      assert.are.equal("e1", trigger.id)
      assert.are.equal("u1", trigger.user)
      assert.are.equal("app/signed_up", trigger.name)
      assert.are.equal(T0, trigger.ts)
      assert.are.same({plan = "pro"}, trigger.data)
    end)

    it("gives each run its user and id", function()
      local seen = {}
      h:define{
        name = "welcome",
        on = "app/signed_up",
        run = function(j)
          seen[#seen + 1] = {user = j.user, run_id = j.run_id}
        end,
      }
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u2", name = "app/signed_up"}

      local runs = h:runs()
      assert.are.same({
        {user = "u1", run_id = runs[1].id},
        {user = "u2", run_id = runs[2].id},
      }, seen)
    end)
  end)

  describe("checks", function()
    -- Returns the message h:define raises for definition.
    local function rejection(definition)
      local ok, message = pcall(h.define, h, definition)
      assert.is_false(ok, "the definition was accepted")
      return message
    end

    it("rejects an unknown field", function()
      local message = rejection{name = "welcome", on = "app/signed_up", run = noop,
                                cancel_On = "app/deleted"}
      assert.matches('unknown field "cancel_On"', message, 1, true)
    end)

    it("rejects a missing name", function()
      assert.matches('"name"', rejection{on = "app/signed_up", run = noop}, 1, true)
    end)

    it("rejects a missing trigger", function()
      assert.matches('missing "on"', rejection{name = "welcome", run = noop}, 1, true)
    end)

    it("rejects an empty trigger list", function()
      local message = rejection{name = "welcome", on = {}, run = noop}
      assert.matches('"on" must be an event name or a non-empty list', message, 1, true)
    end)

    it("rejects a non-function run", function()
      local message = rejection{name = "welcome", on = "app/signed_up", run = "hello"}
      assert.matches('"run" must be a function', message, 1, true)
    end)

    it("rejects an invalid key", function()
      local message = rejection{name = "welcome", on = "app/signed_up", run = noop,
                                key = "cart_id"}
      assert.matches('invalid key "cart_id"', message, 1, true)
    end)

    it("rejects empty names in a key path", function()
      for _, key in ipairs{"data.", "data.a.", "data..x", "data.a..b", "data.a. "} do
        local ok, message = pcall(h.define, h, {name = "k", on = "app/signed_up", run = noop,
                                                key = key})
        if key == "data.a. " then
          assert.is_true(ok, message)
        else
          assert.is_false(ok)
          assert.matches('invalid key "' .. key .. '"', message, 1, true)
        end
      end
    end)

    it("rejects key true", function()
      local message = rejection{name = "welcome", on = "app/signed_up", run = noop, key = true}
      assert.matches('"key" must be a path', message, 1, true)
    end)

    it("rejects a duplicate name", function()
      -- Called through pcall, a C function, so the nearest Lua caller
      -- is the spec's line.
      assert(pcall(h.define, h, {name = "welcome", on = "app/signed_up", run = noop})) -- at: first-welcome
      local message = rejection{name = "welcome", on = "app/invited", run = noop}
      local first = support.where(SPEC, "first-welcome"):sub(1, -2)
      assert.matches('journey "welcome" is already defined at ' .. first .. ";", message, 1, true)
    end)

    it("names the spec line that defines", function()
      local ok, message = pcall(function()
        h:define{name = "welcome", run = noop} -- at: define-no-on
      end)
      assert.is_false(ok)
      assert.matches(support.where(SPEC, "define-no-on"), message, 1, true)
    end)
  end)

  describe("default key", function()
    local function define_waiting_journey()
      h:define{
        name = "onboarding",
        on = "app/signed_up",
        run = function(j)
          j.wait_for("app/activated", {timeout = "1d"})
        end,
      }
    end

    it("keeps one live run per user", function()
      define_waiting_journey()
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/signed_up"}

      assert.are.equal(1, #h:runs{user = "u1"})
    end)

    it("starts a run for each user", function()
      define_waiting_journey()
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u2", name = "app/signed_up"}

      assert.are.equal(1, #h:runs{user = "u1"})
      assert.are.equal(1, #h:runs{user = "u2"})
    end)

    it("starts again after the run ended", function()
      define_waiting_journey()
      h:ingest{user = "u1", name = "app/signed_up"}
      h:advance("1d")
      h:ingest{user = "u1", name = "app/signed_up"}

      local runs = h:runs{user = "u1"}
      assert.are.equal(2, #runs)
      assert.are.equal("completed", runs[1].status)
      assert.are.equal("waiting", runs[2].status)
    end)

    it("starts no run on a wake", function()
      h:define{
        name = "engagement",
        on = {"app/signed_up", "app/clicked"},
        run = function(j)
          j.wait_for("app/clicked", {timeout = "1d"})
        end,
      }
      h:ingest{user = "u1", name = "app/signed_up"}
      h:ingest{user = "u1", name = "app/clicked"}

      local runs = h:runs()
      assert.are.equal(1, #runs)
      assert.are.equal("completed", runs[1].status)
    end)
  end)

  describe("key path", function()
    local function define_cart_journey()
      h:define{
        name = "abandoned_cart",
        on = {"cart/created", "cart/updated"},
        key = "data.cart_id",
        run = function(j, event)
          j.wait_for("cart/updated", {match = {cart_id = event.data.cart_id}, timeout = "1d"})
        end,
      }
    end

    it("keeps one live run per cart", function()
      define_cart_journey()
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = "A"}}
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = "A"}}
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = "B"}}

      local keys = {}
      for i, run in ipairs(h:runs()) do
        keys[i] = run.key
      end
      assert.are.same({"A", "B"}, keys)
    end)

    it("starts no run for a woken cart", function()
      define_cart_journey()
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = "A"}}
      h:ingest{user = "u1", name = "cart/updated", data = {cart_id = "A"}}

      local runs = h:runs()
      assert.are.equal(1, #runs)
      assert.are.equal("completed", runs[1].status)
    end)

    it("starts a run for another cart", function()
      define_cart_journey()
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = "A"}}
      h:ingest{user = "u1", name = "cart/updated", data = {cart_id = "B"}}

      local runs = h:runs()
      assert.are.equal(2, #runs)
      assert.are.equal("waiting", runs[1].status)
      assert.are.equal("B", runs[2].key)
    end)

    it("starts a cart that woke another", function()
      h:define{
        name = "abandoned_cart",
        on = {"cart/created", "cart/updated"},
        key = "data.cart_id",
        run = function(j)
          j.wait_for("cart/updated", {timeout = "1d"})
        end,
      }
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = "A"}}
      h:ingest{user = "u1", name = "cart/updated", data = {cart_id = "cart-with-a-long-id"}}

      local runs = h:runs()
      assert.are.equal(2, #runs)
      assert.are.equal("completed", runs[1].status)
      assert.are.equal("cart-with-a-long-id", runs[2].key)
    end)

    it("scopes a key to the user", function()
      define_cart_journey()
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = "A"}}
      h:ingest{user = "u2", name = "cart/created", data = {cart_id = "A"}}

      local runs = h:runs()
      assert.are.equal(2, #runs)
      assert.are.equal("u1", runs[1].user)
      assert.are.equal("u2", runs[2].user)
      assert.are.equal("A", runs[2].key)
    end)

    it("reads a numeric key", function()
      define_cart_journey()
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = 42}}
      h:ingest{user = "u1", name = "cart/created", data = {cart_id = 42}}

      local runs = h:runs()
      assert.are.equal(1, #runs)
      assert.are.equal("42", runs[1].key)
    end)
  end)

  describe("key false", function()
    it("starts a run per trigger", function()
      h:define{
        name = "receipt",
        on = "billing/paid",
        key = false,
        run = function(j)
          j.sleep("1h")
        end,
      }
      h:ingest{user = "u1", name = "billing/paid"}
      h:ingest{user = "u1", name = "billing/paid"}
      h:ingest{user = "u1", name = "billing/paid"}

      assert.are.equal(3, #h:runs{status = "sleeping"})
    end)
  end)

  describe("cancel_on", function()
    local reached_end

    before_each(function()
      reached_end = false
    end)

    local function define_trial(extra)
      local definition = {
        name = "trial",
        on = "trial/started",
        cancel_on = "billing/paid",
        run = function(j)
          j.wait_for("app/activated", {timeout = "1d"})
          j.sleep("1d")
          reached_end = true
        end,
      }
      for k, v in pairs(extra or {}) do
        definition[k] = v
      end
      h:define(definition)
    end

    it("ends a waiting run at once", function()
      define_trial()
      h:ingest{user = "u1", name = "trial/started"}
      h:advance("1h")
      h:ingest{user = "u1", name = "billing/paid"}

      local run = support.only_run(h)
      assert.are.equal("cancelled", run.status)
      assert.are.equal(T0 + HOUR, run.ended_at)
      h:advance("3d")
      assert.is_false(reached_end)
    end)

    it("ends a sleeping run", function()
      define_trial()
      h:ingest{user = "u1", name = "trial/started"}
      h:ingest{user = "u1", name = "app/activated"}
      h:ingest{user = "u1", name = "billing/paid"}

      assert.are.equal("cancelled", support.only_run(h).status)
      assert.are.equal(0, h:stats().deadlines)
    end)

    it("accepts a list of names", function()
      define_trial{cancel_on = {"billing/paid", "app/deleted"}}
      h:ingest{user = "u1", name = "trial/started"}
      h:ingest{user = "u1", name = "app/deleted"}

      assert.are.equal("cancelled", support.only_run(h).status)
    end)

    it("wins over a wait deadline", function()
      define_trial()
      h:ingest{user = "u1", name = "trial/started"}
      h:ingest{user = "u1", name = "billing/paid", ts = T0 + DAY}

      local run = support.only_run(h)
      assert.are.equal("cancelled", run.status)
      assert.are.equal(T0 + DAY, run.ended_at)
      assert.are.equal(0, #support.traces(h, "woken"))
    end)

    it("wins over a sleep deadline", function()
      h:define{
        name = "reminder",
        on = "trial/started",
        cancel_on = "billing/paid",
        run = function(j)
          j.sleep("1d")
          j.emit("trial/reminded", {})
        end,
      }
      h:ingest{user = "u1", name = "trial/started"}
      h:ingest{user = "u1", name = "billing/paid", ts = T0 + DAY}

      assert.are.equal("cancelled", support.only_run(h).status)
      assert.are.same({}, h:emitted())
    end)

    it("releases the match of a cancelled wait", function()
      h:define{
        name = "trial",
        on = "trial/started",
        cancel_on = "billing/paid",
        run = function(j)
          j.wait_for("app/activated", {match = {plan = "pro"}, timeout = "1d"})
        end,
      }
      h:ingest{user = "u1", name = "trial/started"}
      assert.are.equal(3, h:stats().refs)

      h:ingest{user = "u1", name = "billing/paid"}
      assert.are.equal(1, h:stats().refs)
    end)

    it("spares other users' runs", function()
      define_trial()
      h:ingest{user = "u1", name = "trial/started"}
      h:ingest{user = "u2", name = "trial/started"}
      h:ingest{user = "u2", name = "billing/paid"}

      assert.are.equal("waiting", support.only_run(h, {user = "u1"}).status)
      assert.are.equal("cancelled", support.only_run(h, {user = "u2"}).status)
    end)

    it("ends only the event's key", function()
      define_trial{key = "data.plan"}
      h:ingest{user = "u1", name = "trial/started", data = {plan = "pro"}}
      h:ingest{user = "u1", name = "trial/started", data = {plan = "team"}}
      h:ingest{user = "u1", name = "billing/paid", data = {plan = "team"}}

      local statuses = {}
      for _, run in ipairs(h:runs()) do
        statuses[run.key] = run.status
      end
      assert.are.same({pro = "waiting", team = "cancelled"}, statuses)
    end)

    it("ends every id-keyed run", function()
      define_trial{key = "id"}
      h:ingest{user = "u1", name = "trial/started", id = "t1"}
      h:ingest{user = "u1", name = "trial/started", id = "t2"}
      h:ingest{user = "u1", name = "billing/paid", id = "p1"}

      for _, run in ipairs(h:runs()) do
        assert.are.equal("cancelled", run.status)
      end
      assert.are.equal(2, #h:runs())
    end)

    it("counts cancelled runs in stats", function()
      define_trial()
      h:ingest{user = "u1", name = "trial/started"}
      h:ingest{user = "u1", name = "billing/paid"}

      local stats = h:stats()
      assert.are.equal(1, stats.runs_cancelled)
      assert.are.equal(1, stats.journeys.trial.cancelled)
      assert.are.equal(0, stats.runs_live)
    end)
  end)
end)

describe("host:load", function()
  local h
  local path

  before_each(function()
    h = support.host()
    path = os.tmpname()
  end)

  after_each(function()
    os.remove(path)
    support.close_hosts()
  end)

  local function write_script(text)
    local file = assert(io.open(path, "w"))
    file:write(text)
    file:close()
  end

  it("loads the script's journeys", function()
    write_script([[
local journey = require "journey"
journey.define{
  name = "welcome",
  on = "app/signed_up",
  run = function(j, event)
    j.sleep("1h")
    return {greeted = event.user}
  end,
}
]])
    assert.is_true(h:load(path))
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.same({greeted = "u1"}, support.only_run(h).result)
  end)

  it("names the script line on failure", function()
    write_script([[
local journey = require "journey"
journey.define{
  name = "welcome",
  on = "app/signed_up",
  run = function(j)
    j.wait_for("app/activated")
  end,
}
]])
    h:load(path)
    h:ingest{user = "u1", name = "app/signed_up"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches(path .. ":6:", run.error, 1, true)
  end)

  it("raises a script error with its line", function()
    write_script([[
local journey = require "journey"
journey.define{name = "welcome", on = "app/signed_up", run = function() end, when = 1}
]])
    local ok, message = pcall(h.load, h, path)

    assert.is_false(ok)
    assert.matches(path .. ":2:", message, 1, true)
    assert.matches('unknown field "when"', message, 1, true)
  end)

  it("rejects journey.define outside a load", function()
    local ok, message = pcall(journey.define, {name = "x", on = "a", run = noop})

    assert.is_false(ok)
    assert.matches("no host is loading", message, 1, true)
  end)
end)
