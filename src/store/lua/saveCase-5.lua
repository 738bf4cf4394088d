--! argv 11
--[[
  Opens a case, or adds a report to the open case of the same campaign, and writes the
  event announcing it (case.opened or case.updated) in the same step.
  KEYS[1] the campaign's open-case pointer ('' campaign: a key no one else uses)
  KEYS[2] the case record (hash: data JSON, status) — the pointed-to case, or the new one
  KEYS[3] all cases (sorted set, by id)      KEYS[4] cases outbox (stream)
  KEYS[5] the report's content marker (string: the case id it went to; TTL the dedup window)
  ARGV[1] the case id expected behind the pointer ('' when none was)
  ARGV[2] the new case JSON (used when opening)
  ARGV[3] the report JSON to append (used when joining)
  ARGV[4] now, ms    ARGV[5] event id    ARGV[6] timestamp ISO    ARGV[7] status for a new case
  ARGV[8] reports kept per case    ARGV[9] dedup window, ms    ARGV[10] outbox wake-up channel
  ARGV[11] '1': events go to the outbox; '0': the gateway has no webhook endpoint (lib/events.lua)
  Events carry the case's own seq (ordering key 'case:<id>': cases live in their own slot).
  Reply, JSON: {outcome = 'opened'|'joined', caseId, status}, {outcome = 'duplicate', caseId}
  when this report (by content) was saved before, or {outcome = 'retry'} when the pointer
  moved meanwhile
]]
--- @include "events"
local seen = redis.call('GET', KEYS[5])
if seen then return cjson.encode({ outcome = 'duplicate', caseId = seen }) end
local current = redis.call('GET', KEYS[1]) or ''
if current ~= ARGV[1] then return cjson.encode({ outcome = 'retry' }) end

if current ~= '' and redis.call('EXISTS', KEYS[2]) == 1 then
  local c = cjson.decode(redis.call('HGET', KEYS[2], 'data'))
  local r = cjson.decode(ARGV[3])
  table.insert(c.reports, r)
  while #c.reports > tonumber(ARGV[8]) do table.remove(c.reports, 1) end
  c.reportCount = (c.reportCount or 1) + 1
  c.updatedAt = ARGV[6]
  redis.call('HSET', KEYS[2], 'data', cjson.encode(c))
  redis.call('SET', KEYS[5], c.id, 'PX', ARGV[9])
  E.append(KEYS[4], KEYS[2], 'seq', 'case:' .. c.id, cjson.encode({ id = ARGV[5], type = 'case.updated', timestamp = ARGV[6],
    data = { caseId = c.id, account = c.account, campaign = c.campaign, status = c.status, reportCount = c.reportCount, change = 'report-added', reportId = r.reportId } }), ARGV[10], E.flag(ARGV[11]))
  return cjson.encode({ outcome = 'joined', caseId = c.id, status = c.status })
end

local c = cjson.decode(ARGV[2])
redis.call('HSET', KEYS[2], 'data', ARGV[2], 'status', c.status)
redis.call('SET', KEYS[5], c.id, 'PX', ARGV[9])
-- Score 0: case ids are time-ordered (ULIDs), so the set is read by lexical range.
redis.call('ZADD', KEYS[3], 0, c.id)
if c.campaign ~= cjson.null and c.account ~= cjson.null then redis.call('SET', KEYS[1], c.id) end
E.append(KEYS[4], KEYS[2], 'seq', 'case:' .. c.id, cjson.encode({ id = ARGV[5], type = 'case.opened', timestamp = ARGV[6],
  data = { caseId = c.id, account = c.account, campaign = c.campaign, channel = c.channel, status = c.status, suspicious = c.suspicious, reportId = c.reports[1].reportId } }), ARGV[10], E.flag(ARGV[11]))
return cjson.encode({ outcome = 'opened', caseId = c.id, status = c.status })
