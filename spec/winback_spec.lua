local journey = require "journey"

local T0 = journey.time("2011-01-03T09:00:00Z")
local DAY = 24 * 3600

local function order(h, user, invoice, day)
    h:ingest{user = user, name = "shop/order_placed", ts = T0 + day * DAY,
             data = {invoice = invoice, country = "United Kingdom", lines = 1, units = 1,
                     total = 9.95, currency = "GBP", items = {{"22423", 1, 9.95}}}}
end

local function offers(h)
    local list = {}
    for _, event in ipairs(h:emitted()) do
        assert.are.equal("winback/offer", event.name)
        list[#list + 1] = {
            user = event.user,
            day = (event.ts - T0) / DAY,
            last_invoice = event.data.last_invoice,
            orders = event.data.orders,
        }
    end
    return list
end

describe("winback journey", function()
    local h

    before_each(function()
        h = journey.host{start = T0}
        h:load("scripts/winback.lua")
    end)

    after_each(function()
        h:close()
    end)

    it("makes an offer 90 days after a single order", function()
        order(h, "12345", "540001", 0)
        h:advance("100d")

        assert.are.same({{user = "12345", day = 90, last_invoice = "540001", orders = 1}},
                        offers(h))
        local runs = h:runs{journey = "winback"}
        assert.are.equal(1, #runs)
        assert.are.same({result = "offered", orders = 1}, runs[1].result)
    end)

    it("keeps one run while orders come in time", function()
        order(h, "12345", "540001", 0)
        order(h, "12345", "540002", 30)
        order(h, "12345", "540003", 100)
        h:advance("200d")

        assert.are.same({{user = "12345", day = 190, last_invoice = "540003", orders = 3}},
                        offers(h))
        assert.are.equal(1, h:stats().journeys.winback.started)
    end)

    it("counts an order at exactly 90 days", function()
        order(h, "12345", "540001", 0)
        order(h, "12345", "540002", 90)
        h:advance("200d")

        assert.are.same({{user = "12345", day = 180, last_invoice = "540002", orders = 2}},
                        offers(h))
        assert.are.equal(1, h:stats().journeys.winback.started)
    end)

    it("starts a new run after a late order", function()
        order(h, "12345", "540001", 0)
        order(h, "12345", "540002", 120)
        h:advance("300d")

        assert.are.same({
            {user = "12345", day = 90, last_invoice = "540001", orders = 1},
            {user = "12345", day = 210, last_invoice = "540002", orders = 1},
        }, offers(h))
        local runs = h:runs{journey = "winback"}
        assert.are.equal(2, #runs)
        assert.are.equal("completed", runs[1].status)
        assert.are.equal("completed", runs[2].status)
    end)

    it("wakes once per order at the same time", function()
        order(h, "12345", "540001", 0)
        order(h, "12345", "540002", 10)
        order(h, "12345", "540003", 10)
        h:advance("200d")

        assert.are.same({{user = "12345", day = 100, last_invoice = "540003", orders = 3}},
                        offers(h))
    end)

    it("ignores cancellations", function()
        order(h, "12345", "540001", 0)
        h:ingest{user = "12345", name = "shop/order_cancelled", ts = T0 + 10 * DAY,
                 data = {invoice = "C540002", total = 9.95}}
        h:advance("200d")

        assert.are.same({{user = "12345", day = 90, last_invoice = "540001", orders = 1}},
                        offers(h))
    end)

    it("keeps customers apart", function()
        order(h, "12345", "540001", 0)
        order(h, "67890", "540002", 50)
        h:advance("200d")

        assert.are.same({
            {user = "12345", day = 90, last_invoice = "540001", orders = 1},
            {user = "67890", day = 140, last_invoice = "540002", orders = 1},
        }, offers(h))
    end)

    it("waits while the quiet period lasts", function()
        order(h, "12345", "540001", 0)
        h:advance("89d")

        local runs = h:runs{journey = "winback"}
        assert.are.equal("waiting", runs[1].status)
        assert.are.same({}, offers(h))
    end)
end)
