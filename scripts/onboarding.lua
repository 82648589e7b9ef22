--[[
Onboarding: takes a new user from the submitted e-mail address to their
third post, and reminds them when they stall.

One run per user (the default key). The journey triggers on every event
("*"), so the user's first event starts the run, and the run reads the
user's whole history (since = "ever"). A user who is already further
along when the run starts passes the steps they have done at once.
After a run ends, the user's next event (of any name) starts a new run
that does the same, and the reminders already sent keep counting.

Steps, each with the user's events it waits for:
  1. app/account.created. The run waits 2^n seconds, where n is the
     number of onboarding/reminder events already sent to the user. On
     each timeout it emits another onboarding/reminder, so the waits are
     1 s, 2 s, 4 s, ... After MAX_ACCOUNT_REMINDERS reminders and one
     last wait it gives up.
  2. app/email.verified. The run waits 6 s, logs that the address is
     not verified yet, then waits up to PATIENCE without reminding.
  3. app/login, up to PATIENCE.
  4. app/post.created, three times. The first post may take up to
     PATIENCE. For each further post the run waits 2 s. On timeout it
     emits onboarding/post_reminder, then waits up to PATIENCE. That
     reminder has a name of its own so that it does not count in step 1.

The run returns {result = "onboarded"}, or {result = "stalled", step =
<event name>} when the last wait of a step timed out. The short waits
come from a demo that played the whole journey in under a minute.
]]
local journey = require "journey"

local MAX_ACCOUNT_REMINDERS = 5
local VERIFY_GRACE = 6     -- seconds
local NEXT_POST_GRACE = 2  -- seconds
local REQUIRED_POSTS = 3
local PATIENCE = "7d"

journey.define{
    name = "onboarding",
    on = "*",
    run = function(j, event)
        -- The trigger counts as already received, so wait_for never
        -- returns it, even with since = "ever". When the trigger is the
        -- event a step waits for, next_event hands it out instead.
        local trigger = event
        local function next_event(name, timeout)
            if trigger ~= nil and trigger.name == name then
                local found = trigger
                trigger = nil
                return found
            end
            return j.wait_for(name, {since = "ever", timeout = timeout})
        end

        -- 1. Account, with exponential backoff between reminders.
        while true do
            local sent = #j.events("onboarding/reminder", {since = "ever"})
            local timeout = 1 << sent
            if next_event("app/account.created", timeout) then
                break
            end
            if sent >= MAX_ACCOUNT_REMINDERS then
                return {result = "stalled", step = "app/account.created"}
            end
            j.log(("waited %ds for account.created, send reminder"):format(timeout))
            j.emit("onboarding/reminder", {step = "app/account.created", reminder = sent + 1})
        end

        -- 2. E-mail verification: no reminder, only a note in the log.
        if not next_event("app/email.verified", VERIFY_GRACE) then
            j.log(("waited %ds for email.verified"):format(VERIFY_GRACE))
            j.log("no email verified, wait for it")
            if not next_event("app/email.verified", PATIENCE) then
                return {result = "stalled", step = "app/email.verified"}
            end
        end

        -- 3. First login.
        if not next_event("app/login", PATIENCE) then
            return {result = "stalled", step = "app/login"}
        end

        -- 4. Posts: the first one, then a nudge for each further one.
        if not next_event("app/post.created", PATIENCE) then
            return {result = "stalled", step = "app/post.created"}
        end
        for post = 2, REQUIRED_POSTS do
            if not next_event("app/post.created", NEXT_POST_GRACE) then
                j.log(("waited %ds for post %d, reminder"):format(NEXT_POST_GRACE, post))
                j.emit("onboarding/post_reminder", {post = post})
                if not next_event("app/post.created", PATIENCE) then
                    return {result = "stalled", step = "app/post.created"}
                end
            end
        end

        j.log("end of workflow")
        return {result = "onboarded"}
    end,
}
