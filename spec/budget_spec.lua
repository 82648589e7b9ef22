-- The guards on runs: the instruction budget between suspensions, and
-- the cap on a run's journal.
local support = require "support"

describe("instruction budget", function()
  after_each(support.close_hosts)

  it("fails a run that loops without waiting", function()
    local h = support.host{instruction_budget = 100000}
    h:define{name = "spin", on = "app/go", run = function()
      while true do end
    end}
    h:define{name = "fine", on = "app/go", run = function(j)
      return {result = "ok"}
    end}
    h:ingest{user = "u1", name = "app/go"}

    local spin = support.only_run(h, {journey = "spin"})
    assert.are.equal("failed", spin.status)
    assert.matches("exceeded its instruction budget of 100000 instructions", spin.error, 1, true)
    assert.are.equal("completed", support.only_run(h, {journey = "fine"}).status)
  end)

  it("cannot be caught by pcall", function()
    local h = support.host{instruction_budget = 100000}
    local caught = 0
    h:define{name = "sly", on = "app/go", run = function()
      while true do
        pcall(function() while true do end end)
        caught = caught + 1
      end
    end}
    h:ingest{user = "u1", name = "app/go"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.is_true(caught <= 1)
  end)

  it("counts the coroutines a run creates", function()
    local h = support.host{instruction_budget = 100000}
    h:define{name = "hidden", on = "app/go", run = function()
      coroutine.wrap(function()
        while true do end
      end)()
    end}
    h:define{name = "stubborn", on = "app/go", run = function()
      while true do
        pcall(coroutine.wrap(function()
          while true do end
        end))
      end
    end}
    h:define{name = "fine", on = "app/go", run = function()
      return {result = "ok"}
    end}
    h:ingest{user = "u1", name = "app/go"}

    for _, name in ipairs({"hidden", "stubborn"}) do
      local run = support.only_run(h, {journey = name})
      assert.are.equal("failed", run.status)
      assert.matches("exceeded its instruction budget of 100000 instructions", run.error, 1, true)
    end
    assert.are.equal("completed", support.only_run(h, {journey = "fine"}).status)
  end)

  it("starts again after each wait", function()
    local h = support.host{instruction_budget = 200000}
    h:define{name = "steady", on = "app/go", run = function(j)
      for _ = 1, 5 do
        for _ = 1, 20000 do end
        j.sleep("1m")
      end
      return {result = "done"}
    end}
    h:ingest{user = "u1", name = "app/go"}
    h:advance("10m")

    assert.are.equal("completed", support.only_run(h).status)
  end)
end)

describe("journal cap", function()
  after_each(support.close_hosts)

  it("fails a run whose journal would pass the cap", function()
    local h = support.host{max_journal = 10}
    h:define{name = "chatty", on = "app/go", run = function(j)
      for _ = 1, 11 do j.now() end
    end}
    h:ingest{user = "u1", name = "app/go"}

    local run = support.only_run(h)
    assert.are.equal("failed", run.status)
    assert.matches("run reached the journal cap of 10 steps", run.error, 1, true)
    assert.are.equal(10, run.steps)
  end)
end)
