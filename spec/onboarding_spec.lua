-- Plays scripts/onboarding_timeline.jsonl through scripts/onboarding.lua
-- and compares what happened with the sequence the original demo printed.
local cjson = require "cjson"
local journey = require "journey"

local SCRIPT = "scripts/onboarding.lua"
local TIMELINE = "scripts/onboarding_timeline.jsonl"

-- Short labels for the events of the demo's output.
local EVENT_LABELS = {
    ["app/email.submitted"] = "email submitted",
    ["app/account.created"] = "account created",
    ["app/email.verified"] = "email verified",
    ["app/login"] = "login",
    ["app/post.created"] = "post created",
    ["onboarding/reminder"] = "reminder",
}

local EXPECTED_SEQUENCE = {
    "email submitted",
    "waited 1s for account.created, send reminder",
    "reminder",
    "waited 2s for account.created, send reminder",
    "reminder",
    "waited 4s for account.created, send reminder",
    "reminder",
    "account created",
    "waited 6s for email.verified",
    "no email verified, wait for it",
    "email verified",
    "login",
    "post created",
    "waited 2s for post 2, reminder",
    "post created",
    "waited 2s for post 3, reminder",
    "post created",
    "end of workflow",
}

local function read_timeline(path)
    local events = {}
    for line in io.lines(path) do
        if line ~= "" then
            events[#events + 1] = cjson.decode(line)
        end
    end
    return events
end

-- Builds the demo's sequence from the trace: labelled events, and the
-- run's log lines.
local function sequence_of(trace)
    local sequence = {}
    for _, entry in ipairs(trace) do
        if entry.kind == "event" and EVENT_LABELS[entry.event] then
            sequence[#sequence + 1] = EVENT_LABELS[entry.event]
        elseif entry.kind == "log" then
            sequence[#sequence + 1] = entry.detail
        end
    end
    return sequence
end

-- Moves the clock a second at a time until no run is live, so every
-- wait can time out.
local function advance_until_done(h)
    for _ = 1, 3600 do
        if h:stats().runs_live == 0 then
            return
        end
        h:advance("1s")
    end
    error("runs still live an hour after the last event")
end

describe("onboarding journey", function()
    local h

    before_each(function()
        h = journey.host{start = "2024-01-01T00:00:00Z"}
        h:load(SCRIPT)
        for _, event in ipairs(read_timeline(TIMELINE)) do
            h:ingest(event)
        end
        advance_until_done(h)
    end)

    after_each(function()
        h:close()
    end)

    it("reproduces the demo sequence", function()
        assert.are.same(EXPECTED_SEQUENCE, sequence_of(h:trace()))
    end)

    it("completes one run as onboarded", function()
        local runs = h:runs{journey = "onboarding"}
        assert.are.equal(1, #runs)
        assert.are.equal("completed", runs[1].status)
        assert.are.equal("ada", runs[1].user)
        assert.are.same({result = "onboarded"}, runs[1].result)
        assert.are.equal(journey.time("2024-01-01T00:00:40Z"), runs[1].ended_at)
    end)

    it("sends reminders with exponential backoff", function()
        local reminders = h:events{name = "onboarding/reminder"}
        local times = {}
        for i, reminder in ipairs(reminders) do
            times[i] = journey.iso(reminder.ts)
            assert.are.equal(i, reminder.data.reminder)
        end
        assert.are.same({
            "2024-01-01T00:00:01Z",
            "2024-01-01T00:00:03Z",
            "2024-01-01T00:00:07Z",
        }, times)
    end)

    it("nudges for the second and third post", function()
        local nudges = h:events{name = "onboarding/post_reminder"}
        assert.are.equal(2, #nudges)
        assert.are.equal("2024-01-01T00:00:32Z", journey.iso(nudges[1].ts))
        assert.are.equal(2, nudges[1].data.post)
        assert.are.equal("2024-01-01T00:00:37Z", journey.iso(nudges[2].ts))
        assert.are.equal(3, nudges[2].data.post)
    end)

    it("starts no run for its own reminders", function()
        assert.are.equal(1, h:stats().journeys.onboarding.started)
    end)
end)

describe("onboarding journey with other histories", function()
    local h

    before_each(function()
        h = journey.host{start = "2024-01-01T00:00:00Z"}
        h:load(SCRIPT)
    end)

    after_each(function()
        h:close()
    end)

    it("gives up after five reminders", function()
        h:ingest{user = "bob", name = "app/email.submitted", ts = "2024-01-01T00:00:00Z"}
        h:advance("1h")

        local runs = h:runs{journey = "onboarding"}
        assert.are.equal(1, #runs)
        assert.are.same({result = "stalled", step = "app/account.created"}, runs[1].result)
        -- Waits of 1, 2, 4, 8 and 16 s, then a last wait of 32 s.
        assert.are.equal(5, #h:events{name = "onboarding/reminder"})
        assert.are.equal(journey.time("2024-01-01T00:01:03Z"), runs[1].ended_at)
    end)

    it("accepts the account event as trigger", function()
        h:ingest{user = "cy", name = "app/account.created", ts = "2024-01-01T00:00:00Z"}
        h:ingest{user = "cy", name = "app/email.verified", ts = "2024-01-01T00:00:01Z"}
        h:advance("1m")

        assert.are.equal(0, #h:events{name = "onboarding/reminder"})
        local runs = h:runs{journey = "onboarding", user = "cy"}
        assert.are.equal("waiting", runs[1].status)
        assert.are.same({"app/login"}, runs[1].waiting_for)
    end)

    it("finds earlier steps in the history", function()
        -- The first run stalls without an account. The second run starts
        -- with the account, eight days later, and finds the old login.
        h:ingest{user = "di", name = "app/login", ts = "2024-01-01T00:00:00Z"}
        h:advance("8d")
        h:ingest{user = "di", name = "app/account.created"}
        h:ingest{user = "di", name = "app/email.verified"}
        h:ingest{user = "di", name = "app/post.created"}
        h:ingest{user = "di", name = "app/post.created"}
        h:ingest{user = "di", name = "app/post.created"}
        h:advance("1m")

        local runs = h:runs{journey = "onboarding", user = "di"}
        assert.are.equal(2, #runs)
        assert.are.same({result = "stalled", step = "app/account.created"}, runs[1].result)
        assert.are.equal("completed", runs[2].status)
        assert.are.same({result = "onboarded"}, runs[2].result)
        assert.are.equal(journey.time("2024-01-09T00:00:00Z"), runs[2].ended_at)
    end)
end)
