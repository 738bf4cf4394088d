--! argv 0+
--[[
  Drops the entries every endpoint's consumer group has acknowledged, and measures what is
  still owed. Entries before the oldest one still pending in a group, or after what a group
  has read, are kept; failed deliveries live on in the retry set, so acknowledged is enough.
  Groups not named in ARGV (endpoints configured elsewhere) are not waited for.
  KEYS[1] outbox (stream)
  ARGV    the consumer groups of the configured endpoints
  Reply: {entries trimmed, deliveries owed (pending + unread, summed over groups),
          time in ms of the oldest entry some group still owes, 0 when none}
]]
if redis.call('EXISTS', KEYS[1]) == 0 then return { 0, 0, 0 } end
local function parse(id)
  local ms, seq = string.match(id, '^(%d+)-(%d+)$')
  return tonumber(ms), tonumber(seq)
end
local function less(a, b)
  local am, as = parse(a)
  local bm, bs = parse(b)
  return am < bm or (am == bm and as < bs)
end
local wanted = {}
for _, g in ipairs(ARGV) do wanted[g] = true end
local groups = redis.call('XINFO', 'GROUPS', KEYS[1])
local minid = nil
local owed = 0
local oldest = nil
local found = 0
for _, info in ipairs(groups) do
  local g = {}
  for i = 1, #info, 2 do g[info[i]] = info[i + 1] end
  if wanted[g['name']] then
    found = found + 1
    local keep = g['last-delivered-id']
    local pending = tonumber(g['pending'])
    if pending > 0 then
      local summary = redis.call('XPENDING', KEYS[1], g['name'])
      keep = summary[2]
      owed = owed + pending
      if oldest == nil or less(keep, oldest) then oldest = keep end
    end
    local lag = g['lag']
    local unread = redis.call('XRANGE', KEYS[1], '(' .. g['last-delivered-id'], '+', 'COUNT', 1)
    if #unread > 0 then
      if type(lag) ~= 'number' then
        -- Lag unknown (entries deleted in the middle): count the unread ones.
        lag = #redis.call('XRANGE', KEYS[1], '(' .. g['last-delivered-id'], '+')
      end
      owed = owed + lag
      if oldest == nil or less(unread[1][1], oldest) then oldest = unread[1][1] end
    end
    if minid == nil or less(keep, minid) then minid = keep end
  end
end
local trimmed = 0
if minid ~= nil and found == #ARGV then
  trimmed = redis.call('XTRIM', KEYS[1], 'MINID', minid)
end
local oldestMs = 0
if oldest ~= nil then oldestMs = parse(oldest) end
return { trimmed, owed, oldestMs }
