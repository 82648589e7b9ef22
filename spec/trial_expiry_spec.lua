local journey = require "journey"

local T0 = journey.time("2024-03-01T09:30:00Z")
local DAY = 24 * 3600

local function event(h, user, name, day, data)
    h:ingest{user = user, name = name, ts = T0 + day * DAY, data = data}
end

-- Returns "name:days_left@day" for every emitted event, in order.
-- Event data comes back from JSON, so days_left is a float.
local function sent(h)
    local list = {}
    for _, e in ipairs(h:emitted()) do
        local days_left = e.data.days_left and ("%g"):format(e.data.days_left) or "nil"
        list[#list + 1] = ("%s:%s@%g"):format(e.name, days_left, (e.ts - T0) / DAY)
    end
    return list
end

local function only_run(h)
    local runs = h:runs{journey = "trial_expiry"}
    assert.are.equal(1, #runs)
    return runs[1]
end

describe("trial_expiry journey", function()
    local h

    before_each(function()
        h = journey.host{start = T0}
        h:load("scripts/trial_expiry.lua")
    end)

    after_each(function()
        h:close()
    end)

    it("reminds twice and expires", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = 14})
        h:advance("20d")

        assert.are.same({
            "trial/ending_soon:3@11",
            "trial/ending_soon:1@13",
            "trial/expired:nil@14",
        }, sent(h))
        local run = only_run(h)
        assert.are.same({result = "expired"}, run.result)
        assert.are.equal(T0 + 14 * DAY, run.ended_at)
        assert.are.equal("team", h:emitted()[3].data.plan)
    end)

    it("defaults to a 14-day trial", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team"})
        h:advance("20d")

        assert.are.equal("trial/expired:nil@14", sent(h)[3])
    end)

    it("sends nothing after an early subscription", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = 14})
        event(h, "u1", "app/subscription.created", 2, {plan = "team"})
        h:advance("20d")

        assert.are.same({}, sent(h))
        assert.are.same({result = "subscribed"}, only_run(h).result)
    end)

    it("stops after the first reminder", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = 14})
        event(h, "u1", "app/subscription.created", 12, {plan = "team"})
        h:advance("20d")

        assert.are.same({"trial/ending_soon:3@11"}, sent(h))
        assert.are.same({result = "subscribed"}, only_run(h).result)
    end)

    it("lets a subscription at a reminder time win", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = 14})
        event(h, "u1", "app/subscription.created", 11, {plan = "team"})
        h:advance("20d")

        assert.are.same({}, sent(h))
    end)

    it("lets a subscription at the end win", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = 14})
        event(h, "u1", "app/subscription.created", 14, {plan = "team"})
        h:advance("20d")

        assert.are.same({"trial/ending_soon:3@11", "trial/ending_soon:1@13"}, sent(h))
        assert.are.same({result = "subscribed"}, only_run(h).result)
    end)

    it("skips reminders that a short trial has passed", function()
        event(h, "u1", "app/trial.started", 0, {plan = "solo", days = 2})
        h:advance("5d")

        assert.are.same({"trial/ending_soon:1@1", "trial/expired:nil@2"}, sent(h))
    end)

    it("is cancelled when the account is deleted", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = 14})
        event(h, "u1", "app/account.deleted", 5, {})
        h:advance("20d")

        assert.are.same({}, sent(h))
        assert.are.equal("cancelled", only_run(h).status)
    end)

    it("ignores other users' subscriptions", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = 14})
        event(h, "u2", "app/subscription.created", 1, {plan = "team"})
        h:advance("20d")

        assert.are.equal(3, #sent(h))
    end)

    it("fails on an invalid trial length", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = "two weeks"})

        local run = only_run(h)
        assert.are.equal("failed", run.status)
        assert.truthy(run.error:find('invalid days "two weeks" (a string)', 1, true))
    end)

    it("names a number sent as text in the trial length's error", function()
        event(h, "u1", "app/trial.started", 0, {plan = "team", days = "14"})

        local run = only_run(h)
        assert.are.equal("failed", run.status)
        assert.truthy(run.error:find('invalid days "14" (a string)', 1, true))
    end)
end)
