--[[
  Warn and suspend decisions with their guards, and the events announcing them. Included
  (`--- @include "decision"`) by recordMessage (a report's rate decision, in the step that
  counted it) and applyDecision (a suspension for investigation).

  Rate.decide is src/rules/policy.ts decide(), line for line: policy.ts stays the reference
  model and test/store/decision.test.ts runs random sequences through both.
  Rate.apply puts a decision into effect: a suspended account is not warned or suspended
  again; at most one warning per cooldown, checked first (a complaint during a cooldown
  pays for nothing else); N warnings within the warning window suspend.
]]
local Rate = {}

-- A rate as JSON has it: JSON.stringify writes a division by zero (minVolume 0) as null.
local function jsonRate(rate)
  if rate ~= rate or rate == math.huge or rate == -math.huge then return cjson.null end
  return rate
end

-- kind: 'complaint' | 'bounce'; t: {warn, suspend}; wins: lib/windows.lua W.windows();
-- figures: W.figures(); names: the windows' names in the order of wins.list.
-- Returns action ('none' | 'warn' | 'suspend'), evidence, the window's length in hours.
function Rate.decide(kind, t, minVolume, wins, figures, names)
  local warn, warnHours = nil, nil
  for i, H in ipairs(wins.list) do
    local f = figures[H]
    if f.s >= minVolume then
      local count = f.h
      if kind == 'complaint' then count = f.c end
      local rate = count / f.s
      if rate > t.suspend then
        return 'suspend', { kind = kind, window = names[i], sent = f.s, count = count, rate = jsonRate(rate), threshold = t.suspend }, H
      end
      if rate > t.warn and (warn == nil or rate > warn.r) then
        warn = { kind = kind, window = names[i], sent = f.s, count = count, rate = jsonRate(rate), threshold = t.warn, r = rate }
        warnHours = H
      end
    end
  end
  if warn == nil then return 'none', nil, nil end
  warn.r = nil
  return 'warn', warn, warnHours
end

--[[
  k: { meta, warnings, campaigns, samples, outbox } (one slot)
  p: { action = 'warn' | 'suspend', now, cooldownMs, warningsSince, suspendAfter,
       warningsKeptMs, warnEventId, suspendEventId, timestamp, reason (of a direct
       suspension), campaignSpec ('<channel>|<first hour>|<letter>': whose per-campaign
       counts are the evidence), data (the events' data, a table), account, wake,
       events (boolean: events go to the outbox, lib/events.lua) }
  Returns { outcome = 'none' | 'cooldown' | 'warned' | 'suspended', warnings }
]]
function Rate.apply(k, p)
  local now = p.now
  if redis.call('HGET', k.meta, 'suspended') == '1' then
    return { outcome = 'none', warnings = redis.call('ZCOUNT', k.warnings, p.warningsSince, '+inf') }
  end
  if p.action == 'warn' then
    local last = tonumber(redis.call('HGET', k.meta, 'lastWarnAt') or '0')
    if now - last < p.cooldownMs then
      return { outcome = 'cooldown', warnings = redis.call('ZCOUNT', k.warnings, p.warningsSince, '+inf') }
    end
  end
  local data = p.data

  -- Evidence: the campaigns with the most counts in the window, and recent report ids.
  -- Gathered only when an event is written.
  local function evidence()
    local ch, first, letter = string.match(p.campaignSpec, '^([^|]+)|(-?%d+)|(%a)$')
    first = tonumber(first)
    local counts = {}
    local all = redis.call('HGETALL', k.campaigns)
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
    if #stale > 0 then redis.call('HDEL', k.campaigns, unpack(stale)) end
    local top = {}
    for campaign, n in pairs(counts) do top[#top + 1] = { campaign = campaign, count = n } end
    table.sort(top, function(a, b) if a.count == b.count then return a.campaign < b.campaign end return a.count > b.count end)
    while #top > 5 do table.remove(top) end
    data.topCampaigns = top
    data.sampleReportIds = redis.call('LRANGE', k.samples, 0, 9)
  end

  local gathered = false
  local function emit(id, type_)
    if not gathered then evidence(); gathered = true end
    E.append(k.outbox, k.meta, 'seq', p.account, cjson.encode({ id = id, type = type_, timestamp = p.timestamp, data = data }), p.wake, p.events)
  end

  -- Every suspension records the rule that fired and the report ids it rests on (issue 14).
  local function suspend(reason)
    data.reason = reason
    data.rule = data.rule or reason
    if not gathered then evidence(); gathered = true end
    data.evidence = data.evidence or data.sampleReportIds
    redis.call('HSET', k.meta, 'suspended', '1', 'suspendedAt', now, 'suspendReason', reason,
      'suspendRule', data.rule, 'suspendEvidence', cjson.encode(data.evidence))
    emit(p.suspendEventId, 'account.suspended')
  end

  redis.call('ZREMRANGEBYSCORE', k.warnings, '-inf', now - p.warningsKeptMs)
  if p.action == 'suspend' then
    data.warnings = redis.call('ZCOUNT', k.warnings, p.warningsSince, '+inf')
    suspend(p.reason)
    return { outcome = 'suspended', warnings = data.warnings }
  end
  redis.call('ZADD', k.warnings, now, p.warnEventId)
  redis.call('HSET', k.meta, 'lastWarnAt', now)
  local warnings = redis.call('ZCOUNT', k.warnings, p.warningsSince, '+inf')
  data.warnings = warnings
  emit(p.warnEventId, 'account.warned')
  if warnings >= p.suspendAfter then
    suspend('warnings')
    return { outcome = 'suspended', warnings = warnings }
  end
  return { outcome = 'warned', warnings = warnings }
end
