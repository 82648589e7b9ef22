-- Journeys for the server test: a wait that an event or the real clock
-- ends, and one that emits.
local journey = require "journey"

journey.define {
  name = "signup",
  on = "app/signed_up",
  run = function(j, event)
    local created = j.wait_for("app/account.created", { timeout = event.data.wait or "1h" })
    if created then
      j.emit("app/welcome", { plan = event.data.plan })
      return { result = "created" }
    end
    return { result = "timed_out" }
  end,
}
