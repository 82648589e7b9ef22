--[[
Trial expiry: reminds a user on a free trial before it ends, and marks
it expired, unless they subscribe.

Events:
  app/trial.started        {plan, days}  days defaults to 14
  app/subscription.created {plan}
  app/account.deleted      {}

The rule:
  - app/trial.started starts a run (one live run per user, the default
    key). The trial ends `days` days after that event.
  - The run emits trial/ending_soon {plan, days_left = 3} 3 days before
    the end and {days_left = 1} 1 day before it. A reminder whose time
    is already past when the trial starts (a trial of 3 days or less)
    is skipped.
  - At the end it emits trial/expired {plan} and completes with result
    "expired".
  - An app/subscription.created of the user at any time after the
    trial started ends the run with result "subscribed" and nothing
    more is sent. A subscription at exactly a reminder's time or at the
    end wins, since at the same instant events come before deadlines.
  - app/account.deleted cancels the run (cancel_on).
]]
local journey = require "journey"

local DAY = 24 * 60 * 60 -- seconds
local DEFAULT_TRIAL_DAYS = 14
local REMINDER_DAYS_LEFT = {3, 1}

journey.define{
    name = "trial_expiry",
    on = "app/trial.started",
    cancel_on = "app/account.deleted",
    run = function(j, event)
        local plan = event.data.plan
        local days = event.data.days or DEFAULT_TRIAL_DAYS
        if type(days) ~= "number" or days <= 0 then
            error(("app/trial.started: invalid days %s (a %s): expected a positive number")
                :format(type(days) == "string" and ("%q"):format(days) or tostring(days),
                        type(days)))
        end
        local trial_end = event.ts + days * DAY

        for _, days_left in ipairs(REMINDER_DAYS_LEFT) do
            local remind_in = trial_end - days_left * DAY - j.now()
            if remind_in > 0 then
                if j.wait_for("app/subscription.created", {timeout = remind_in}) then
                    return {result = "subscribed"}
                end
                j.emit("trial/ending_soon", {plan = plan, days_left = days_left})
            end
        end

        local ends_in = math.max(0, trial_end - j.now())
        if j.wait_for("app/subscription.created", {timeout = ends_in}) then
            return {result = "subscribed"}
        end
        j.emit("trial/expired", {plan = plan})
        return {result = "expired"}
    end,
}
