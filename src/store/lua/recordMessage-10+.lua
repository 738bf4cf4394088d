--! argv 1
--[[
  Everything one message does to one account, in one step (one round trip, one fsync of
  the AOF): the received-report record, each recipient's effect (deduplication,
  suppression with its recipient.suppressed event, counting, the soft-bounce rule), and
  the rate decision with its guards and events (lib/decision.lua), taken from the
  figures after counting and from thresholds passed in.

  KEYS[1] the report record (hash; when the input has `record`, else any key of the slot, unread)
  KEYS[2] account meta (hash)      KEYS[6] recent report ids (list)
  KEYS[3] suppressions (hash)      KEYS[7] outbox (stream)
  KEYS[4] hour buckets (hash)      KEYS[8] warnings (sorted set)
  KEYS[5] per-campaign counters    KEYS[9] engaged recipients (hash)
  KEYS[10] daily counters (hash, lib/daily.lua)
  then per recipient i (1-based): KEYS[9 + 2i] its dedup marker, KEYS[10 + 2i] its soft-bounce count
  ARGV[1] the input, JSON:
    now (ms), hour (now / 1 h), channel, campaign ('' none), account, wake (the outbox
    wake-up channel), events (boolean: false when the gateway has no webhook endpoint, the
    events are then not written, lib/events.lua), windows (lengths in hours, "24,168"), bucketTtlMs, dedupMs,
    warningsSince (ms), dailyKeepDays (days the daily counters are kept),
    record: {ttlMs, fields: [field, value, …]} (absent: no record),
    sample: a report id kept among the recent ones ('' none),
    recipients: [{address ('' none), counter ('' none, or a letter of the Counter type),
      suppression (record JSON, '' none), event (recipient.suppressed JSON, '' none;
      written only when the suppression is new), dedup (bool), softLimits
      ("unengaged,engaged", '': the suppression applies at once), softIdleMs}],
    decision (absent: none): {kind ('complaint' | 'bounce'), counter ('c' | 'h'): the
      decision is taken when a recipient counted this letter now (not a duplicate),
      minVolume, thresholds: {shared: {warn, suspend}, dedicated: {…}}, names (of the
      windows), cooldownMs, suspendAfter, warningsKeptMs, warnEventId, suspendEventId,
      timestamp, data (the events' data, evidence added here)}
  Only the letters anyone reads are counted: s c h u in the hour buckets (window totals),
  s c h per day (the desk's 30-day chart), c and h per campaign (a decision's evidence). Soft bounces (f) count
  per recipient, auth-failure reports (a) are deduplicated and recorded, not counted.
  Reply, JSON: {created (the record was new), suspended (before this message),
    recipients: [{duplicate, newlySuppressed, softCount}], decision: {outcome, warnings,
    evidence} (outcome none | cooldown | warned | suspended; absent when not taken)}
]]
--- @include "windows"
--- @include "events"
--- @include "decision"
--- @include "daily"
local a = cjson.decode(ARGV[1])
local recipients = a.recipients
if #KEYS ~= 10 + 2 * #recipients then
  return redis.error_reply('ERR recordMessage: wants ' .. (10 + 2 * #recipients) .. ' keys for ' .. #recipients .. ' recipients, got ' .. #KEYS)
end
local now, ch, hour = a.now, a.channel, a.hour
local wins = W.windows(a.windows)
local BUCKETED = { s = true, c = true, h = true, u = true }
local BY_CAMPAIGN = { c = true, h = true }

local created = false
if a.record and redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], unpack(a.record.fields))
  redis.call('PEXPIRE', KEYS[1], a.record.ttlMs)
  created = true
end

local suspended = redis.call('HGET', KEYS[2], 'suspended') == '1'
local out = {}
local counted = {}
local wrote = false
local freshHour = false
for i, r in ipairs(recipients) do
  local dedupKey, softKey = KEYS[9 + 2 * i], KEYS[10 + 2 * i]
  local res = { duplicate = false, newlySuppressed = false, softCount = 0 }
  out[i] = res
  if r.dedup and not redis.call('SET', dedupKey, '1', 'NX', 'PX', a.dedupMs) then
    res.duplicate = true
  else
    wrote = true
    local suppress = r.suppression ~= '' and r.address ~= ''
    if suppress and r.softLimits ~= '' then
      res.softCount = redis.call('INCR', softKey)
      redis.call('PEXPIRE', softKey, r.softIdleMs)
      local unengaged, engaged = string.match(r.softLimits, '^(%d+),(%d+)$')
      local limit = tonumber(unengaged)
      if redis.call('HEXISTS', KEYS[9], r.address) == 1 then limit = tonumber(engaged) end
      suppress = res.softCount >= limit
      if suppress then redis.call('DEL', softKey) end
    end
    if suppress then
      res.newlySuppressed = redis.call('HSETNX', KEYS[3], r.address, r.suppression) == 1
      if res.newlySuppressed and r.event ~= '' then
        E.append(KEYS[7], KEYS[2], 'seq', a.account, r.event, a.wake, a.events)
      end
    end
    local letter = r.counter
    if letter ~= '' then counted[letter] = true end
    D.add(KEYS[10], ch, math.floor(hour / 24), math.floor(hour / 24), letter, 1, a.dailyKeepDays)
    if BUCKETED[letter] then
      -- Rolling the totals to this hour also drops the buckets that left every window.
      -- TTLs are set when a field is new (an hour's first count; the keys' TTLs are a day
      -- longer than the longest window): a new key always gets one, a counted key gets it
      -- refreshed at least hourly, and a message writes no PEXPIRE most of the time.
      if W.add(KEYS[4], ch, hour, letter, 1, wins) then
        freshHour = true
        redis.call('PEXPIRE', KEYS[4], a.bucketTtlMs)
      end
      if a.campaign ~= '' and BY_CAMPAIGN[letter] then
        if redis.call('HINCRBY', KEYS[5], ch .. '|' .. hour .. '|' .. a.campaign .. '|' .. letter, 1) == 1 then
          redis.call('PEXPIRE', KEYS[5], a.bucketTtlMs)
        end
      end
    end
  end
end
if wrote then redis.call('HSETNX', KEYS[2], 'createdAt', now) end
if wrote and a.sample ~= '' then
  local n = redis.call('LPUSH', KEYS[6], a.sample)
  if n > 10 then redis.call('LTRIM', KEYS[6], 0, 9) end
  -- A new list, or an hour's first count: a list pushed for longer without any count may
  -- expire and start again, which loses nothing but old evidence ids.
  if n == 1 or freshHour then redis.call('PEXPIRE', KEYS[6], a.bucketTtlMs) end
end

local reply = { created = created, suspended = suspended, recipients = out }
local d = a.decision
if d and not suspended and counted[d.counter] then
  local pool = redis.call('HGET', KEYS[2], 'pool') == 'dedicated' and 'dedicated' or 'shared'
  local figures = W.figures(KEYS[4], ch, hour, wins)
  local action, evidence, hours = Rate.decide(d.kind, d.thresholds[pool], d.minVolume, wins, figures, d.names)
  if action ~= 'none' then
    local data = d.data
    data.pool = pool
    for field, v in pairs(evidence) do data[field] = v end
    local res = Rate.apply({ meta = KEYS[2], warnings = KEYS[8], campaigns = KEYS[5], samples = KEYS[6], outbox = KEYS[7] }, {
      action = action, now = now, cooldownMs = d.cooldownMs, warningsSince = a.warningsSince,
      suspendAfter = d.suspendAfter, warningsKeptMs = d.warningsKeptMs, warnEventId = d.warnEventId,
      suspendEventId = d.suspendEventId, timestamp = d.timestamp, reason = d.kind .. '-rate',
      campaignSpec = ch .. '|' .. (hour - hours + 1) .. '|' .. d.counter, data = data, account = a.account, wake = a.wake, events = a.events })
    res.evidence = evidence
    reply.decision = res
  else
    reply.decision = { outcome = 'none', warnings = 0 }
  end
end
return cjson.encode(reply)
