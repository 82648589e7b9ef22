local journey = require "journey"

local T0 = journey.time("2024-01-01T10:00:00Z")
local HOUR = 3600
local DAY = 24 * HOUR

-- Returns the data of every event the journey emitted, with its time.
local function emitted(h)
    local list = {}
    for _, event in ipairs(h:emitted()) do
        list[#list + 1] = {
            name = event.name,
            user = event.user,
            at = event.ts - T0,
            aid = event.data.aid,
            reminder = event.data.reminder,
        }
    end
    return list
end

local function cart(h, user, aid, offset)
    h:ingest{user = user, name = "shop/cart_added", data = {aid = aid}, ts = T0 + offset}
end

local function order(h, user, aid, offset)
    h:ingest{user = user, name = "shop/order_placed", data = {aid = aid}, ts = T0 + offset}
end

describe("abandoned_cart journey", function()
    local h

    before_each(function()
        h = journey.host{start = T0}
        h:load("scripts/abandoned_cart.lua")
    end)

    after_each(function()
        h:close()
    end)

    it("stays quiet after an order within the hour", function()
        cart(h, "u1", 11, 0)
        order(h, "u1", 11, 20 * 60)
        h:advance("3d")

        local runs = h:runs{journey = "abandoned_cart"}
        assert.are.equal(1, #runs)
        assert.are.equal("completed", runs[1].status)
        assert.are.same({result = "ordered"}, runs[1].result)
        assert.are.same({}, emitted(h))
    end)

    it("reminds twice without an order", function()
        cart(h, "u1", 11, 0)
        h:advance("3d")

        assert.are.same({
            {name = "cart/abandoned", user = "u1", at = HOUR, aid = 11, reminder = 1},
            {name = "cart/abandoned", user = "u1", at = HOUR + DAY, aid = 11, reminder = 2},
        }, emitted(h))
        local runs = h:runs{journey = "abandoned_cart"}
        assert.are.same({result = "abandoned"}, runs[1].result)
        assert.are.equal(T0 + HOUR + DAY, runs[1].ended_at)
    end)

    it("stops after the first reminder on an order", function()
        cart(h, "u1", 11, 0)
        order(h, "u1", 12, 5 * HOUR)
        h:advance("3d")

        assert.are.same({
            {name = "cart/abandoned", user = "u1", at = HOUR, aid = 11, reminder = 1},
        }, emitted(h))
        assert.are.same({result = "ordered"}, h:runs{journey = "abandoned_cart"}[1].result)
    end)

    it("counts an order at exactly one hour", function()
        cart(h, "u1", 11, 0)
        order(h, "u1", 11, HOUR)
        h:advance("3d")

        assert.are.same({}, emitted(h))
        assert.are.same({result = "ordered"}, h:runs{journey = "abandoned_cart"}[1].result)
    end)

    it("counts an order at exactly 25 hours", function()
        cart(h, "u1", 11, 0)
        order(h, "u1", 11, HOUR + DAY)
        h:advance("3d")

        assert.are.equal(1, #emitted(h))
        assert.are.same({result = "ordered"}, h:runs{journey = "abandoned_cart"}[1].result)
    end)

    it("reminds after an order one millisecond late", function()
        cart(h, "u1", 11, 0)
        order(h, "u1", 11, HOUR + 0.001)
        h:advance("3d")

        assert.are.equal(1, #emitted(h))
        assert.are.equal(HOUR, emitted(h)[1].at)
    end)

    it("ignores orders of other users", function()
        cart(h, "u1", 11, 0)
        order(h, "u2", 11, 60)
        h:advance("3d")

        assert.are.equal(2, #emitted(h))
        assert.are.equal(1, #h:runs{journey = "abandoned_cart"})
    end)

    it("ignores orders before the cart addition", function()
        order(h, "u1", 10, 0)
        cart(h, "u1", 11, 60)
        h:advance("3d")

        assert.are.equal(2, #emitted(h))
    end)

    it("starts one run per user at a time", function()
        cart(h, "u1", 11, 0)
        cart(h, "u1", 12, 30 * 60)     -- during the first run: no run
        cart(h, "u1", 13, 2 * DAY)     -- after the first run ended
        h:advance("3d")

        local runs = h:runs{journey = "abandoned_cart"}
        assert.are.equal(2, #runs)
        assert.are.equal(T0, runs[1].started_at)
        assert.are.equal(T0 + 2 * DAY, runs[2].started_at)
        local aids = {}
        for i, event in ipairs(emitted(h)) do
            aids[i] = event.aid
        end
        assert.are.same({11, 11, 13, 13}, aids)
    end)

    it("starts no run for a cart addition at the end deadline", function()
        -- At the same instant the event comes first, while the run is live.
        cart(h, "u1", 11, 0)
        cart(h, "u1", 12, HOUR + DAY)
        h:advance("3d")

        assert.are.equal(1, #h:runs{journey = "abandoned_cart"})
    end)
end)
