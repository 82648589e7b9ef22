-- Journeys for the crash test: every kind of step that must happen
-- exactly once across restarts (step, emit), waits that events and
-- deadlines end, and a journey that emitted events start.
local journey = require "journey"

journey.define {
  name = "order_flow",
  on = "shop/order_placed",
  key = "data.order",
  run = function(j, order)
    local id = order.data.order
    -- The step's result is derived from the order, so a run that was
    -- never killed computes the same one.
    local reservation = j.step("reserve", function()
      return { order = id, code = tonumber(id) * 7919 % 1000003 }
    end)
    j.emit("shop/reserved", { order = id, code = reservation.code })

    local paid = j.wait_for("shop/paid", { match = { order = id }, timeout = "2h" })
    if not paid then
      j.emit("shop/expired", { order = id })
      return { result = "expired" }
    end

    local parcel = j.step("ship", function() return "parcel-" .. id end)
    j.sleep("30m")
    j.emit("shop/shipped", { order = id, parcel = parcel })
    return { result = "shipped", parcel = parcel }
  end,
}

journey.define {
  name = "loyalty",
  on = "shop/shipped",
  run = function(j)
    j.sleep("1d")
    local shipped = j.events("shop/shipped", { since = "ever" })
    j.emit("loyalty/points", { orders = #shipped })
    return { result = #shipped }
  end,
}
