-- Rewrites every JSON object or array field of sqlite3's list output
-- ("a|b|c" per line) in a canonical form with sorted keys, so two stores
-- compare equal when they hold the same data: the order of keys in
-- encoded Lua tables differs from one process to the next.
local cjson = require "cjson"

local function canonical(value)
  if type(value) ~= "table" then
    return cjson.encode(value)
  end
  if #value > 0 or next(value) == nil then
    local parts = {}
    for i, item in ipairs(value) do
      parts[i] = canonical(item)
    end
    return "[" .. table.concat(parts, ",") .. "]"
  end
  local keys = {}
  for key in pairs(value) do
    keys[#keys + 1] = key
  end
  table.sort(keys)
  local parts = {}
  for i, key in ipairs(keys) do
    parts[i] = cjson.encode(key) .. ":" .. canonical(value[key])
  end
  return "{" .. table.concat(parts, ",") .. "}"
end

local function rewrite(field)
  local first = field:sub(1, 1)
  if first ~= "{" and first ~= "[" then
    return field
  end
  local ok, value = pcall(cjson.decode, field)
  return ok and canonical(value) or field
end

for line in io.lines() do
  local fields = {}
  -- JSON text may contain "|" inside strings; the data here does not.
  for field in (line .. "|"):gmatch("(.-)|") do
    local parts = {}
    for word in field:gmatch("%S+") do
      parts[#parts + 1] = rewrite(word)
    end
    fields[#fields + 1] = table.concat(parts, " ")
  end
  io.write(table.concat(fields, "|"), "\n")
end
