-- j.call: actions that the embedding program answers, journaled like
-- steps.
local support = require "support"

describe("j.call", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  it("returns the value the action gives", function()
    local seen
    h:action("send_email", function(args)
      seen = args
      return {message_id = "m-" .. args.to}
    end)
    h:define{name = "mailer", on = "app/signed_up", run = function(j, event)
      local sent = j.call("send_email", {to = event.user, template = "welcome"})
      return {result = sent.message_id}
    end}
    h:ingest{user = "ada", name = "app/signed_up"}
    h:advance(0)

    local run = support.only_run(h)
    assert.are.equal("completed", run.status)
    assert.are.equal("m-ada", run.result.result)
    assert.are.same({to = "ada", template = "welcome"}, seen)
    assert.are.equal("call", h:run(run.id).journal[1].kind)
  end)

  it("raises the action's error in the run", function()
    h:action("charge", function() error("card declined", 0) end)
    h:define{name = "billing", on = "app/order", run = function(j)
      local ok, message = pcall(j.call, "charge", {amount = 10})
      return {result = ok and "charged" or message}
    end}
    h:ingest{user = "ada", name = "app/order"}
    h:advance(0)

    local run = support.only_run(h)
    assert.are.equal('j.call("charge") failed: card declined', run.result.result:match("j%.call.*"))
  end)

  it("fails a call to an unknown action", function()
    h:define{name = "lost", on = "app/x", run = function(j) j.call("nowhere") end}
    h:ingest{user = "ada", name = "app/x"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches('j.call("nowhere"): no action of that name is registered', run.error, 1, true)
  end)
end)
