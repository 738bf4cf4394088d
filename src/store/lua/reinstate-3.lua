--! argv 4
--[[
  Lifts a suspension: the account is active again with no warnings on record, and the
  account.reinstated event is written in the same step.
  KEYS[1] account meta (hash)   KEYS[2] warnings (sorted set)   KEYS[3] outbox (stream)
  ARGV[1] the account.reinstated event JSON   ARGV[2] account   ARGV[3] outbox wake-up channel
  ARGV[4] '1': the event goes to the outbox; '0': the gateway has no webhook endpoint (lib/events.lua)
  Reply: 1 when the account was suspended, 0 when there was nothing to lift
]]
--- @include "events"
if redis.call('HGET', KEYS[1], 'suspended') ~= '1' then return 0 end
redis.call('HDEL', KEYS[1], 'suspended', 'suspendedAt', 'suspendReason', 'suspendRule', 'suspendEvidence', 'lastWarnAt')
redis.call('DEL', KEYS[2])
E.append(KEYS[3], KEYS[1], 'seq', ARGV[2], ARGV[1], ARGV[3], E.flag(ARGV[4]))
return 1
