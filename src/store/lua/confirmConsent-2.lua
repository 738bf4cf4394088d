--[[
  Records a double opt-in confirmation that we witnessed, with consent.confirmed, once:
  the same link confirmed again (a double click, a retried POST) changes nothing.
  KEYS[1] the account's consents (hash)   KEYS[2] outbox (stream)
  ARGV[1] field (w|<channel>|<address>)   ARGV[2] proof JSON   ARGV[3] request id
  ARGV[4] the consent.confirmed event JSON
  Reply: 1 when recorded, 0 when this request was already confirmed (the stored proof stays)
]]
assert(#KEYS == 2 and #ARGV == 4, 'confirmConsent: 2 keys and 4 arguments')
local old = redis.call('HGET', KEYS[1], ARGV[1])
if old then
  local ok, prev = pcall(cjson.decode, old)
  if ok and type(prev) == 'table' and prev.requestId == ARGV[3] then return 0 end
end
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('XADD', KEYS[2], '*', 'event', ARGV[4])
return 1
