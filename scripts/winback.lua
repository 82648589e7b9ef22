--[[
Win-back: makes an offer to a customer who has not ordered for 90 days.

The rule:
  - The first shop/order_placed of a customer starts a run (one live run
    per user, the default key).
  - The run waits up to 90 days for the customer's next order. Each
    order wakes the run, and the run waits another 90 days from that
    order. An order that wakes the run starts no second run.
  - When 90 days pass without an order, the run emits winback/offer and
    completes. The customer's next order starts a new run.
  - An order exactly 90 days after the previous one still counts, since
    at the same instant events come before deadlines.

shop/order_cancelled does not count as an order and is ignored.
]]
local journey = require "journey"

local QUIET_PERIOD = "90d"

journey.define{
    name = "winback",
    on = "shop/order_placed",
    run = function(j, event)
        local last = event
        local orders = 1
        while true do
            local next_order = j.wait_for("shop/order_placed", {timeout = QUIET_PERIOD})
            if next_order == nil then
                break
            end
            last = next_order
            orders = orders + 1
        end

        j.emit("winback/offer", {
            last_invoice = last.data.invoice,
            last_order_ts = last.ts,
            orders = orders,
        })
        return {result = "offered", orders = orders}
    end,
}
