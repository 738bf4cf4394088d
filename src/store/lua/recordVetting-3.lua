--! argv 8
--[[
  Records a vetting result with the event that announces it: the result heads the
  account's history (trimmed to the newest ARGV[3]), the account's meta carries the latest
  decision (preflight and the investigation rules read it), and account.vetted is written
  to the outbox in the same step.
  KEYS[1] vetting history (list)   KEYS[2] account meta (hash)   KEYS[3] outbox (stream)
  ARGV[1] result JSON   ARGV[2] event JSON   ARGV[3] results kept   ARGV[4] decision   ARGV[5] score
  ARGV[6] account (the event's ordering key)   ARGV[7] outbox wake-up channel
  ARGV[8] '1': the event goes to the outbox; '0': the gateway has no webhook endpoint (lib/events.lua)
  Reply: the history's length
]]
--- @include "events"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
redis.call('HSET', KEYS[2], 'vetting', ARGV[4], 'vettingScore', ARGV[5])
E.append(KEYS[3], KEYS[2], 'seq', ARGV[6], ARGV[2], ARGV[7], E.flag(ARGV[8]))
return redis.call('LLEN', KEYS[1])
