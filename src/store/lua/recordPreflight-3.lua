--! argv 6
--[[
  Records a preflight decision in the account's recent decisions (the desk's account page
  lists them), and for block and review appends the event announcing it (campaign.blocked,
  campaign.review) with the account's next seq, in the same step.
  KEYS[1] recent preflight decisions (list, newest first)   KEYS[2] account meta (hash: holds the seq)
  KEYS[3] outbox (stream)
  ARGV[1] the decision JSON   ARGV[2] decisions kept   ARGV[3] the event JSON ('' none)
  ARGV[4] account (the event's ordering key)   ARGV[5] outbox wake-up channel
  ARGV[6] '1': the event goes to the outbox; '0': the gateway has no webhook endpoint (lib/events.lua)
  Reply: the event's seq, or 0 when there is no event
]]
--- @include "events"
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
if ARGV[3] == '' then return 0 end
return E.append(KEYS[3], KEYS[2], 'seq', ARGV[4], ARGV[3], ARGV[5], E.flag(ARGV[6]))
