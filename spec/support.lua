-- Helpers shared by the specs: hosts on a virtual clock that are closed
-- after each test with a check of their registry refs, and the lines of
-- marked statements for assertions on error locations.
local assert = require "luassert"
local journey = require "journey"

local support = {}

local open_hosts = {}


--- Creates a host whose virtual clock starts at opts.start, by default
--- 2024-01-01T00:00:00Z. support.close_hosts() closes it.
function support.host(opts)
  opts = opts or {}
  if opts.start == nil then
    opts.start = "2024-01-01T00:00:00Z"
  end
  local h = journey.host(opts)
  open_hosts[#open_hosts + 1] = h
  return h
end


local function count_keys(t)
  local n = 0
  for _ in pairs(t) do
    n = n + 1
  end
  return n
end


--- Closes every host that support.host created, then checks the refs
--- each held just before: exactly one per journey once no run is live,
--- and at most two more per live run (its coroutine and its wait's
--- match table).
function support.close_hosts()
  local hosts = open_hosts
  open_hosts = {}

  local checks = {}
  for _, h in ipairs(hosts) do
    local stats = h:stats()
    checks[#checks + 1] = {
      refs = stats.refs,
      journeys = count_keys(stats.journeys),
      live = stats.runs_live,
    }
    h:close()
  end

  for _, check in ipairs(checks) do
    if check.live == 0 then
      assert.are.equal(check.journeys, check.refs,
        "registry refs after every run ended (one per journey)")
    else
      assert.is_true(check.refs <= check.journeys + 2 * check.live,
        string.format("%d registry refs for %d journeys and %d live runs",
          check.refs, check.journeys, check.live))
    end
  end
end


local lines_by_file = {}

--- Returns "file:line:", the prefix of an error raised on the one line
--- of file that ends with the comment "-- at: <key>".
function support.where(file, key)
  local lines = lines_by_file[file]
  if lines == nil then
    lines = {}
    for line in io.lines(file) do
      lines[#lines + 1] = line
    end
    lines_by_file[file] = lines
  end

  local found
  for number, line in ipairs(lines) do
    if line:match("%-%- at: (%S+)%s*$") == key then
      assert(found == nil, "line key " .. key .. " occurs twice in " .. file)
      found = number
    end
  end
  assert(found ~= nil, "line key " .. key .. " not found in " .. file)
  return file .. ":" .. found .. ":"
end


--- Returns the only run of h that filter selects (see host:runs).
function support.only_run(h, filter)
  local runs = h:runs(filter)
  assert.are.equal(1, #runs, "number of runs")
  return h:run(runs[1].id)
end


--- Returns the kinds of a run's journal entries, in order.
function support.journal_kinds(run)
  local kinds = {}
  for i, entry in ipairs(run.journal) do
    kinds[i] = entry.kind
  end
  return kinds
end


--- Returns the traces of h of one kind.
function support.traces(h, kind)
  local found = {}
  for _, trace in ipairs(h:trace()) do
    if trace.kind == kind then
      found[#found + 1] = trace
    end
  end
  return found
end


return support
