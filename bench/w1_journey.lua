-- W1 over HTTP: each run waits for its account to be created, matched on
-- the e-mail, then emits app/observed; the emitted event's ts is the
-- moment the run saw its event.
local journey = require "journey"

journey.define {
  name = "w1",
  on = "app/started",
  run = function(j, e)
    local created = j.wait_for("app/account.created",
                               { match = { email = e.data.email }, timeout = "1h" })
    j.emit("app/observed", { n = e.data.n, created = created ~= nil })
  end,
}
