-- Writes the events of every customer whose id is a multiple of 10.
--
-- Usage: lua5.4 make_sample.lua FULL_EVENTS_JSONL SAMPLE_EVENTS_JSONL
--
-- Lines are copied byte for byte and keep their order, so the sample is
-- sorted like the full file and contains each chosen customer's whole
-- history. Needs lua-cjson.
local cjson = require "cjson"

local MODULUS = 10

local source_path, sample_path = arg[1], arg[2]
if source_path == nil or sample_path == nil then
    io.stderr:write("usage: lua5.4 make_sample.lua FULL_EVENTS_JSONL SAMPLE_EVENTS_JSONL\n")
    os.exit(2)
end

local sample = assert(io.open(sample_path, "w"))
local read, written = 0, 0
for line in io.lines(source_path) do
    read = read + 1
    local user = cjson.decode(line).user
    local id = math.tointeger(tonumber(user))
    if id == nil then
        error(("%s:%d: customer id %q is not an integer"):format(source_path, read, user))
    end
    if id % MODULUS == 0 then
        sample:write(line, "\n")
        written = written + 1
    end
end
sample:close()
io.stderr:write(("read %d events, wrote %d to %s\n"):format(read, written, sample_path))
