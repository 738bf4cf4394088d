--! argv 14
--[[
  Applies a warn or suspend decision with its guards, and writes the events announcing it
  in the same step: at most one warning per cooldown; N warnings within the warning
  window suspend; a suspended account is not warned or suspended again.

  KEYS[1] account meta (hash)      KEYS[4] recent report ids (list)
  KEYS[2] warnings (sorted set)    KEYS[5] outbox (stream)
  KEYS[3] per-campaign counters
  ARGV[1]  action: warn | suspend      ARGV[8]  event data JSON (evidence; account, kind …)
  ARGV[2]  now, ms                     ARGV[9]  timestamp, ISO 8601
  ARGV[3]  warning cooldown, ms        ARGV[10] suspension reason for a direct suspend
  ARGV[4]  count warnings since, ms    ARGV[11] campaign evidence: channel|first hour|letter
  ARGV[5]  warnings that suspend       ARGV[12] warnings kept for, ms
  ARGV[6]  warned event id
  ARGV[7]  suspended event id          ARGV[13] account (the events' ordering key)
                                       ARGV[14] outbox wake-up channel
  Reply, JSON: {outcome, warnings} where outcome is none, cooldown, warned, suspended
]]
--- @include "events"
local now = tonumber(ARGV[2])
if redis.call('HGET', KEYS[1], 'suspended') == '1' then
  return cjson.encode({ outcome = 'none', warnings = redis.call('ZCOUNT', KEYS[2], ARGV[4], '+inf') })
end

local data = cjson.decode(ARGV[8])

-- Evidence: the campaigns with the most counts in the window, and recent report ids.
-- Gathered only when an event is written: during a cooldown every complaint would
-- otherwise pay for an HGETALL and a sort.
local function evidence()
  local spec = {}
  for part in string.gmatch(ARGV[11], '[^|]+') do spec[#spec + 1] = part end
  local ch, first, letter = spec[1], tonumber(spec[2]), spec[3]
  local counts = {}
  local all = redis.call('HGETALL', KEYS[3])
  local stale = {}
  for i = 1, #all, 2 do
    local c, h, campaign, l = string.match(all[i], '^([^|]+)|(-?%d+)|(.+)|(%a)$')
    h = tonumber(h)
    if h and h < first - 24 * 30 then
      stale[#stale + 1] = all[i]
    elseif c == ch and l == letter and h and h >= first then
      counts[campaign] = (counts[campaign] or 0) + tonumber(all[i + 1])
    end
  end
  if #stale > 0 then redis.call('HDEL', KEYS[3], unpack(stale)) end
  local top = {}
  for campaign, n in pairs(counts) do top[#top + 1] = { campaign = campaign, count = n } end
  table.sort(top, function(a, b) if a.count == b.count then return a.campaign < b.campaign end return a.count > b.count end)
  while #top > 5 do table.remove(top) end
  data.topCampaigns = top
  data.sampleReportIds = redis.call('LRANGE', KEYS[4], 0, 9)
end

local gathered = false
local function emit(id, type_)
  if not gathered then evidence(); gathered = true end
  local event = cjson.encode({ id = id, type = type_, timestamp = ARGV[9], data = data })
  E.append(KEYS[5], KEYS[1], 'seq', ARGV[13], event, ARGV[14])
end

-- Every suspension records the rule that fired and the report ids it rests on (issue 14).
local function suspend(reason)
  data.reason = reason
  data.rule = data.rule or reason
  data.evidence = data.evidence or data.sampleReportIds
  redis.call('HSET', KEYS[1], 'suspended', '1', 'suspendedAt', now, 'suspendReason', reason,
    'suspendRule', data.rule, 'suspendEvidence', cjson.encode(data.evidence))
  emit(ARGV[7], 'account.suspended')
end

redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now - tonumber(ARGV[12]))
if ARGV[1] == 'suspend' then
  data.warnings = redis.call('ZCOUNT', KEYS[2], ARGV[4], '+inf')
  suspend(ARGV[10])
  return cjson.encode({ outcome = 'suspended', warnings = data.warnings })
end

local last = tonumber(redis.call('HGET', KEYS[1], 'lastWarnAt') or '0')
if now - last < tonumber(ARGV[3]) then
  return cjson.encode({ outcome = 'cooldown', warnings = redis.call('ZCOUNT', KEYS[2], ARGV[4], '+inf') })
end
redis.call('ZADD', KEYS[2], now, ARGV[6])
redis.call('HSET', KEYS[1], 'lastWarnAt', now)
local warnings = redis.call('ZCOUNT', KEYS[2], ARGV[4], '+inf')
data.warnings = warnings
emit(ARGV[6], 'account.warned')
if warnings >= tonumber(ARGV[5]) then
  suspend('warnings')
  return cjson.encode({ outcome = 'suspended', warnings = warnings })
end
return cjson.encode({ outcome = 'warned', warnings = warnings })
