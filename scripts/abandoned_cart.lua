--[[
Abandoned cart: reminds a shopper who added an article to the cart and
did not order.

The rule:
  - A shop/cart_added event starts a run, unless the user already has a
    live run of this journey (one live run per user, the default key).
    Cart additions during a live run start nothing.
  - The run waits up to 1 hour for any shop/order_placed of the user
    after the cart addition. An order at exactly 1 hour still counts,
    because at the same instant events come before deadlines.
  - Without an order it emits cart/abandoned {aid, reminder = 1}, then
    waits up to 1 more day for an order.
  - Still without an order it emits cart/abandoned {aid, reminder = 2}.
  - Every run completes, with result "ordered" or "abandoned", no later
    than 25 hours after its cart addition.

The order may be for any article: the event data of shop/order_placed
carries one article id, and a basket of several articles arrives as
several orders at the same time.
]]
local journey = require "journey"

local ORDER_WINDOW = "1h"
local REMINDER_WINDOW = "1d"

journey.define{
    name = "abandoned_cart",
    on = "shop/cart_added",
    run = function(j, event)
        local aid = event.data.aid

        if j.wait_for("shop/order_placed", {timeout = ORDER_WINDOW}) then
            return {result = "ordered"}
        end
        j.emit("cart/abandoned", {aid = aid, reminder = 1})

        if j.wait_for("shop/order_placed", {timeout = REMINDER_WINDOW}) then
            return {result = "ordered"}
        end
        j.emit("cart/abandoned", {aid = aid, reminder = 2})
        return {result = "abandoned"}
    end,
}
