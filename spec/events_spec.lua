-- j.events: the matching events of the run's user so far, oldest first,
-- without consuming them; and event ids, which make ingesting
-- idempotent per user.
local journey = require "journey"
local support = require "spec.support"

local T0 = journey.time("2024-01-01T00:00:00Z")
local DAY = 86400

describe("j.events", function()
  local h
  local listed

  before_each(function()
    h = support.host()
    listed = nil
  end)

  after_each(support.close_hosts)

  -- Defines a journey that starts on app/signed_up, sleeps an hour, then
  -- stores j.events(names, opts) in `listed`.
  local function define_lister(names, opts)
    h:define{
      name = "lister",
      on = "app/signed_up",
      run = function(j)
        j.sleep("1h")
        listed = j.events(names, opts)
      end,
    }
  end

  local function field_values(events, field)
    local values = {}
    for i, event in ipairs(events) do
      values[i] = event.data[field]
    end
    return values
  end

  it("returns past matches oldest first", function()
    define_lister("app/clicked")
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("10m")
    h:ingest{user = "u1", name = "app/clicked", data = {n = 1}}
    h:advance("10m")
    h:ingest{user = "u1", name = "app/clicked", data = {n = 2}}
    h:advance("1h")

    assert.are.same({1, 2}, field_values(listed, "n"))
    assert.are.equal(T0 + 600, listed[1].ts)
    assert.are.equal("u1", listed[1].user)
    assert.are.equal("app/clicked", listed[1].name)
  end)

  it("returns an empty list without matches", function()
    define_lister("app/clicked")
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.same({}, listed)
  end)

  it("includes the trigger event", function()
    define_lister("app/signed_up")
    local trigger = h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.equal(1, #listed)
    assert.are.equal(trigger, listed[1].seq)
  end)

  it("ignores events before the trigger", function()
    define_lister("app/clicked")
    h:ingest{user = "u1", name = "app/clicked"}
    h:advance("1m")
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.same({}, listed)
  end)

  it("reaches before the trigger with ever", function()
    define_lister("app/clicked", {since = "ever"})
    h:ingest{user = "u1", name = "app/clicked", data = {n = 1}}
    h:advance("1m")
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.same({1}, field_values(listed, "n"))
  end)

  it("reaches back a duration from now", function()
    define_lister("app/clicked", {since = "7d"})
    h:ingest{user = "u1", name = "app/clicked", data = {n = 1}}
    h:advance("5d")
    h:ingest{user = "u1", name = "app/clicked", data = {n = 2}}
    h:advance("5d")
    h:ingest{user = "u1", name = "app/signed_up"}
    h:advance("1h")

    assert.are.same({2}, field_values(listed, "n"))
    assert.are.equal(T0 + 5 * DAY, listed[1].ts)
  end)

  it("filters by match", function()
    define_lister("app/clicked", {match = {button = "buy"}})
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/clicked", data = {button = "buy", n = 1}}
    h:ingest{user = "u1", name = "app/clicked", data = {button = "help", n = 2}}
    h:ingest{user = "u1", name = "app/clicked", data = {button = "buy", n = 3}}
    h:advance("1h")

    assert.are.same({1, 3}, field_values(listed, "n"))
  end)

  it("accepts a list of names", function()
    define_lister({"app/clicked", "app/viewed"})
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/viewed", data = {n = 1}}
    h:ingest{user = "u1", name = "app/other", data = {n = 2}}
    h:ingest{user = "u1", name = "app/clicked", data = {n = 3}}
    h:advance("1h")

    assert.are.same({1, 3}, field_values(listed, "n"))
  end)

  it("ignores another user's events", function()
    define_lister("app/clicked")
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u2", name = "app/clicked"}
    h:advance("1h")

    assert.are.same({}, listed)
  end)

  it("does not consume events", function()
    local first, waited
    h:define{
      name = "lister",
      on = "app/signed_up",
      run = function(j)
        j.sleep("1h")
        first = j.events("app/clicked")
        waited = j.wait_for("app/clicked", {timeout = "1h"})
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/clicked", data = {n = 1}}
    h:advance("1h")

    assert.are.equal(1, #first)
    assert.are.equal(1, waited.data.n)
  end)

  it("still lists events a wait received", function()
    local after
    h:define{
      name = "lister",
      on = "app/signed_up",
      run = function(j)
        j.wait_for("app/clicked", {timeout = "1h"})
        after = j.events("app/clicked")
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/clicked", data = {n = 1}}

    assert.are.same({1}, field_values(after, "n"))
  end)

  it("lists the run's own emits at once", function()
    h:define{
      name = "nudger",
      on = "app/signed_up",
      run = function(j)
        j.emit("app/nudged", {channel = "email"})
        listed = j.events("app/nudged")
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}

    assert.are.equal(1, #listed)
    assert.are.equal("email", listed[1].data.channel)
    assert.are.equal(T0, listed[1].ts)
  end)

  it("gives each caller its own data tables", function()
    local a, b
    h:define{
      name = "lister",
      on = "app/signed_up",
      run = function(j)
        j.sleep("1h")
        a = j.events("app/clicked")
        a[1].data.n = 99
        b = j.events("app/clicked")
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/clicked", data = {n = 1}}
    h:advance("1h")

    assert.are.equal(1, b[1].data.n)
  end)
end)

describe("event ids", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  it("ignore a repeated id", function()
    local first = h:ingest{user = "u1", name = "app/clicked", id = "e1"}
    local second, reason = h:ingest{user = "u1", name = "app/clicked", id = "e1"}

    assert.is_number(first)
    assert.is_nil(second)
    assert.are.equal("duplicate", reason)
    assert.are.equal(1, #h:events{user = "u1"})
  end)

  it("count duplicates in stats", function()
    h:ingest{user = "u1", name = "app/clicked", id = "e1"}
    h:ingest{user = "u1", name = "app/clicked", id = "e1"}
    h:ingest{user = "u1", name = "app/clicked", id = "e1"}

    local stats = h:stats()
    assert.are.equal(2, stats.events_duplicate)
    assert.are.equal(1, stats.events_ingested)
  end)

  it("start no run for a duplicate", function()
    h:define{name = "receipt", on = "billing/paid", key = false, run = function() end}
    h:ingest{user = "u1", name = "billing/paid", id = "pay-1"}
    h:ingest{user = "u1", name = "billing/paid", id = "pay-1"}

    assert.are.equal(1, #h:runs())
  end)

  it("wake no run for a duplicate", function()
    local got = "unset"
    h:define{
      name = "waiter",
      on = "app/signed_up",
      run = function(j)
        got = j.wait_for("app/clicked", {timeout = "1d"})
      end,
    }
    h:ingest{user = "u1", name = "app/clicked", id = "c1"}
    h:ingest{user = "u1", name = "app/signed_up"}
    h:ingest{user = "u1", name = "app/clicked", id = "c1"}

    assert.are.equal("unset", got)
    assert.are.equal("waiting", support.only_run(h).status)
  end)

  it("compare ids per user", function()
    h:define{name = "receipt", on = "billing/paid", key = false, run = function() end}
    local first = h:ingest{user = "u1", name = "billing/paid", id = "pay-1"}
    local second = h:ingest{user = "u2", name = "billing/paid", id = "pay-1"}

    assert.is_number(first)
    assert.is_number(second)
    assert.are.equal(2, #h:runs())
    assert.are.equal(0, h:stats().events_duplicate)
  end)

  it("allow repeats without an id", function()
    h:ingest{user = "u1", name = "app/clicked"}
    h:ingest{user = "u1", name = "app/clicked"}

    assert.are.equal(2, #h:events{user = "u1"})
    assert.are.equal(0, h:stats().events_duplicate)
  end)
end)
