-- Matching event data against a `match` table: a subset match with
-- strict types, nested tables by value and dotted keys as paths.
local journey = require "journey"
local support = require "spec.support"

local match = journey.match

describe("journey.match", function()
  describe("subset", function()
    it("matches an equal table", function()
      assert.is_true(match({plan = "pro"}, {plan = "pro"}))
    end)

    it("ignores extra data fields", function()
      assert.is_true(match({plan = "pro"}, {plan = "pro", seats = 3}))
    end)

    it("requires every match field", function()
      assert.is_false(match({plan = "pro", seats = 3}, {plan = "pro"}))
    end)

    it("rejects a different value", function()
      assert.is_false(match({plan = "pro"}, {plan = "basic"}))
    end)

    it("matches anything with an empty table", function()
      assert.is_true(match({}, {plan = "pro"}))
      assert.is_true(match({}, {}))
    end)
  end)

  describe("types", function()
    it("tells a number from a string", function()
      assert.is_false(match({n = 1}, {n = "1"}))
      assert.is_false(match({n = "1"}, {n = 1}))
    end)

    it("tells a boolean from a string", function()
      assert.is_false(match({paid = true}, {paid = "true"}))
    end)

    it("compares integers and floats by value", function()
      assert.is_true(match({n = 7}, {n = 7.0}))
      assert.is_true(match({n = 7.0}, {n = 7}))
    end)

    it("tells false from a missing field", function()
      assert.is_false(match({paid = false}, {}))
    end)
  end)

  describe("nested tables", function()
    it("compares nested tables by value", function()
      assert.is_true(match({plan = {tier = "pro", seats = 3}},
                           {plan = {tier = "pro", seats = 3}}))
    end)

    it("rejects a nested table with extra fields", function()
      assert.is_false(match({plan = {tier = "pro"}},
                            {plan = {tier = "pro", seats = 3}}))
    end)

    it("compares lists by value", function()
      assert.is_true(match({tags = {"a", "b"}}, {tags = {"a", "b"}}))
      assert.is_false(match({tags = {"a", "b"}}, {tags = {"b", "a"}}))
    end)

    it("rejects a table for a scalar", function()
      assert.is_false(match({plan = {tier = "pro"}}, {plan = "pro"}))
    end)
  end)

  describe("dotted keys", function()
    it("follow a path into nested data", function()
      assert.is_true(match({["plan.tier"] = "pro"}, {plan = {tier = "pro", seats = 3}}))
    end)

    it("reject a different value at the path", function()
      assert.is_false(match({["plan.tier"] = "pro"}, {plan = {tier = "basic"}}))
    end)

    it("follow several levels", function()
      assert.is_true(match({["a.b.c"] = 1}, {a = {b = {c = 1}}}))
    end)

    it("treat a missing parent as a non-match", function()
      assert.is_false(match({["plan.tier"] = "pro"}, {}))
      assert.is_false(match({["a.b.c"] = 1}, {a = {}}))
    end)

    it("treat a scalar parent as a non-match", function()
      assert.is_false(match({["plan.tier"] = "pro"}, {plan = "pro"}))
      assert.is_false(match({["plan.tier"] = "pro"}, {plan = 5}))
    end)

    it("compare a table by value", function()
      assert.is_true(match({["user.plan"] = {tier = "pro"}}, {user = {plan = {tier = "pro"}}}))
    end)
  end)

  it("rejects data that is not a table", function()
    assert.is_false(match({plan = "pro"}, nil))
    assert.is_false(match({plan = "pro"}, "pro"))
  end)
end)

describe("match in j.wait_for", function()
  local h
  local got

  before_each(function()
    h = support.host()
    got = "unset"
    h:define{
      name = "upgrade",
      on = "app/signed_up",
      run = function(j)
        got = j.wait_for("app/plan_changed", {
          timeout = "1d",
          match = {["plan.tier"] = "pro", seats = 3},
        })
      end,
    }
    h:ingest{user = "u1", name = "app/signed_up"}
  end)

  after_each(support.close_hosts)

  it("wakes on stored data that matches", function()
    h:ingest{user = "u1", name = "app/plan_changed", data = {plan = {tier = "pro"}, seats = 3}}

    assert.are.equal("pro", got.data.plan.tier)
  end)

  it("matches later runs against the data as sent", function()
    -- The first run to wake changes its copy of the data. A second run
    -- waiting on the same event still matches the data as it was sent.
    local second
    h:define{
      name = "vandal",
      on = "app/signed_up",
      run = function(j)
        local event = j.wait_for("app/plan_changed", {timeout = "1d", match = {seats = 3}})
        event.data.seats = 4
        event.data.plan = nil
      end,
    }
    h:define{
      name = "second",
      on = "app/signed_up",
      run = function(j)
        second = j.wait_for("app/plan_changed", {timeout = "1d", match = {seats = 3}})
      end,
    }
    h:ingest{user = "u2", name = "app/signed_up"}
    h:ingest{user = "u2", name = "app/plan_changed", data = {plan = {tier = "pro"}, seats = 3}}

    assert.are.equal(3, second.data.seats)
    assert.are.equal("pro", second.data.plan.tier)
  end)

  it("keeps waiting on a type mismatch", function()
    h:ingest{user = "u1", name = "app/plan_changed", data = {plan = {tier = "pro"}, seats = "3"}}

    assert.are.equal("unset", got)
  end)

  it("keeps waiting when the parent is missing", function()
    h:ingest{user = "u1", name = "app/plan_changed", data = {seats = 3}}

    assert.are.equal("unset", got)
    assert.are.equal("waiting", support.only_run(h).status)
  end)

  it("matches a float written as an integer", function()
    h:ingest{user = "u1", name = "app/plan_changed", data = {plan = {tier = "pro"}, seats = 3.0}}

    assert.are.equal(3, got.data.seats)
  end)
end)
