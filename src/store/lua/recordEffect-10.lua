--[[
  Records what one report does to an account, atomically: deduplication, suppression of
  the recipient (with the recipient.suppressed event in the outbox), counting in the hour
  buckets, and a sample report id. Replies with the account's figures for the decision.

  KEYS[1] dedup marker            KEYS[5] per-campaign counters (hash)
  KEYS[2] suppressions (hash)     KEYS[6] recent report ids (list)
  KEYS[3] account meta (hash)     KEYS[7] outbox (stream)
  KEYS[4] hour buckets (hash)     KEYS[8] warnings (sorted set)
  KEYS[9] soft-bounce count of the recipient   KEYS[10] engaged recipients (hash)
  ARGV[1]  now, ms                     ARGV[8]  suppression record JSON, '' for none
  ARGV[2]  dedup TTL, ms ('0': none)   ARGV[9]  recipient.suppressed event JSON, '' for none
  ARGV[3]  channel                     ARGV[10] report id, '' for none
  ARGV[4]  hour bucket (now / 1 h)     ARGV[11] bucket TTL, ms
  ARGV[5]  counter letter, '' for none ARGV[12] window lengths in hours, comma-separated
  ARGV[6]  campaign, '' for none       ARGV[13] count warnings since, ms
  ARGV[7]  address, '' for none
  ARGV[14] soft-bounce limits "unengaged,engaged" ('' : the suppression applies at once)
  ARGV[15] soft-bounce count idle TTL, ms
  With soft-bounce limits the suppression record is applied only when this bounce is the
  recipient's Nth consecutive soft bounce (7, or 15 when the recipient engaged before).
  Reply: {duplicate, newlySuppressed, suspended, pool, lastWarnAt, warnings, softCount,
          then per window: sent, complaints, hard bounces}
  The window figures come from running totals kept in the hour-bucket hash (lib/windows.lua):
  this runs for every report, and summing a week of buckets here was its largest cost.
]]
--- @include "windows"
local now = tonumber(ARGV[1])
local ch = ARGV[3]
local hour = tonumber(ARGV[4])
local letter = ARGV[5]
local wins = W.windows(ARGV[12])

local duplicate = 0
if ARGV[2] ~= '0' then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[2]) then duplicate = 1 end
end

local newly = 0
local soft = 0
if duplicate == 0 then
  redis.call('HSETNX', KEYS[3], 'createdAt', now)
  local suppress = ARGV[8] ~= '' and ARGV[7] ~= ''
  if suppress and ARGV[14] ~= '' then
    soft = redis.call('INCR', KEYS[9])
    redis.call('PEXPIRE', KEYS[9], ARGV[15])
    local unengaged, engaged = string.match(ARGV[14], '^(%d+),(%d+)$')
    local limit = tonumber(unengaged)
    if redis.call('HEXISTS', KEYS[10], ARGV[7]) == 1 then limit = tonumber(engaged) end
    suppress = soft >= limit
    if suppress then redis.call('DEL', KEYS[9]) end
  end
  if suppress then
    newly = redis.call('HSETNX', KEYS[2], ARGV[7], ARGV[8])
    if newly == 1 and ARGV[9] ~= '' then
      redis.call('XADD', KEYS[7], '*', 'event', ARGV[9])
    end
  end
  if letter ~= '' then
    -- Rolling the totals to this hour also drops the buckets that left every window.
    W.roll(KEYS[4], ch, hour, wins)
    W.add(KEYS[4], ch, hour, letter, 1, wins)
    redis.call('PEXPIRE', KEYS[4], ARGV[11])
    if ARGV[6] ~= '' then
      redis.call('HINCRBY', KEYS[5], ch .. '|' .. hour .. '|' .. ARGV[6] .. '|' .. letter, 1)
      redis.call('PEXPIRE', KEYS[5], ARGV[11])
    end
  end
  if ARGV[10] ~= '' then
    redis.call('LPUSH', KEYS[6], ARGV[10])
    redis.call('LTRIM', KEYS[6], 0, 9)
    redis.call('PEXPIRE', KEYS[6], ARGV[11])
  end
end

local meta = redis.call('HMGET', KEYS[3], 'suspended', 'pool', 'lastWarnAt')
local reply = { duplicate, newly, tonumber(meta[1] or '0'), meta[2] or '', meta[3] or '0',
  redis.call('ZCOUNT', KEYS[8], ARGV[13], '+inf'), soft }

-- Read only: a duplicate or a report that counts nothing does not write the totals.
local figures = W.figures(KEYS[4], ch, hour, wins)
for _, H in ipairs(wins.list) do
  reply[#reply + 1] = figures[H].s
  reply[#reply + 1] = figures[H].c
  reply[#reply + 1] = figures[H].h
end
return reply
