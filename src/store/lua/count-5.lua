--! argv 5+
--[[
  Adds counts to an account's hour buckets (sent, delivered, …), all items of one batch
  for one account at once; with an idempotency key, a batch sent twice counts once.
  Every increment also goes to the running window totals beside the buckets
  (lib/windows.lua), which recordMessage reads instead of summing the buckets, and to the
  daily counters of the desk's chart (lib/daily.lua).

  KEYS[1] hour buckets (hash)      KEYS[3] account meta (hash)
  KEYS[2] per-campaign counters    KEYS[4] idempotency marker
  KEYS[5] daily counters (hash)
  ARGV[1] now, ms      ARGV[2] bucket TTL, ms     ARGV[3] idempotency TTL, ms ('0': none)
  ARGV[4] window lengths in hours, comma-separated   ARGV[5] days the daily counters are kept
  ARGV[6…] items of five: channel, hour, campaign ('' none), letter, count
  An item's hour may be in the past, never after now (the caller clamps it). Only the
  letters anyone reads are kept: s c h u in the hour buckets, s c h per day (lib/daily.lua),
  c h per campaign (Counter in src/store/store.ts); delivered and engaged items count for
  nothing here.
  Reply: 1 when counted, 0 for a repeated batch
]]
--- @include "windows"
--- @include "daily"
if ARGV[3] ~= '0' then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[3]) then return 0 end
end
redis.call('HSETNX', KEYS[3], 'createdAt', ARGV[1])
local wins = W.windows(ARGV[4])
local BUCKETED = { s = true, c = true, h = true, u = true }
local BY_CAMPAIGN = { c = true, h = true }
local hour = math.floor(tonumber(ARGV[1]) / 3600000)
local today = math.floor(hour / 24)
local keep = tonumber(ARGV[5])
for i = 6, #ARGV, 5 do
  local ch, b, campaign, letter, n = ARGV[i], tonumber(ARGV[i + 1]), ARGV[i + 2], ARGV[i + 3], tonumber(ARGV[i + 4])
  -- First the totals move to now (dropping the buckets that left every window), so a
  -- backdated item lands in the windows that hold it.
  if BUCKETED[letter] then
    W.roll(KEYS[1], ch, hour, wins)
    W.add(KEYS[1], ch, b, letter, n, wins)
  end
  D.add(KEYS[5], ch, math.floor(b / 24), today, letter, n, keep)
  if campaign ~= '' and BY_CAMPAIGN[letter] then
    redis.call('HINCRBY', KEYS[2], ch .. '|' .. b .. '|' .. campaign .. '|' .. letter, n)
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
