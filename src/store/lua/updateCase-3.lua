--! argv 8
--[[
  Changes a case's status, outcome and/or adds a note; writes case.updated in the same step.
  A case that is resolved or dismissed no longer collects new reports for its campaign.
  The outcome (confirmed, unfounded) belongs to a resolved case: it is set with the status
  resolved and dropped when the case leaves resolved. The account's set of confirmed cases
  lives in the account's slot, another slot: Store.updateCase writes it after this step.
  KEYS[1] the case record   KEYS[2] the campaign's open-case pointer   KEYS[3] cases outbox
  ARGV[1] new status ('' keep)   ARGV[2] note JSON ('' none)   ARGV[3] event id
  ARGV[4] timestamp ISO          ARGV[5] who    ARGV[6] outbox wake-up channel
  ARGV[7] outcome ('' keep; only with the status resolved)
  ARGV[8] '1': the event goes to the outbox; '0': the gateway has no webhook endpoint (lib/events.lua)
  Reply: the case JSON, or false when there is no such case
]]
--- @include "events"
local raw = redis.call('HGET', KEYS[1], 'data')
if not raw then return false end
local c = cjson.decode(raw)
local changes = {}
if ARGV[1] ~= '' and ARGV[1] ~= c.status then
  changes[#changes + 1] = 'status'
  c.history = c.history or {}
  table.insert(c.history, { at = ARGV[4], by = ARGV[5], from = c.status, to = ARGV[1] })
  c.status = ARGV[1]
  if (c.status == 'resolved' or c.status == 'dismissed') and redis.call('GET', KEYS[2]) == c.id then
    redis.call('DEL', KEYS[2])
  end
  if c.status ~= 'resolved' and c.outcome then
    c.outcome = nil
    changes[#changes + 1] = 'outcome'
  end
end
if ARGV[7] ~= '' and ARGV[7] ~= c.outcome then
  c.outcome = ARGV[7]
  changes[#changes + 1] = 'outcome'
end
if ARGV[2] ~= '' then
  changes[#changes + 1] = 'note'
  c.notes = c.notes or {}
  table.insert(c.notes, cjson.decode(ARGV[2]))
end
c.updatedAt = ARGV[4]
raw = cjson.encode(c)
redis.call('HSET', KEYS[1], 'data', raw, 'status', c.status)
E.append(KEYS[3], KEYS[1], 'seq', 'case:' .. c.id, cjson.encode({ id = ARGV[3], type = 'case.updated', timestamp = ARGV[4],
  data = { caseId = c.id, account = c.account, campaign = c.campaign, status = c.status, outcome = c.outcome, change = table.concat(changes, ','), by = ARGV[5] } }), ARGV[6], E.flag(ARGV[8]))
return raw
