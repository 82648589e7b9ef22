-- Writes the crash test's input to stdout: for each of N users a few
-- orders, most of them paid within the hour, each event with an id.
-- usage: lua5.4 make_events.lua [USERS]
local users = tonumber(arg[1] or "600")
local seed = 12345

-- A small linear congruential generator, so the input is the same on
-- every machine and Lua version.
local function random(n)
  seed = (seed * 1103515245 + 12345) % 2147483648
  return seed % n
end

local start = 1704067200 -- 2024-01-01T00:00:00Z
local t = start
local lines = {}
local order = 0

for _ = 1, users * 4 do
  local user = "u" .. random(users)
  t = t + random(120) + 1
  order = order + 1
  lines[#lines + 1] = { t, string.format(
    '{"id":"o%d","user":"%s","name":"shop/order_placed","ts":%d,"data":{"order":"%d"}}',
    order, user, t * 1000, order) }
  if random(10) < 8 then
    local paid_at = t + random(3600) + 1
    lines[#lines + 1] = { paid_at, string.format(
      '{"id":"p%d","user":"%s","name":"shop/paid","ts":%d,"data":{"order":"%d"}}',
      order, user, paid_at * 1000, order) }
  end
end

table.sort(lines, function(a, b)
  if a[1] ~= b[1] then return a[1] < b[1] end
  return a[2] < b[2]
end)
for _, line in ipairs(lines) do
  io.write(line[2], "\n")
end
