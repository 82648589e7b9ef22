-- Recovery on a real SQLite file: a host is closed without committing
-- (as a crash would end it), a new host opens the same file, replays the
-- live runs from their journals and goes on.
local journey = require "journey"

local T0 = journey.time("2024-01-01T00:00:00Z")

describe("recovery", function()
  local path
  local hosts

  local function open(opts)
    opts = opts or {}
    opts.store = "sqlite:" .. path
    local h = journey.host(opts)
    hosts[#hosts + 1] = h
    return h
  end

  local function crash(h)
    -- Closing without a commit drops the open transaction, as a SIGKILL
    -- would; the store's lock goes with the connection.
    h:close()
  end

  before_each(function()
    path = os.tmpname()
    os.remove(path)
    hosts = {}
  end)

  after_each(function()
    for _, h in ipairs(hosts) do
      pcall(h.close, h)
    end
    for _, suffix in ipairs({"", "-wal", "-shm", ".lock"}) do
      os.remove(path .. suffix)
    end
  end)

  local side_effects

  local function define_checkout(h)
    side_effects = side_effects or 0
    h:define{
      name = "checkout",
      on = "shop/checkout",
      run = function(j, event)
        local receipt = j.step("charge", function()
          side_effects = side_effects + 1
          return "receipt-" .. event.data.order
        end)
        j.emit("shop/charged", {receipt = receipt})
        local shipped = j.wait_for("shop/shipped", {timeout = "1d"})
        return {result = shipped and "shipped" or "late", receipt = receipt}
      end,
    }
  end

  -- Leaves the store as a host that crashed with one checkout run
  -- waiting for shop/shipped would.
  local function crashed_with_checkout()
    local h = open{start = T0}
    define_checkout(h)
    h:ingest{id = "c1", user = "u1", name = "shop/checkout", data = {order = 7}}
    h:commit()
    crash(h)
  end

  it("keeps a waiting run and its original deadline", function()
    local h = open{start = T0}
    define_checkout(h)
    h:ingest{id = "c1", user = "u1", name = "shop/checkout", data = {order = 7}}
    h:advance("2h")
    h:commit()
    crash(h)

    local h2 = open()
    define_checkout(h2)
    local report = h2:recover()
    assert.are.equal(1, report.recovered)
    assert.are.equal(0, report.failed)
    assert.are.equal(T0 + 7200, h2:now())

    local run = h2:runs()[1]
    assert.are.equal("waiting", run.status)
    assert.are.equal(T0 + 86400, run.deadline)

    h2:advance("1d")
    run = h2:run(run.id)
    assert.are.equal("completed", run.status)
    assert.are.equal("late", run.result.result)
    assert.are.equal(T0 + 86400, run.ended_at)
  end)

  it("runs a journaled step and emit only once", function()
    side_effects = 0
    crashed_with_checkout()
    assert.are.equal(1, side_effects)

    local h2 = open()
    define_checkout(h2)
    h2:recover()
    h2:ingest{id = "s1", user = "u1", name = "shop/shipped"}

    assert.are.equal(1, side_effects)
    assert.are.equal(1, #h2:emitted())
    local run = h2:runs()[1]
    assert.are.equal("shipped", run.result.result)
    assert.are.equal("receipt-7", run.result.receipt)
  end)

  it("loses what was never committed", function()
    local h = open{start = T0}
    define_checkout(h)
    h:ingest{id = "c1", user = "u1", name = "shop/checkout", data = {order = 1}}
    h:commit()
    h:ingest{id = "c2", user = "u2", name = "shop/checkout", data = {order = 2}}
    crash(h)

    local h2 = open()
    define_checkout(h2)
    local report = h2:recover()
    assert.are.equal(1, report.recovered)
    assert.are.equal(1, #h2:events{name = "shop/checkout"})
    -- The lost event was never acknowledged, so sending it again stores it.
    local seq = h2:ingest{id = "c2", user = "u2", name = "shop/checkout", data = {order = 2}}
    assert.is_number(seq)
    assert.are.equal(2, #h2:runs())
  end)

  it("ignores a duplicate id after a restart", function()
    local h = open{start = T0}
    define_checkout(h)
    h:ingest{id = "c1", user = "u1", name = "shop/checkout", data = {order = 1}}
    h:commit()
    crash(h)

    local h2 = open()
    define_checkout(h2)
    h2:recover()
    local seq, reason = h2:ingest{id = "c1", user = "u1", name = "shop/checkout", data = {order = 1}}
    assert.is_nil(seq)
    assert.are.equal("duplicate", reason)
    assert.are.equal(1, h2:stats().events_duplicate)
  end)

  it("fires deadlines that passed while down in deadline order", function()
    local h = open{start = T0}
    h:define{
      name = "nap",
      on = "app/nap",
      key = false,
      run = function(j, event)
        j.sleep(event.data.hours * 3600)
        j.emit("app/woke", {n = event.data.n})
      end,
    }
    h:ingest{id = "a", user = "u", name = "app/nap", data = {n = 1, hours = 5}}
    h:ingest{id = "b", user = "u", name = "app/nap", data = {n = 2, hours = 2}}
    h:ingest{id = "c", user = "u", name = "app/nap", data = {n = 3, hours = 3}}
    h:commit()
    crash(h)

    local h2 = open()
    h2:define{
      name = "nap",
      on = "app/nap",
      key = false,
      run = function(j, event)
        j.sleep(event.data.hours * 3600)
        j.emit("app/woke", {n = event.data.n})
      end,
    }
    assert.are.equal(3, h2:recover().recovered)
    h2:advance("10h")

    local order, times = {}, {}
    for i, event in ipairs(h2:emitted()) do
      order[i] = event.data.n
      times[i] = event.ts
    end
    assert.are.same({2, 3, 1}, order)
    assert.are.same({T0 + 7200, T0 + 10800, T0 + 18000}, times)
  end)

  it("parks a run whose script changed", function()
    crashed_with_checkout()
    local charged = side_effects

    local h2 = open()
    h2:define{
      name = "checkout",
      on = "shop/checkout",
      run = function(j)
        j.sleep("1h")
      end,
    }
    local report = h2:recover()
    assert.are.equal(1, report.parked)
    assert.are.equal(0, report.failed)
    local run = h2:runs()[1]
    assert.are.equal("waiting", run.status)
    assert.matches('replay diverged at step 1: the journal holds step("charge") but the script '
                   .. 'asked for sleep()', run.parked, 1, true)
    assert.is_nil(run.deadline)

    -- While parked it keeps its key and wakes on nothing.
    h2:ingest{id = "c2", user = "u1", name = "shop/checkout", data = {order = 8}}
    h2:ingest{id = "s1", user = "u1", name = "shop/shipped"}
    assert.are.equal(1, #h2:runs())
    h2:commit()
    crash(h2)

    -- The store kept it as it was, so the first script resumes it, and
    -- its wait takes the event that arrived while it was parked.
    local h3 = open()
    define_checkout(h3)
    assert.are.equal(0, h3:recover().parked)
    local resumed = h3:run(h3:runs()[1].id)
    assert.are.equal("completed", resumed.status)
    assert.are.same({result = "shipped", receipt = "receipt-7"}, resumed.result)
    assert.are.equal(charged, side_effects)
  end)

  it("parks a run that now suspends elsewhere", function()
    crashed_with_checkout()

    local h2 = open()
    h2:define{
      name = "checkout",
      on = "shop/checkout",
      run = function(j, event)
        j.step("charge", function() return "receipt-" .. event.data.order end)
        j.emit("shop/charged", {})
        j.sleep("1h")
      end,
    }
    assert.are.equal(1, h2:recover().parked)
    local run = h2:runs()[1]
    assert.are.equal("waiting", run.status)
    assert.matches("as stored the run was waiting for shop/shipped", run.parked, 1, true)
  end)

  it("parks a run that now returns before its wait", function()
    crashed_with_checkout()

    local h2 = open()
    h2:define{
      name = "checkout",
      on = "shop/checkout",
      run = function(j, event)
        j.step("charge", function() return "receipt-" .. event.data.order end)
        j.emit("shop/charged", {})
        return {result = "skipped"}
      end,
    }
    assert.are.equal(1, h2:recover().parked)
    local run = h2:runs()[1]
    assert.are.equal("waiting", run.status)
    assert.matches("as stored the run was waiting for shop/shipped, but the script now "
                   .. "returns", run.parked, 1, true)
  end)

  it("keeps a parked wait's deadline", function()
    crashed_with_checkout()

    local h2 = open()
    h2:define{name = "checkout", on = "shop/checkout", run = function() error("broken edit") end}
    assert.are.equal(1, h2:recover().parked)
    h2:advance("3d")
    h2:ingest{id = "s1", user = "u1", name = "shop/shipped"}
    h2:commit()
    crash(h2)

    -- The wait's deadline passed two days before the event came.
    local h3 = open()
    define_checkout(h3)
    h3:recover()
    h3:advance(0)
    local run = h3:run(h3:runs()[1].id)
    assert.are.equal("completed", run.status)
    assert.are.equal("late", run.result.result)
  end)

  it("cancels a parked run on cancel_on", function()
    crashed_with_checkout()

    local h2 = open()
    h2:define{
      name = "checkout",
      on = "shop/checkout",
      cancel_on = "shop/refunded",
      run = function(j)
        j.sleep("1h")
      end,
    }
    assert.are.equal(1, h2:recover().parked)
    h2:ingest{id = "r1", user = "u1", name = "shop/refunded"}
    assert.are.equal("cancelled", h2:runs()[1].status)
  end)

  it("leaves runs of undefined journeys stored", function()
    crashed_with_checkout()

    local h2 = open()
    assert.are.equal(1, h2:recover().orphaned)
    h2:commit()
    crash(h2)

    local h3 = open()
    define_checkout(h3)
    assert.are.equal(1, h3:recover().recovered)
  end)
end)

describe("the SQLite store", function()
  local path

  before_each(function()
    path = os.tmpname()
  end)

  after_each(function()
    for _, suffix in ipairs({"", "-wal", "-shm", ".lock"}) do
      os.remove(path .. suffix)
    end
  end)

  it("rejects a file that is not SQLite", function()
    local file = io.open(path, "w")
    file:write(string.rep("not a database\n", 200))
    file:close()
    local ok, message = pcall(journey.host, {store = "sqlite:" .. path})
    assert.is_false(ok)
    assert.matches(path, message, 1, true)
  end)

  it("rejects a newer schema version", function()
    os.remove(path)
    local h = journey.host{store = "sqlite:" .. path}
    h:close()
    assert.are.equal(0, os.execute("sqlite3 " .. path .. " 'PRAGMA user_version = 99'") and 0 or 1)
    local ok, message = pcall(journey.host, {store = "sqlite:" .. path})
    assert.is_false(ok)
    assert.matches("schema version 99, newer than this journey supports", message, 1, true)
  end)

  it("rejects a SQLite database of another program", function()
    os.remove(path)
    assert.is_true(os.execute("sqlite3 " .. path .. " 'CREATE TABLE t (x)'") and true or false)
    local ok, message = pcall(journey.host, {store = "sqlite:" .. path})
    assert.is_false(ok)
    assert.matches("is a SQLite database but not a journey store", message, 1, true)
  end)

  it("rejects a second host on the same store", function()
    os.remove(path)
    local h = journey.host{store = "sqlite:" .. path}
    local ok, message = pcall(journey.host, {store = "sqlite:" .. path})
    h:close()
    assert.is_false(ok)
    assert.matches("is in use by another journey host", message, 1, true)
  end)
end)

describe("recovery of a run whose event came while it was not loaded", function()
  it("lets the wait take that event", function()
    local path = os.tmpname()
    os.remove(path)
    local function define(h)
      h:define{name = "cart", on = "shop/cart_added", run = function(j)
        local order = j.wait_for("shop/order_placed", {timeout = "1h"})
        return {result = order and "ordered" or "abandoned"}
      end}
    end

    local h = journey.host{start = T0, store = "sqlite:" .. path}
    define(h)
    h:ingest{id = "c", user = "bob", name = "shop/cart_added"}
    h:commit()
    h:close()

    -- No script defines the journey: the run stays stored, the order is
    -- stored too, and nothing wakes the run.
    local h2 = journey.host{store = "sqlite:" .. path}
    assert.are.equal(1, h2:recover().orphaned)
    h2:ingest{id = "o", user = "bob", name = "shop/order_placed"}
    h2:commit()
    h2:close()

    local h3 = journey.host{store = "sqlite:" .. path}
    define(h3)
    local report = h3:recover()
    assert.are.equal(0, report.failed)
    local run = h3:runs()[1]
    assert.are.equal("completed", run.status)
    assert.are.equal("ordered", run.result.result)
    h3:close()
    for _, suffix in ipairs({"", "-wal", "-shm", ".lock"}) do
      os.remove(path .. suffix)
    end
  end)
end)
