-- event.data in a run: decoded field by field from the stored JSON, and
-- still a table of the run's own that reads, writes, iterates and
-- encodes like a plain table.
local journey = require "journey"
local support = require "spec.support"

local DATA = {
  invoice = "536365",
  total = 139.12,
  lines = 7,
  items = {{"85123A", 6, 2.55}, {"71053", 6, 3.39}},
  customer = {country = "United Kingdom", since = 2009},
}

describe("event.data", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  -- Runs fn(data) in a run started by one order with DATA, and returns
  -- what fn returned.
  local function with_data(fn)
    local result
    h:define{name = "reader", on = "shop/order_placed", run = function(_, event)
      result = fn(event.data)
    end}
    h:ingest{user = "u1", name = "shop/order_placed", data = DATA}
    return result
  end

  it("reads fields of every type", function()
    local seen = with_data(function(data)
      return {data.invoice, data.total, data.lines, data.items, data.customer}
    end)

    assert.are.equal("536365", seen[1])
    assert.are.equal(139.12, seen[2])
    assert.are.equal("integer", math.type(seen[3]))
    assert.are.same(DATA.items, seen[4])
    assert.are.same(DATA.customer, seen[5])
  end)

  it("returns nil for a missing field or a non-string key", function()
    local seen = with_data(function(data)
      return {missing = data.missing, one = data[1], again = data.missing}
    end)

    assert.is_nil(seen.missing)
    assert.is_nil(seen.one)
    assert.is_nil(seen.again)
  end)

  it("returns the same table on every read", function()
    local same = with_data(function(data)
      local first = data.items
      first[1][2] = 99
      return data.items == first and data.items[1][2] == 99
    end)

    assert.is_true(same)
  end)

  it("keeps an assignment over the stored value", function()
    local seen = with_data(function(data)
      data.invoice = "changed"
      data.extra = true
      return {data.invoice, data.extra}
    end)

    assert.are.same({"changed", true}, seen)
  end)

  it("keeps a removed field removed", function()
    local seen = with_data(function(data)
      local before = data.total
      data.total = nil
      data.lines = nil
      return {before = before, total = data.total, lines = data.lines}
    end)

    assert.are.equal(139.12, seen.before)
    assert.is_nil(seen.total)
    assert.is_nil(seen.lines)
  end)

  it("iterates every field with pairs", function()
    local copy = with_data(function(data)
      data.lines = nil
      data.extra = "x"
      local copy = {}
      for k, v in pairs(data) do
        copy[k] = v
      end
      return copy
    end)

    local expected = {}
    for k, v in pairs(DATA) do
      expected[k] = v
    end
    expected.lines = nil
    expected.extra = "x"
    assert.are.same(expected, copy)
  end)

  it("is a plain table after pairs", function()
    local raw = with_data(function(data)
      for _ in pairs(data) do
      end
      return {meta = getmetatable(data), invoice = rawget(data, "invoice")}
    end)

    assert.is_nil(raw.meta)
    assert.are.equal("536365", raw.invoice)
  end)

  it("decodes the rest after several field reads", function()
    local raw = with_data(function(data)
      local _ = data.invoice, data.total, data.lines, data.items, data.customer
      return {meta = getmetatable(data), items = rawget(data, "items"), total = data.total}
    end)

    assert.is_nil(raw.meta)
    assert.are.same(DATA.items, raw.items)
    assert.are.equal(139.12, raw.total)
  end)

  it("gives each run its own table", function()
    local seen = {}
    h:define{name = "writer", on = "shop/order_placed", run = function(_, event)
      event.data.invoice = "written"
      event.data.items[1][1] = "written"
    end}
    h:define{name = "reader", on = "shop/order_placed", run = function(_, event)
      seen.invoice = event.data.invoice
      seen.code = event.data.items[1][1]
    end}
    h:ingest{user = "u1", name = "shop/order_placed", data = DATA}

    assert.are.equal("536365", seen.invoice)
    assert.are.equal("85123A", seen.code)
  end)

  it("is emitted whole", function()
    h:define{name = "forwarder", on = "shop/order_placed", run = function(j, event)
      local _ = event.data.invoice
      j.emit("shop/forwarded", {order = event.data, nested = {event}})
    end}
    h:ingest{user = "u1", name = "shop/order_placed", data = DATA}

    local emitted = h:emitted()
    assert.are.equal(1, #emitted)
    assert.are.same(DATA, emitted[1].data.order)
    assert.are.same(DATA, emitted[1].data.nested[1].data)
  end)

  it("is whole in a run's result", function()
    h:define{name = "returner", on = "shop/order_placed", run = function(_, event)
      return {data = event.data}
    end}
    h:ingest{user = "u1", name = "shop/order_placed", data = DATA}

    assert.are.same({data = DATA}, support.only_run(h).result)
  end)

  it("matches with journey.match", function()
    local matched = with_data(function(data)
      return journey.match({lines = 7, customer = {country = "United Kingdom", since = 2009}},
                           data)
    end)

    assert.is_true(matched)
  end)

  it("is an empty table without data", function()
    local seen
    h:define{name = "reader", on = "app/ping", run = function(_, event)
      seen = {next(event.data), getmetatable(event.data)}
    end}
    h:ingest{user = "u1", name = "app/ping"}

    assert.are.same({}, seen)
  end)

  it("is pending until read when its text is long", function()
    local meta = with_data(function(data)
      return getmetatable(data)
    end)

    assert.is_not_nil(meta)
  end)

  it("is a plain table at once when its text is short", function()
    local seen
    h:define{name = "reader", on = "app/signed_up", run = function(_, event)
      seen = {meta = getmetatable(event.data), plan = rawget(event.data, "plan")}
    end}
    h:ingest{user = "u1", name = "app/signed_up", data = {plan = "pro", seats = 3}}

    assert.is_nil(seen.meta)
    assert.are.equal("pro", seen.plan)
  end)
end)
