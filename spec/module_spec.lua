-- The spec host of the journey module: how h:ingest reads events, and
-- where a host without a start puts its clock.
local journey = require "journey"
local support = require "support"

describe("host:ingest", function()
  local h

  before_each(function()
    h = support.host()
  end)

  after_each(support.close_hosts)

  it("returns the sequence number of a stored event", function()
    assert.are.equal(1, h:ingest{user = "u1", name = "app/a"})
    assert.are.equal(2, h:ingest{user = "u1", event = "app/b"})
  end)

  it("reads a user table as id and attributes", function()
    h:ingest{user = {id = "u1", email = "ada@example.test"}, name = "app/a"}
    local event = h:events()[1]
    assert.are.equal("u1", event.user)
    assert.are.equal("ada@example.test", event.user_attributes.email)
  end)

  it("reads ts as seconds since 1970", function()
    h:ingest{user = "u1", name = "app/a", ts = 1704067200.5}
    assert.are.equal(1704067200.5, h:events()[1].ts)
  end)

  local rejected = {
    {"an empty user", {user = "", name = "app/a"}, '"user" must be a non-empty string'},
    {"a missing user", {name = "app/a"}, 'missing "user"'},
    {"an empty name", {user = "u1", name = ""}, '"name" must be a non-empty string'},
    {"a list as data", {user = "u1", name = "app/a", data = {1, 2}}, '"data" must be a JSON object'},
    {"a string as data", {user = "u1", name = "app/a", data = "s"}, '"data" must be a JSON object'},
    {"a bad ts", {user = "u1", name = "app/a", ts = "yesterday"}, "yesterday"},
  }
  for _, case in ipairs(rejected) do
    it("rejects " .. case[1], function()
      local ok, message = pcall(h.ingest, h, case[2])
      assert.is_false(ok)
      assert.matches(case[3], message, 1, true)
      assert.are.same({}, h:events())
    end)
  end
end)

describe("journey.host without a start", function()
  after_each(support.close_hosts)

  it("starts its clock at the first event", function()
    local h = journey.host{}
    h:ingest{user = "u1", name = "app/a", ts = "2010-12-01T08:26:00Z"}
    assert.are.equal(journey.time("2010-12-01T08:26:00Z"), h:now())
    h:close()
  end)

  it("starts at 2024-01-01 when the clock is read first", function()
    local h = journey.host{}
    assert.are.equal(journey.time("2024-01-01T00:00:00Z"), h:now())
    h:close()
  end)
end)
