--[[
  Daily counters of an account (sent, complaints, hard bounces per UTC day) for the desk's
  30-day chart: the hour buckets (lib/windows.lua) are kept only as long as the longest
  rate window. Included (`--- @include "daily"`) by recordMessage and count.

  Fields of the daily hash (one key of the account's slot, KEYS of the including script):
    <ch>|<day>|<letter>  the count of day <day> (days since 1970-01-01, UTC)
    <ch>|dr              the latest day written: fields lie in (dr - keep, dr]
  A day older than `keep` days is not written, and the days that age out are dropped when
  a new day's first count is written (at most `keep` of them, usually one); the key expires
  `keep` days after the first count of its last day, so an account that stopped sending
  leaves nothing behind.
]]
local D = {}
local DAILY = { s = true, c = true, h = true }
local DAY_MS = 86400000

-- Adds n to (ch, day, letter) when the chart shows that letter and the day is still kept.
-- A day's first count of a letter (its field is new) rolls the days on and sets the key's
-- TTL: a few writes a day per key instead of three more on every count. The key then lives
-- `keep` days from the first count of its last day, when that day's fields age out anyway;
-- a new key always starts with a new field, so it never lacks a TTL.
function D.add(key, ch, day, today, letter, n, keep)
  if not DAILY[letter] or day <= today - keep then return end
  if redis.call('HINCRBY', key, ch .. '|' .. day .. '|' .. letter, n) ~= n then return end
  local dr = tonumber(redis.call('HGET', key, ch .. '|dr') or '')
  if dr == nil or today > dr then
    if dr then
      local fields = {}
      for d = dr - keep + 1, math.min(dr, today - keep) do
        for l in pairs(DAILY) do fields[#fields + 1] = ch .. '|' .. d .. '|' .. l end
      end
      if #fields > 0 then redis.call('HDEL', key, unpack(fields)) end
    end
    redis.call('HSET', key, ch .. '|dr', today)
  end
  redis.call('PEXPIRE', key, keep * DAY_MS)
end
