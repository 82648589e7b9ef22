--[[
Recounts, in plain Lua, what winback and post_purchase do on the UCI
sample and what abandoned_cart does on the OTTO sample, then checks the
journey module's host and the `journey simulate` binary against it.

The recount follows the rules in each script's header and the
scheduler's rules that the simulator promises:
  - events are replayed in ts order (file order among equal ts);
  - a deadline fires strictly before an event at a later ts, so at the
    same instant the event comes first;
  - after the last event the clock runs on to a horizon 90 days later,
    and a deadline at or before the horizon fires. Runs still live at
    the horizon count as "waiting".

The binary comes from $JOURNEY_BIN, by default ./build/journey. Without
$JOURNEY_BIN and without ./build/journey, its checks are pending.
]]
local cjson = require "cjson"
local journey = require "journey"

local UCI_EVENTS = "data/uci-online-retail/events.jsonl"
local OTTO_EVENTS = "data/otto-sample/events.jsonl"
local DEFAULT_BIN = "./build/journey"

local SECOND = 1000 -- milliseconds
local HOUR = 3600 * SECOND
local DAY = 24 * HOUR
local HORIZON = 90 * DAY

-- Journey parameters, as set in the scripts.
local WINBACK_QUIET_PERIOD = 90 * DAY
local REVIEW_DELAY = 7 * DAY
local CART_ORDER_WINDOW = HOUR
local CART_REMINDER_WINDOW = DAY


-- Returns the number of days from 1970-01-01 to a proleptic Gregorian
-- date (Howard Hinnant's days_from_civil).
local function days_from_civil(year, month, day)
    if month <= 2 then
        year = year - 1
    end
    local era = (year >= 0 and year or year - 399) // 400
    local year_of_era = year - era * 400
    local day_of_year = (153 * (month + (month > 2 and -3 or 9)) + 2) // 5 + day - 1
    local day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468
end

-- Parses "YYYY-MM-DDTHH:MM:SS[.mmm]Z" into milliseconds since the epoch.
local function parse_time(text)
    local year, month, day, hour, minute, second, fraction =
        text:match("^(%d%d%d%d)-(%d%d)-(%d%d)T(%d%d):(%d%d):(%d%d)%.?(%d*)Z$")
    if year == nil then
        error(("invalid time %q: expected YYYY-MM-DDTHH:MM:SS[.mmm]Z"):format(text))
    end
    local ms = 0
    if fraction ~= "" then
        ms = tonumber((fraction .. "00"):sub(1, 3))
    end
    local days = days_from_civil(tonumber(year), tonumber(month), tonumber(day))
    return ((days * 24 + tonumber(hour)) * 60 + tonumber(minute)) * 60000
        + tonumber(second) * 1000 + ms
end

-- Reads a JSON Lines file of events. Returns the events sorted by ts
-- (file order among equal ts), each with name, user, ts in
-- milliseconds and its line number, and the number of lines read.
local function read_events(path)
    local events = {}
    for line in io.lines(path) do
        local record = cjson.decode(line)
        events[#events + 1] = {
            line = #events + 1,
            user = record.user,
            name = record.event or record.name,
            ts = parse_time(record.ts),
            record = record,
        }
    end
    local count = #events
    table.sort(events, function(a, b)
        if a.ts ~= b.ts then
            return a.ts < b.ts
        end
        return a.line < b.line
    end)
    return events, count
end

-- Groups the events whose name is in `names` by user, keeping order.
local function by_user(events, names)
    local groups = {}
    for _, event in ipairs(events) do
        if names[event.name] then
            local list = groups[event.user]
            if list == nil then
                list = {}
                groups[event.user] = list
            end
            list[#list + 1] = event
        end
    end
    return groups
end

local function new_figures()
    return {started = 0, completed = 0, failed = 0, cancelled = 0, waiting = 0}
end


-- winback: one run per customer from an order until 90 days pass
-- without the next order, then one winback/offer.
local function recount_winback(events, horizon)
    local figures = new_figures()
    local offers = 0

    for _, orders in pairs(by_user(events, {["shop/order_placed"] = true})) do
        local last = nil -- ts of the last order the live run saw
        for _, order in ipairs(orders) do
            if last ~= nil and order.ts > last + WINBACK_QUIET_PERIOD then
                offers = offers + 1
                figures.completed = figures.completed + 1
                last = nil
            end
            if last == nil then
                figures.started = figures.started + 1
            end
            last = order.ts
        end
        if last + WINBACK_QUIET_PERIOD <= horizon then
            offers = offers + 1
            figures.completed = figures.completed + 1
        else
            figures.waiting = figures.waiting + 1
        end
    end
    return figures, {["winback/offer"] = offers}
end


-- post_purchase: one run per order. A cancellation of the same
-- customer after the order and at most 7 days later cancels the run.
-- Otherwise review/requested goes out 7 days after the order.
local function recount_post_purchase(events, horizon)
    local figures = new_figures()
    local requests = 0
    local names = {["shop/order_placed"] = true, ["shop/order_cancelled"] = true}

    for _, list in pairs(by_user(events, names)) do
        for i, order in ipairs(list) do
            if order.name == "shop/order_placed" then
                figures.started = figures.started + 1
                local deadline = order.ts + REVIEW_DELAY
                local cancelled = false
                for k = i + 1, #list do
                    local later = list[k]
                    if later.ts > deadline then
                        break
                    end
                    if later.name == "shop/order_cancelled" then
                        cancelled = true
                        break
                    end
                end
                if cancelled then
                    figures.cancelled = figures.cancelled + 1
                elseif deadline <= horizon then
                    figures.completed = figures.completed + 1
                    requests = requests + 1
                else
                    figures.waiting = figures.waiting + 1
                end
            end
        end
    end
    return figures, {["review/requested"] = requests}
end


-- abandoned_cart: a cart addition starts a run when the user has none
-- live, and an order ends the run. Without an order, cart/abandoned
-- goes out after 1 hour and again 1 day later, and then the run ends.
local function recount_abandoned_cart(events, horizon)
    local figures = new_figures()
    local reminders = 0
    local names = {["shop/cart_added"] = true, ["shop/order_placed"] = true}

    for _, list in pairs(by_user(events, names)) do
        local run = nil -- {deadline =, reminders_sent =} while a run is live

        -- Fires the live run's deadlines before t, or at t too when
        -- `inclusive` (the horizon).
        local function fire_deadlines(t, inclusive)
            while run ~= nil and (run.deadline < t or (inclusive and run.deadline == t)) do
                reminders = reminders + 1
                run.reminders_sent = run.reminders_sent + 1
                if run.reminders_sent == 1 then
                    run.deadline = run.deadline + CART_REMINDER_WINDOW
                else
                    figures.completed = figures.completed + 1
                    run = nil
                end
            end
        end

        for _, event in ipairs(list) do
            fire_deadlines(event.ts, false)
            if event.name == "shop/order_placed" then
                if run ~= nil then
                    figures.completed = figures.completed + 1
                    run = nil
                end
            elseif run == nil then
                figures.started = figures.started + 1
                run = {deadline = event.ts + CART_ORDER_WINDOW, reminders_sent = 0}
            end
        end
        fire_deadlines(horizon, true)
        if run ~= nil then
            figures.waiting = figures.waiting + 1
        end
    end
    return figures, {["cart/abandoned"] = reminders}
end


-- Recounts the journeys of `recounts` (journey name -> function) over
-- one events file, in the shape of the simulator's --json summary.
local function recount(path, recounts)
    local events, count = read_events(path)
    local horizon = events[#events].ts + HORIZON
    local expected = {
        events_read = count,
        events_emitted = 0,
        journeys = {},
        emitted = {},
        first_ts = events[1].ts,
        horizon = horizon,
    }
    for name, recount_journey in pairs(recounts) do
        local figures, emitted = recount_journey(events, horizon)
        expected.journeys[name] = figures
        for event_name, n in pairs(emitted) do
            expected.emitted[event_name] = n
            expected.events_emitted = expected.events_emitted + n
        end
    end
    return expected
end


-- Runs scripts over an events file in the module's host, on a virtual
-- clock that starts at the first event, up to the horizon.
local function run_module_host(scripts, path, first_ts, horizon)
    local h = journey.host{start = first_ts / 1000}
    for _, script in ipairs(scripts) do
        h:load(script)
    end
    for line in io.lines(path) do
        h:ingest(cjson.decode(line))
    end
    h:advance_to(horizon / 1000)

    local stats = h:stats()
    local figures = {journeys = {}, emitted = {}, events_emitted = stats.events_emitted}
    for name, counts in pairs(stats.journeys) do
        figures.journeys[name] = {
            started = counts.started,
            completed = counts.completed,
            failed = counts.failed,
            cancelled = counts.cancelled,
            waiting = counts.started - counts.completed - counts.failed - counts.cancelled,
        }
    end
    for _, event in ipairs(h:emitted()) do
        figures.emitted[event.name] = (figures.emitted[event.name] or 0) + 1
    end
    h:close()
    return figures
end


-- Returns the simulator's path, or nil when the default one is absent.
local function simulator_path()
    local path = os.getenv("JOURNEY_BIN")
    if path == nil then
        local file = io.open(DEFAULT_BIN, "rb")
        if file == nil then
            return nil
        end
        file:close()
        return DEFAULT_BIN
    end
    local file = io.open(path, "rb")
    assert(file ~= nil, ("JOURNEY_BIN=%s: file not found"):format(path))
    file:close()
    return path
end

local function shell_quote(text)
    return "'" .. text:gsub("'", "'\\''") .. "'"
end

-- Runs `journey simulate SCRIPTS --events PATH --json [EXTRA...]` and
-- returns its decoded summary.
local function run_simulator(bin, scripts, path, extra)
    local words = {shell_quote(bin), "simulate"}
    for _, script in ipairs(scripts) do
        words[#words + 1] = shell_quote(script)
    end
    words[#words + 1] = "--events"
    words[#words + 1] = shell_quote(path)
    words[#words + 1] = "--json"
    for _, word in ipairs(extra or {}) do
        words[#words + 1] = shell_quote(word)
    end
    -- Standard error goes to a file, so that warnings the replay is
    -- expected to give do not break up busted's progress line.
    local errors = os.tmpname()
    local command = table.concat(words, " ") .. " 2> " .. shell_quote(errors)

    local pipe = assert(io.popen(command, "r"))
    local output = pipe:read("a")
    local ok, how, code = pipe:close()
    local file = io.open(errors)
    local err = file ~= nil and file:read("a") or ""
    if file ~= nil then
        file:close()
    end
    os.remove(errors)
    assert(ok, ("%s: exited with %s %s; output: %s%s"):format(command, how, code, output, err))
    local decoded, summary = pcall(cjson.decode, output)
    assert(decoded, ("%s: output is not JSON (%s): %s%s"):format(command, summary, output, err))
    return summary
end


local DATA_SETS = {
    {
        label = "UCI sample",
        path = UCI_EVENTS,
        scripts = {"scripts/winback.lua", "scripts/post_purchase.lua"},
        recounts = {winback = recount_winback, post_purchase = recount_post_purchase},
        -- The recount's figures for the shipped sample, so a change to
        -- the data or to the recount shows up.
        pinned = {
            journeys = {
                winback = {started = 612, completed = 612, failed = 0, cancelled = 0,
                           waiting = 0},
                post_purchase = {started = 1711, completed = 1552, failed = 0, cancelled = 159,
                                 waiting = 0},
            },
            emitted = {["winback/offer"] = 612, ["review/requested"] = 1552},
        },
    },
    {
        label = "OTTO sample",
        path = OTTO_EVENTS,
        scripts = {"scripts/abandoned_cart.lua"},
        recounts = {abandoned_cart = recount_abandoned_cart},
        pinned = {
            journeys = {
                abandoned_cart = {started = 16, completed = 16, failed = 0, cancelled = 0,
                                  waiting = 0},
            },
            emitted = {["cart/abandoned"] = 26},
        },
    },
}

for _, set in ipairs(DATA_SETS) do
    describe("sample counts on the " .. set.label, function()
        local expected = recount(set.path, set.recounts)

        it("match the pinned recount", function()
            assert.are.same(set.pinned.journeys, expected.journeys)
            assert.are.same(set.pinned.emitted, expected.emitted)
        end)

        it("match the module host", function()
            local actual = run_module_host(set.scripts, set.path, expected.first_ts,
                                           expected.horizon)
            assert.are.same(expected.journeys, actual.journeys)
            assert.are.same(expected.emitted, actual.emitted)
            assert.are.equal(expected.events_emitted, actual.events_emitted)
        end)

        it("match the simulator", function()
            local bin = simulator_path()
            if bin == nil then
                pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
                return
            end
            local summary = run_simulator(bin, set.scripts, set.path)

            assert.are.equal(expected.events_read, summary.events_read)
            assert.are.equal(0, summary.events_rejected)
            assert.are.equal(0, summary.events_duplicate)
            assert.are.equal(expected.events_emitted, summary.events_emitted)
            assert.are.same(expected.journeys, summary.journeys)
            assert.are.same(expected.emitted, summary.emitted)
            assert.are.equal(expected.horizon, parse_time(summary["until"]))
        end)

        it("write the same emitted events in every run", function()
            local bin = simulator_path()
            if bin == nil then
                pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
                return
            end
            -- Lua visits table keys in an order seeded anew in each
            -- process. Four runs that agree byte for byte show that the
            -- encoder does not depend on it.
            local texts = {}
            for run = 1, 4 do
                local path = os.tmpname()
                run_simulator(bin, set.scripts, set.path, {"--emitted", path, "--quiet"})
                local file = assert(io.open(path, "rb"))
                texts[run] = file:read("a")
                file:close()
                os.remove(path)
            end

            local lines = select(2, texts[1]:gsub("\n", ""))
            assert.are.equal(expected.events_emitted, lines)
            for run = 2, 4 do
                assert.are.equal(texts[1], texts[run])
            end
        end)

        it("match the simulator with two jobs", function()
            local bin = simulator_path()
            if bin == nil then
                pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
                return
            end
            local summary = run_simulator(bin, set.scripts, set.path, {"--jobs", "2"})

            assert.are.equal(2, summary.jobs)
            assert.are.equal(expected.events_read, summary.events_read)
            assert.are.equal(expected.events_emitted, summary.events_emitted)
            assert.are.same(expected.journeys, summary.journeys)
            assert.are.same(expected.emitted, summary.emitted)
            assert.are.equal(expected.horizon, parse_time(summary["until"]))
        end)

        it("match the simulator on the input in another order", function()
            local bin = simulator_path()
            if bin == nil then
                pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
                return
            end
            -- The second half first, cut where the time changes, so that
            -- events with equal times keep their order and the replay
            -- must sort to count the same.
            local lines = {}
            for line in io.lines(set.path) do
                lines[#lines + 1] = line
            end
            local cut = #lines // 2
            local function ts_of(line)
                return line:match('"ts":"([^"]*)"') or line:match('"ts":(%d+)')
            end
            while cut < #lines and ts_of(lines[cut]) == ts_of(lines[cut + 1]) do
                cut = cut + 1
            end
            local path = os.tmpname()
            local file = assert(io.open(path, "w"))
            for i = cut + 1, #lines do
                file:write(lines[i], "\n")
            end
            for i = 1, cut do
                file:write(lines[i], "\n")
            end
            file:close()

            local summary = run_simulator(bin, set.scripts, path)
            os.remove(path)

            assert.are.equal(expected.events_read, summary.events_read)
            assert.are.equal(expected.events_emitted, summary.events_emitted)
            assert.are.same(expected.journeys, summary.journeys)
            assert.are.same(expected.emitted, summary.emitted)
        end)

        it("match the simulator with a resident limit of 3", function()
            local bin = simulator_path()
            if bin == nil then
                pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
                return
            end
            local summary = run_simulator(bin, set.scripts, set.path, {"--resident-runs", "3"})

            assert.are.equal(3, summary.resident_runs)
            assert.is_true(summary.rebuilds > 0, "no run was rebuilt")
            assert.are.equal(expected.events_emitted, summary.events_emitted)
            assert.are.same(expected.journeys, summary.journeys)
            assert.are.same(expected.emitted, summary.emitted)
        end)
    end)
end


describe("journey simulate", function()
    local dir

    before_each(function()
        dir = os.tmpname()
        os.remove(dir)
        assert(os.execute("mkdir " .. shell_quote(dir)))
    end)

    after_each(function()
        os.execute("rm -rf " .. shell_quote(dir))
    end)

    -- Runs the simulator and returns its exit status and standard error.
    local function simulate(bin, args)
        local command = shell_quote(bin) .. " simulate " .. args .. " 2> " ..
            shell_quote(dir .. "/stderr") .. " > /dev/null"
        local ok, _, code = os.execute(command)
        local file = assert(io.open(dir .. "/stderr"))
        local err = file:read("a")
        file:close()
        return ok and 0 or code, err
    end

    it("refuses a journey that emits for a user another job replays", function()
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local script = assert(io.open(dir .. "/refer.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define {
  name = "refer",
  on = "app/referred",
  run = function(j, event)
    j.emit("app/invited", {by = j.user}, event.data.friend)
  end,
}
]])
        script:close()
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        for n = 1, 20 do
            events:write(('{"user":"u%d","name":"app/referred","ts":%d,"data":{"friend":"f%d"}}\n')
                :format(n, 1700000000000 + n, n))
        end
        events:close()
        local args = shell_quote(dir .. "/refer.lua") .. " --events " ..
            shell_quote(dir .. "/events.jsonl")

        local code, err = simulate(bin, args .. " --jobs 2")
        assert.are.equal(1, code)
        assert.matches("emitted app/invited for user f", err, 1, true)
        assert.matches("run this replay without --jobs", err, 1, true)

        code = simulate(bin, args)
        assert.are.equal(0, code)
    end)

    -- Runs `journey simulate ARGS` and returns, in order, what pick
    -- returns for the lines of its transcript, leaving out nil.
    local function transcript_picks(bin, args, pick)
        local pipe = assert(io.popen(shell_quote(bin) .. " simulate " .. args .. " 2> /dev/null",
                                     "r"))
        local picked = {}
        for line in pipe:lines() do
            picked[#picked + 1] = pick(line)
        end
        assert(pipe:close())
        return picked
    end

    -- Writes none.lua: a journey that no event starts, for replays that
    -- only read their input.
    local function write_idle_script()
        local script = assert(io.open(dir .. "/none.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define { name = "none", on = "app/never", run = function() end }
]])
        script:close()
    end

    it("reports invalid lines in input order with their numbers", function()
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        write_idle_script()
        -- 60 lines: every tenth is not JSON, and line 35 lacks its ts.
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        for n = 1, 60 do
            if n % 10 == 0 then
                events:write("not json\n")
            elseif n == 35 then
                events:write('{"user":"u35","name":"app/seen"}\n')
            else
                events:write(('{"user":"u%d","name":"app/seen","ts":%d}\n')
                    :format(n, 1700000000000 + n))
            end
        end
        events:close()
        local args = shell_quote(dir .. "/none.lua") .. " --events " ..
            shell_quote(dir .. "/events.jsonl")

        for _, jobs in ipairs({"1", "2", "3"}) do
            local code, err = simulate(bin, args .. " --jobs " .. jobs)
            assert.are.equal(0, code)
            local numbers = {}
            for number in err:gmatch("events%.jsonl:(%d+): ") do
                numbers[#numbers + 1] = tonumber(number)
            end
            assert.are.same({10, 20, 30, 35, 40, 50, 60}, numbers)
            assert.matches('events.jsonl:35: missing "ts"', err, 1, true)
        end

        local code, err = simulate(bin, args .. " --jobs 2 --strict")
        assert.are.equal(1, code)
        assert.matches("events.jsonl:10: ", err, 1, true)
        assert.is_nil(err:find("events.jsonl:20: ", 1, true))
        assert.matches("stopped at the first invalid line (--strict)", err, 1, true)
    end)

    it("skips a byte order mark at the start of the input", function()
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        write_idle_script()
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        events:write('\239\187\191{"user":"u1","name":"app/seen","ts":1700000000001}\n')
        events:write('{"user":"u2","name":"app/seen","ts":1700000000002}\n')
        events:close()

        local code, err = simulate(bin, shell_quote(dir .. "/none.lua") .. " --events " ..
            shell_quote(dir .. "/events.jsonl") .. " --strict")
        assert.are.equal(0, code)
        assert.are.equal("", err)
        local summary = run_simulator(bin, {dir .. "/none.lua"}, dir .. "/events.jsonl")
        assert.are.equal(2, summary.events_read)
        assert.are.equal(0, summary.events_rejected)
    end)

    it("points a JSON array to JSON Lines, and fails without a valid line", function()
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        write_idle_script()
        local array = assert(io.open(dir .. "/array.json", "w"))
        array:write('[\n  {"user":"u1","name":"app/seen","ts":1700000000001},\n' ..
                    '  {"user":"u2","name":"app/seen","ts":1700000000002}\n]\n')
        array:close()
        local invalid = assert(io.open(dir .. "/invalid.jsonl", "w"))
        invalid:write('user,name\nu1,app/seen\n')
        invalid:close()
        local script = shell_quote(dir .. "/none.lua")

        -- The last element has no comma after it, so one line is valid.
        local code, err = simulate(bin, script .. " --events " .. shell_quote(dir .. "/array.json"))
        assert.are.equal(0, code)
        assert.matches("array.json looks like one JSON array, but the input is JSON Lines, " ..
                       "one event object per line: convert it with jq -c '.[]'", err, 1, true)

        code, err = simulate(bin, script .. " --events " .. shell_quote(dir .. "/invalid.jsonl"))
        assert.are.equal(1, code)
        assert.matches("no line of .*invalid.jsonl is a valid event; nothing to replay", err)
        assert.is_nil(err:find("looks like one JSON array", 1, true))
    end)

    it("shows the first 20 invalid lines and counts the rest", function()
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        write_idle_script()
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        for n = 1, 50 do
            events:write(n % 2 == 0 and "[]\n" or
                ('{"user":"u%d","name":"app/seen","ts":%d}\n'):format(n, 1700000000000 + n))
        end
        events:close()

        local command = shell_quote(bin) .. " simulate " .. shell_quote(dir .. "/none.lua") ..
            " --events " .. shell_quote(dir .. "/events.jsonl") .. " --jobs 2 --json 2> " ..
            shell_quote(dir .. "/stderr")
        local pipe = assert(io.popen(command, "r"))
        local summary = cjson.decode(pipe:read("a"))
        pipe:close()
        local file = assert(io.open(dir .. "/stderr"))
        local err = file:read("a")
        file:close()

        -- --strict stops at the first, with no word of the rest, however
        -- many follow.
        local invalid = assert(io.open(dir .. "/invalid.jsonl", "w"))
        invalid:write(("[]\n"):rep(45))
        invalid:close()
        local strict_code, strict_err = simulate(bin, shell_quote(dir .. "/none.lua") ..
            " --events " .. shell_quote(dir .. "/invalid.jsonl") .. " --strict")
        assert.are.equal(1, strict_code)
        assert.is_nil(strict_err:find("further invalid lines", 1, true))
        assert.matches("invalid.jsonl:1: ", strict_err, 1, true)

        local _, shown_lines = err:gsub("events%.jsonl:%d+: ", "")
        local _, further = err:gsub("further invalid lines are not shown", "")
        assert.are.equal(20, shown_lines)
        assert.are.equal(1, further)
        assert.are.equal(25, summary.events_rejected)
        assert.are.equal(50, summary.events_read)
        assert.matches("events.jsonl:40: ", err, 1, true)
        assert.is_nil(err:find("events.jsonl:42: ", 1, true))
    end)

    it("tells a script's own coroutine from a run in its own Lua state", function()
        -- journey simulate creates its Lua state itself, where a run is
        -- found through its coroutine's extra space rather than a table.
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local script = assert(io.open(dir .. "/inner.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define {
  name = "inner",
  on = "app/started",
  run = function(j)
    j.sleep("1h")
    return coroutine.wrap(function() return j.now() end)()
  end,
}
]])
        script:close()
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        events:write('{"user":"u1","name":"app/started","ts":1700000000000}\n')
        events:close()

        local code, err = simulate(bin, shell_quote(dir .. "/inner.lua") .. " --events " ..
            shell_quote(dir .. "/events.jsonl"))
        assert.are.equal(0, code)
        assert.matches("j.now called outside a run", err, 1, true)
    end)

    it("keeps an event a live run took from before its trigger", function()
        -- Retention deletes events older than the oldest live trigger,
        -- but a run that took an older event with since needs it again
        -- whenever it is replayed: here at its wake, when the event it
        -- took 31 days back is 102 days old, past the default 90 days.
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local script = assert(io.open(dir .. "/back.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define {
  name = "back",
  on = "app/start",
  run = function(j)
    local old = j.wait_for("app/old", {since = "ever", timeout = "200d"})
    local x = j.wait_for("app/x", {timeout = "200d"})
    return {result = (old and "old" or "none") .. (x and "x" or "none")}
  end,
}
]])
        script:close()
        local lines = {'{"user":"u1","name":"app/old","ts":"2024-03-10T00:00:00Z"}'}
        local function noise(day)
            for n = 1, 50 do
                lines[#lines + 1] = ('{"user":"u3","name":"app/noise","ts":"%sT01:%02d:00Z"}')
                    :format(day, n % 60)
            end
        end
        noise("2024-03-11")
        lines[#lines + 1] = '{"user":"u1","name":"app/start","ts":"2024-04-10T00:00:00Z"}'
        lines[#lines + 1] = '{"user":"u2","name":"app/start","ts":"2024-04-10T00:00:01Z"}'
        noise("2024-06-19")
        lines[#lines + 1] = '{"user":"u1","name":"app/x","ts":"2024-06-20T00:00:00Z"}'
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        events:write(table.concat(lines, "\n"), "\n")
        events:close()

        local summary = run_simulator(bin, {dir .. "/back.lua"}, dir .. "/events.jsonl",
                                      {"--resident-runs", "1", "--commit-every", "1",
                                       "--until", "2024-06-21T00:00:00Z"})
        assert.are.same({started = 2, completed = 1, failed = 0, cancelled = 0, waiting = 1},
                        summary.journeys.back)
        assert.is_true(summary.pruned_events > 0, "retention deleted nothing")
    end)

    it("reads the same past whenever retention runs", function()
        -- A run counts its user's orders since ever. Retention deletes
        -- old orders only every few commit groups, so without a window on
        -- what runs read, the counts followed --commit-every and --jobs.
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local script = assert(io.open(dir .. "/count.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define {
  name = "count",
  on = "shop/order_placed",
  key = false,
  run = function(j)
    return {n = #j.events("shop/order_placed", {since = "ever"})}
  end,
}
]])
        script:close()
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        local start = 1704067200000
        for i = 0, 199 do
            local ts = start + i * 6 * HOUR
            events:write(('{"id":"a%d","user":"a","name":"shop/order_placed","ts":%d}\n')
                :format(i, ts))
            for k = 0, 4 do
                events:write(('{"id":"f%d_%d","user":"f%d","name":"shop/viewed","ts":%d}\n')
                    :format(i, k, k, ts + (k + 1) * SECOND))
            end
        end
        events:close()

        -- Returns the transcript's lines with the results, sorted.
        local function results(extra)
            local lines = transcript_picks(bin, shell_quote(dir .. "/count.lua") .. " --events " ..
                shell_quote(dir .. "/events.jsonl") .. " --retention 2d " .. extra,
                function(line)
                    local ts, result = line:match("^(%S+)%s+count #%d+ a%s+completed (.*)$")
                    return ts ~= nil and ts .. " " .. result or nil
                end)
            table.sort(lines)
            return lines
        end

        local one = results("--commit-every 5")
        assert.are.equal(200, #one)
        -- Two days of orders every 6 hours, the current one included.
        assert.are.equal('2024-01-05T06:00:00Z {"n":9}', one[18])
        assert.are.same(one, results("--commit-every 500"))
        assert.are.same(one, results("--commit-every 5 --jobs 2"))
    end)

    it("reads within the retention window after a resume too", function()
        -- A run that waits across the stop of a durable replay is
        -- restored at the start, before the first prune. Its wait must
        -- not see further back then than a replay in one go does.
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local script = assert(io.open(dir .. "/probe.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define { name = "long", on = "app/start",
  run = function(j) j.wait_for("app/never", {timeout = "365d"}) end }
journey.define { name = "probe", on = "app/t",
  run = function(j)
    local got = j.wait_for("app/x", {since = "ever", timeout = "1d"})
    return {found = got ~= nil}
  end }
]])
        script:close()
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        events:write('{"user":"u","name":"app/start","id":"s","ts":"2026-01-01T00:00:00Z"}\n',
                     '{"user":"u","name":"app/x","id":"x","ts":"2026-01-02T00:00:00Z"}\n',
                     '{"user":"u","name":"app/t","id":"t","ts":"2026-04-12T00:00:00Z"}\n')
        events:close()

        -- Returns the result line of the probe run.
        local function probe_result(store, until_text)
            local results = transcript_picks(bin, shell_quote(dir .. "/probe.lua") .. " --events " ..
                shell_quote(dir .. "/events.jsonl") .. " --until " .. until_text ..
                (store and (" --store sqlite:" .. shell_quote(store)) or ""),
                function(line) return line:match("probe #%d+ u%s+completed (.*)$") end)
            return results[#results]
        end

        assert.are.equal('{"found":false}', probe_result(nil, "2026-04-15T00:00:00Z"))
        local store = dir .. "/staged.db"
        assert.is_nil(probe_result(store, "2026-04-12T01:00:00Z"))
        assert.are.equal('{"found":false}', probe_result(store, "2026-04-15T00:00:00Z"))
    end)

    it("lets since = ever see what the default since sees", function()
        -- The run sleeps past the retention period. Its own events from
        -- its trigger on are kept, so since = "ever" must still see them.
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local script = assert(io.open(dir .. "/ever.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define { name = "ever", on = "app/start",
  run = function(j)
    j.sleep("100d")
    return {ever = #j.events("app/x", {since = "ever"}), run = #j.events("app/x")}
  end }
]])
        script:close()
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        events:write('{"user":"u","name":"app/start","ts":"2026-01-01T00:00:00Z"}\n',
                     '{"user":"u","name":"app/x","ts":"2026-01-02T00:00:00Z"}\n')
        events:close()
        local results = transcript_picks(bin, shell_quote(dir .. "/ever.lua") .. " --events " ..
            shell_quote(dir .. "/events.jsonl") .. " --until 200d",
            function(line) return line:match("ever #1 u%s+completed (.*)$") end)
        assert.are.equal(1, #results)
        assert.are.same({ever = 1, run = 1}, cjson.decode(results[1]))
    end)

    it("resumes an appended input without replaying its last event", function()
        -- Stage one stops at its last event, which has no id. The input
        -- then grows by one line, so the second stage cannot resume by
        -- position: it must skip the event at the resumed clock too.
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local script = assert(io.open(dir .. "/welcome.lua", "w"))
        script:write([[
local journey = require "journey"
journey.define {
  name = "welcome",
  on = "app/signed_up",
  key = false,
  run = function(j) j.emit("app/welcomed", {}) end,
}
]])
        script:close()
        local lines = {
            '{"user":"41","name":"app/signed_up","ts":"2024-05-01T08:00:00Z"}',
            '{"user":"42","name":"app/signed_up","ts":"2024-05-01T09:00:00Z"}',
        }
        local function write_events()
            local events = assert(io.open(dir .. "/events.jsonl", "w"))
            events:write(table.concat(lines, "\n"), "\n")
            events:close()
        end
        local extra = {"--store", "sqlite:" .. dir .. "/s.db", "--emitted", dir .. "/emitted.jsonl"}

        -- A file left from another replay is started afresh with a new store.
        local stale = assert(io.open(dir .. "/emitted.jsonl", "w"))
        stale:write('{"user":"old","name":"app/welcomed","ts":"2020-01-01T00:00:00Z","data":{}}\n')
        stale:close()
        write_events()
        local first = run_simulator(bin, {dir .. "/welcome.lua"}, dir .. "/events.jsonl", extra)
        lines[#lines + 1] = '{"user":"44","name":"app/signed_up","ts":"2024-05-03T08:00:00Z"}'
        write_events()
        local second = run_simulator(bin, {dir .. "/welcome.lua"}, dir .. "/events.jsonl", extra)

        assert.are.equal(2, first.runs_started)
        assert.are.equal(1, second.runs_started)
        -- The emitted file gains the new run's event and keeps the others.
        local users = {}
        for line in io.lines(dir .. "/emitted.jsonl") do
            users[#users + 1] = cjson.decode(line).user
        end
        assert.are.same({"41", "42", "44"}, users)
    end)

    it("counts the runs that a resume parked", function()
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local function write_script(path, steps)
            local script = assert(io.open(path, "w"))
            script:write('local journey = require "journey"\n' ..
                'journey.define { name = "a", on = "app/start", run = function(j)\n' ..
                steps .. '\n  j.wait_for("app/next", {timeout = "30d"})\nend }\n')
            script:close()
        end
        write_script(dir .. "/waits.lua", "")
        write_script(dir .. "/sleeps.lua", '  j.sleep("1d")')
        local events = assert(io.open(dir .. "/events.jsonl", "w"))
        events:write('{"id":"1","user":"u1","name":"app/start","ts":"2024-01-01T00:00:00Z"}\n')
        events:write('{"id":"2","user":"u2","name":"app/start","ts":"2024-01-01T00:00:01Z"}\n')
        events:close()
        -- The clock stops before the waits time out, so the runs stay
        -- live in the store.
        local store = {"--store", "sqlite:" .. dir .. "/s.db", "--until", "2024-01-01T01:00:00Z"}

        local first = run_simulator(bin, {dir .. "/waits.lua"}, dir .. "/events.jsonl", store)
        -- The same runs under a script that sleeps first diverge from
        -- their journals.
        local second = run_simulator(bin, {dir .. "/sleeps.lua"}, dir .. "/events.jsonl", store)

        assert.are.equal(0, first.runs_parked)
        assert.are.equal(2, second.runs_parked)
        assert.are.equal(2, second.journeys.a.waiting)
    end)

    it("needs the memory store", function()
        local bin = simulator_path()
        if bin == nil then
            pending(DEFAULT_BIN .. " not found; build it or set JOURNEY_BIN")
            return
        end
        local code, err = simulate(bin, "scripts/winback.lua --events " .. UCI_EVENTS ..
            " --jobs 2 --store sqlite:" .. shell_quote(dir .. "/s.db"))
        assert.are.equal(2, code)
        assert.matches("--jobs 2 needs the memory store", err, 1, true)
    end)
end)
