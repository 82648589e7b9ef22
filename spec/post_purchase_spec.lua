local journey = require "journey"

local T0 = journey.time("2011-03-01T12:00:00Z")
local DAY = 24 * 3600

local function order(h, user, invoice, day)
    h:ingest{user = user, name = "shop/order_placed", ts = T0 + day * DAY,
             data = {invoice = invoice, country = "France", lines = 1, units = 2,
                     total = 5.9, currency = "GBP", items = {{"21731", 2, 2.95}}}}
end

local function cancellation(h, user, invoice, day)
    h:ingest{user = user, name = "shop/order_cancelled", ts = T0 + day * DAY,
             data = {invoice = invoice, country = "France", lines = 1, units = 2,
                     total = 5.9, currency = "GBP", items = {{"21731", 2, 2.95}}}}
end

-- Returns "invoice@day" for every review request, in order.
local function requests(h)
    local list = {}
    for _, event in ipairs(h:emitted()) do
        assert.are.equal("review/requested", event.name)
        list[#list + 1] = ("%s@%g"):format(event.data.invoice, (event.ts - T0) / DAY)
    end
    return list
end

local function statuses(h)
    local list = {}
    for i, run in ipairs(h:runs{journey = "post_purchase"}) do
        list[i] = run.status
    end
    return list
end

describe("post_purchase journey", function()
    local h

    before_each(function()
        h = journey.host{start = T0}
        h:load("scripts/post_purchase.lua")
    end)

    after_each(function()
        h:close()
    end)

    it("requests a review after seven days", function()
        order(h, "12680", "545001", 0)
        h:advance("10d")

        assert.are.same({"545001@7"}, requests(h))
        assert.are.same({"completed"}, statuses(h))
    end)

    it("sends nothing after a cancellation", function()
        order(h, "12680", "545001", 0)
        cancellation(h, "12680", "C545002", 2)
        h:advance("10d")

        assert.are.same({}, requests(h))
        assert.are.same({"cancelled"}, statuses(h))
    end)

    it("cancels at exactly seven days", function()
        order(h, "12680", "545001", 0)
        cancellation(h, "12680", "C545002", 7)
        h:advance("10d")

        assert.are.same({}, requests(h))
        assert.are.same({"cancelled"}, statuses(h))
    end)

    it("ignores a cancellation after the request", function()
        order(h, "12680", "545001", 0)
        cancellation(h, "12680", "C545002", 7.5)
        h:advance("10d")

        assert.are.same({"545001@7"}, requests(h))
        assert.are.same({"completed"}, statuses(h))
    end)

    it("ignores a cancellation before the order", function()
        cancellation(h, "12680", "C545000", 0)
        order(h, "12680", "545001", 0)
        h:advance("10d")

        assert.are.same({"545001@7"}, requests(h))
    end)

    it("runs once per order", function()
        order(h, "12680", "545001", 0)
        order(h, "12680", "545002", 1)
        h:advance("10d")

        assert.are.same({"545001@7", "545002@8"}, requests(h))
        assert.are.same({"completed", "completed"}, statuses(h))
    end)

    it("cancels every live run of the customer", function()
        order(h, "12680", "545001", 0)
        order(h, "12680", "545002", 3)
        cancellation(h, "12680", "C545003", 5)
        order(h, "12680", "545004", 6)
        h:advance("20d")

        assert.are.same({"545004@13"}, requests(h))
        assert.are.same({"cancelled", "cancelled", "completed"}, statuses(h))
    end)

    it("leaves other customers alone", function()
        order(h, "12680", "545001", 0)
        order(h, "17850", "545002", 0)
        cancellation(h, "17850", "C545003", 1)
        h:advance("10d")

        assert.are.same({"545001@7"}, requests(h))
        assert.are.same({"completed", "cancelled"}, statuses(h))
    end)
end)
