--! argv 5
--[[
  Before a stream entry is sent: one ordering key's events go to one endpoint one at a time,
  in order. When the key (account, or case:<id>) has nothing in flight or in retry, this
  event becomes its head and is sent; otherwise it is acknowledged in the stream and parked
  behind the head, to go when the events before it are delivered or dead (releaseEvent).
  The order hash holds, per "<group>|<key>", the head's event id and then the parked retry
  members, one per line (JSON never holds a raw line break).
  KEYS[1] outbox (stream)   KEYS[2] order (hash, same slot)
  ARGV[1] consumer group   ARGV[2] stream entry id   ARGV[3] order field "<group>|<key>"
  ARGV[4] event id         ARGV[5] the retry member to park (JSON: g, a, e, t, k)
  Reply: 1 send it (it is the head), 0 parked, 2 no longer pending here (someone else has it)
]]
local cur = redis.call('HGET', KEYS[2], ARGV[3])
if not cur then
  redis.call('HSET', KEYS[2], ARGV[3], ARGV[4])
  return 1
end
local nl = string.find(cur, '\n', 1, true)
local head = cur
if nl then head = string.sub(cur, 1, nl - 1) end
-- Already the head: a gateway that died while sending it left it to us.
if head == ARGV[4] then return 1 end
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 2 end
redis.call('HSET', KEYS[2], ARGV[3], cur .. '\n' .. ARGV[5])
return 0
