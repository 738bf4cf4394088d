--! argv 11
--[[
  An admin adds or removes a suppression (an account's, or the global list's): the change,
  the event announcing it and the audit entry in one step, so none exists without the others.
  KEYS[1] suppressions (hash)   KEYS[2] where the ordering key's seq is kept (account meta,
  or the global list's meta)    KEYS[3] outbox (stream)   KEYS[4] audit (stream)
  All four in one slot: the account's partition, or the global list's.
  ARGV[1] 'add' or 'remove'   ARGV[2] address   ARGV[3] suppression record JSON (add)
  ARGV[4] event JSON (recipient.suppressed or recipient.unsuppressed; written only on a change)
  ARGV[5] ordering key (account, or 'global')   ARGV[6] outbox wake-up channel
  ARGV[7] audit entry, JSON object of strings ('result' is added: added/exists, removed/absent)
  ARGV[8] audit entries kept (about)
  ARGV[9] '1': the event goes to the outbox; '0': the gateway has no webhook endpoint (lib/events.lua)
  ARGV[10] for a global list: the pub/sub channel its changes are announced on
  (keys.globalChanged), '' for an account's
  ARGV[11] the list's channel (email, sms)
  Reply, JSON: {changed, old} where old is the removed record's JSON (remove only)
]]
--- @include "events"
local changed = false
local old = nil
if ARGV[1] == 'add' then
  changed = redis.call('HSETNX', KEYS[1], ARGV[2], ARGV[3]) == 1
else
  old = redis.call('HGET', KEYS[1], ARGV[2])
  if old then
    redis.call('HDEL', KEYS[1], ARGV[2])
    changed = true
  end
end
if changed then
  E.append(KEYS[3], KEYS[2], 'seq', ARGV[5], ARGV[4], ARGV[6], E.flag(ARGV[9]))
  -- Every gateway's mirror of the global lists re-reads the address (globalMirror.ts).
  if ARGV[10] ~= '' then redis.call('PUBLISH', ARGV[10], ARGV[11] .. '\n' .. ARGV[2]) end
end
local entry = cjson.decode(ARGV[7])
local results = { add = { [true] = 'added', [false] = 'exists' }, remove = { [true] = 'removed', [false] = 'absent' } }
entry.result = results[ARGV[1]][changed]
local fields = {}
for k, v in pairs(entry) do
  fields[#fields + 1] = k
  fields[#fields + 1] = v
end
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[8], '*', unpack(fields))
if old then return cjson.encode({ changed = changed, old = old }) end
return cjson.encode({ changed = changed })
