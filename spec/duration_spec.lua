-- Durations as journeys write them (numbers of seconds, "2d", "1h 30m",
-- "1mo"), and times (epoch seconds or ISO-8601).
local journey = require "journey"
local support = require "spec.support"

local SECOND = 1000
local MINUTE = 60 * SECOND
local HOUR = 60 * MINUTE
local DAY = 24 * HOUR

-- Returns the fixed milliseconds of a duration that has no months.
local function ms(value)
  local d = journey.duration(value)
  assert.are.equal(0, d.months, "months of " .. tostring(value))
  return d.ms
end

-- Returns the message journey.duration raises for value.
local function rejection(value)
  local ok, message = pcall(journey.duration, value)
  assert.is_false(ok, "duration " .. tostring(value) .. " was accepted")
  return message
end

describe("journey.duration", function()
  describe("numbers", function()
    it("reads seconds", function()
      assert.are.equal(90 * SECOND, ms(90))
    end)

    it("reads fractions of a second", function()
      assert.are.equal(1500, ms(1.5))
      assert.are.equal(1, ms(0.001))
    end)

    it("reads zero", function()
      assert.are.equal(0, ms(0))
    end)
  end)

  describe("short units", function()
    local cases = {
      {"500ms", 500},
      {"90s", 90 * SECOND},
      {"15m", 15 * MINUTE},
      {"15min", 15 * MINUTE},
      {"2h", 2 * HOUR},
      {"7d", 7 * DAY},
      {"2w", 14 * DAY},
      {"1y", 365.25 * DAY},
    }
    for _, case in ipairs(cases) do
      it("reads " .. case[1], function()
        assert.are.equal(case[2], ms(case[1]))
      end)
    end
  end)

  describe("long forms", function()
    local cases = {
      {"2 days", 2 * DAY},
      {"1.5 hours", 90 * MINUTE},
      {"30 seconds", 30 * SECOND},
      {"1 minute", MINUTE},
      {"3 weeks", 21 * DAY},
      {"2 years", 2 * 365.25 * DAY},
      {"250 milliseconds", 250},
    }
    for _, case in ipairs(cases) do
      it("reads " .. case[1], function()
        assert.are.equal(case[2], ms(case[1]))
      end)
    end
  end)

  describe("compounds", function()
    it("adds parts separated by a space", function()
      assert.are.equal(90 * MINUTE, ms("1h 30m"))
    end)

    it("adds parts written together", function()
      assert.are.equal(90 * MINUTE, ms("1h30m"))
    end)

    it("adds parts separated by a comma", function()
      assert.are.equal(DAY + 2 * HOUR, ms("1d, 2h"))
    end)

    it("adds long forms", function()
      assert.are.equal(2 * DAY + 12 * HOUR, ms("2 days 12 hours"))
    end)
  end)

  describe("calendar months", function()
    it("keeps months apart from milliseconds", function()
      assert.are.same({ms = 0, months = 1}, journey.duration("1mo"))
    end)

    it("reads long forms of months", function()
      assert.are.same({ms = 0, months = 3}, journey.duration("3 months"))
    end)

    it("combines months and days", function()
      assert.are.same({ms = 15 * DAY, months = 1}, journey.duration("1mo 15d"))
    end)
  end)

  describe("rejections", function()
    it("rejects a number without a unit", function()
      local message = rejection("90")
      assert.matches('"90"', message, 1, true)
      assert.matches("missing unit", message, 1, true)
    end)

    it("rejects an unknown unit", function()
      local message = rejection("1 secnd")
      assert.matches('"1 secnd"', message, 1, true)
      assert.matches("unknown unit", message, 1, true)
    end)

    it("rejects a negative string", function()
      local message = rejection("-1s")
      assert.matches('"-1s"', message, 1, true)
      assert.matches("negative", message, 1, true)
    end)

    it("rejects a negative number", function()
      local message = rejection(-5)
      assert.matches("-5", message, 1, true)
      assert.matches("negative", message, 1, true)
    end)

    it("rejects NaN as a string", function()
      local message = rejection("NaN")
      assert.matches('"NaN"', message, 1, true)
      assert.matches("not a number", message, 1, true)
    end)

    it("rejects NaN as a number", function()
      local message = rejection(0 / 0)
      assert.matches("invalid duration", message, 1, true)
      assert.matches("nan", message:lower(), 1, true)
    end)

    it("rejects an infinite number", function()
      assert.matches("finite", rejection(math.huge), 1, true)
    end)

    it("rejects the ambiguous 1M", function()
      local message = rejection("1M")
      assert.matches('"1M"', message, 1, true)
      assert.matches("ambiguous", message, 1, true)
    end)

    it("rejects an empty string", function()
      assert.matches('""', rejection(""), 1, true)
    end)

    it("rejects fractional months", function()
      local message = rejection("1.5mo")
      assert.matches('"1.5mo"', message, 1, true)
      assert.matches("whole numbers", message, 1, true)
    end)

    it("rejects a value of another type", function()
      assert.matches("must be a duration", rejection(true), 1, true)
    end)
  end)
end)

describe("calendar month arithmetic", function()
  after_each(support.close_hosts)

  local cases = {
    {"2024-01-31T10:00:00Z", "2024-02-29T10:00:00Z", "clamps to a leap February"},
    {"2023-01-31T10:00:00Z", "2023-02-28T10:00:00Z", "clamps to a common February"},
    {"2024-03-31T00:00:00Z", "2024-04-30T00:00:00Z", "clamps to a 30-day month"},
    {"2024-01-15T08:30:00Z", "2024-02-15T08:30:00Z", "keeps the day and time"},
    {"2024-12-31T23:00:00Z", "2025-01-31T23:00:00Z", "crosses a year"},
  }
  for _, case in ipairs(cases) do
    it(case[3], function()
      local h = support.host{start = case[1]}
      h:advance("1mo")
      assert.are.equal(journey.time(case[2]), h:now())
    end)
  end
end)

describe("journey.time", function()
  it("reads an ISO time", function()
    assert.are.equal(1704067200, journey.time("2024-01-01T00:00:00Z"))
  end)

  it("reads an offset", function()
    assert.are.equal(1704067200, journey.time("2024-01-01T01:00:00+01:00"))
  end)

  it("keeps epoch seconds", function()
    assert.are.equal(1704067200, journey.time(1704067200))
  end)

  it("rejects a time without a zone", function()
    local ok, message = pcall(journey.time, "2024-01-01T00:00:00")
    assert.is_false(ok)
    assert.matches("2024-01-01T00:00:00", message, 1, true)
  end)

  it("formats with journey.iso", function()
    assert.are.equal("2024-01-01T00:00:00Z", journey.iso(1704067200))
    assert.are.equal("2024-01-01T00:00:00.250Z", journey.iso(1704067200.25))
  end)
end)
