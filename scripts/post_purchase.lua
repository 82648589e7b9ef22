--[[
Post-purchase: asks for a review a week after each order, unless the
customer cancels first.

The rule:
  - Every shop/order_placed starts a run (key = false), so a customer
    with several orders in a week has several runs.
  - The run sleeps 7 days, then emits review/requested with the invoice
    and completes.
  - A shop/order_cancelled of the same customer cancels every live run
    of this journey for that customer (cancel_on). This includes one at
    exactly 7 days, since at the same instant events come before
    deadlines.

Cancellation is per customer, not per invoice, because in the UCI data
a cancellation is a credit note with its own number ("C" followed by
digits) that does not name the order it refunds.
]]
local journey = require "journey"

local REVIEW_DELAY = "7d"

journey.define{
    name = "post_purchase",
    on = "shop/order_placed",
    cancel_on = "shop/order_cancelled",
    key = false,
    run = function(j, event)
        j.sleep(REVIEW_DELAY)
        j.emit("review/requested", {invoice = event.data.invoice})
        return {result = "requested"}
    end,
}
