--! argv 1
--[[
  Records what one report does to an account, atomically: deduplication, suppression of
  the recipient (with the recipient.suppressed event in the outbox), counting in the hour
  buckets, and a sample report id. Replies with the account's figures for the decision.

  KEYS[1] dedup marker            KEYS[5] per-campaign counters (hash)
  KEYS[2] suppressions (hash)     KEYS[6] recent report ids (list)
  KEYS[3] account meta (hash)     KEYS[7] outbox (stream)
  KEYS[4] hour buckets (hash)     KEYS[8] warnings (sorted set)
  KEYS[9] soft-bounce count of the recipient   KEYS[10] engaged recipients (hash)
  KEYS[11] daily counters (hash, lib/daily.lua)
  ARGV[1] the input, JSON (named, not positional: a field added cannot shift the others):
    now (ms), dedupMs (0: none), channel, hour (now / 1 h), counter ('' none),
    campaign ('' none), address ('' none), suppression (record JSON, '' none),
    event (recipient.suppressed JSON, '' none; written with the account's next seq),
    account, wake (the outbox wake-up channel), reportId ('' none), bucketTtlMs,
    windows (lengths in hours, "24,168"), warningsSince (ms),
    softLimits ("unengaged,engaged", '': the suppression applies at once), softIdleMs,
    dailyKeepDays (days the daily counters are kept)
  With soft-bounce limits the suppression record is applied only when this bounce is the
  recipient's Nth consecutive soft bounce (7, or 15 when the recipient engaged before).
  Reply, JSON: {duplicate, newlySuppressed, suspended, pool, lastWarnAt, warnings,
  softCount, windows: [{sent, complaints, hardBounces}, …] in the order of `windows`}.
  The window figures come from running totals kept in the hour-bucket hash (lib/windows.lua):
  this runs for every report, and summing a week of buckets here was its largest cost.
]]
--- @include "windows"
--- @include "events"
--- @include "daily"
local a = cjson.decode(ARGV[1])
local now = a.now
local ch = a.channel
local hour = a.hour
local letter = a.counter
local wins = W.windows(a.windows)

local duplicate = 0
if a.dedupMs > 0 then
  if not redis.call('SET', KEYS[1], '1', 'NX', 'PX', a.dedupMs) then duplicate = 1 end
end

local newly = 0
local soft = 0
if duplicate == 0 then
  redis.call('HSETNX', KEYS[3], 'createdAt', now)
  local suppress = a.suppression ~= '' and a.address ~= ''
  if suppress and a.softLimits ~= '' then
    soft = redis.call('INCR', KEYS[9])
    redis.call('PEXPIRE', KEYS[9], a.softIdleMs)
    local unengaged, engaged = string.match(a.softLimits, '^(%d+),(%d+)$')
    local limit = tonumber(unengaged)
    if redis.call('HEXISTS', KEYS[10], a.address) == 1 then limit = tonumber(engaged) end
    suppress = soft >= limit
    if suppress then redis.call('DEL', KEYS[9]) end
  end
  if suppress then
    newly = redis.call('HSETNX', KEYS[2], a.address, a.suppression)
    if newly == 1 and a.event ~= '' then
      E.append(KEYS[7], KEYS[3], 'seq', a.account, a.event, a.wake)
    end
  end
  if letter ~= '' then
    -- Rolling the totals to this hour also drops the buckets that left every window.
    W.roll(KEYS[4], ch, hour, wins)
    W.add(KEYS[4], ch, hour, letter, 1, wins)
    redis.call('PEXPIRE', KEYS[4], a.bucketTtlMs)
    D.add(KEYS[11], ch, math.floor(hour / 24), math.floor(hour / 24), letter, 1, a.dailyKeepDays)
    if a.campaign ~= '' then
      redis.call('HINCRBY', KEYS[5], ch .. '|' .. hour .. '|' .. a.campaign .. '|' .. letter, 1)
      redis.call('PEXPIRE', KEYS[5], a.bucketTtlMs)
    end
  end
  if a.reportId ~= '' then
    redis.call('LPUSH', KEYS[6], a.reportId)
    redis.call('LTRIM', KEYS[6], 0, 9)
    redis.call('PEXPIRE', KEYS[6], a.bucketTtlMs)
  end
end

local meta = redis.call('HMGET', KEYS[3], 'suspended', 'pool', 'lastWarnAt')
-- Read only: a duplicate or a report that counts nothing does not write the totals.
local figures = W.figures(KEYS[4], ch, hour, wins)
local windows = {}
for _, H in ipairs(wins.list) do
  windows[#windows + 1] = { sent = figures[H].s, complaints = figures[H].c, hardBounces = figures[H].h }
end
return cjson.encode({ duplicate = duplicate == 1, newlySuppressed = newly == 1, suspended = meta[1] == '1',
  pool = meta[2] or '', lastWarnAt = tonumber(meta[3] or '0'),
  warnings = redis.call('ZCOUNT', KEYS[8], a.warningsSince, '+inf'), softCount = soft, windows = windows })
