--! argv 7
--[[
  Records a double opt-in confirmation that we witnessed, with consent.confirmed, once:
  the same link confirmed again (a double click, a retried POST) changes nothing.
  KEYS[1] the account's consents (hash)   KEYS[2] account meta (hash: the event's seq)
  KEYS[3] outbox (stream)
  ARGV[1] field (w|<channel>|<address>)   ARGV[2] proof JSON   ARGV[3] request id
  ARGV[4] the consent.confirmed event JSON   ARGV[5] account (the event's ordering key)
  ARGV[6] outbox wake-up channel
  ARGV[7] '1': the event goes to the outbox; '0': the gateway has no webhook endpoint (lib/events.lua)
  Reply: 1 when recorded, 0 when this request was already confirmed (the stored proof stays)
]]
--- @include "events"
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, prev = pcall(cjson.decode, old)
  if ok and type(prev) == 'table' and prev.requestId == ARGV[3] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
E.append(KEYS[3], KEYS[2], 'seq', ARGV[5], ARGV[4], ARGV[6], E.flag(ARGV[7]))
return 1
