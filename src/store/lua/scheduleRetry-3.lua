--! argv 6
--[[
  A delivery from the outbox failed: acknowledge the stream entry and keep the event in the
  partition's retry set in the same step, so it is neither lost (crash between the two)
  nor delivered by two paths. An entry some other consumer already acknowledged (it took
  the entry over and delivered it) is left alone.
  The event stays the head of its ordering key: later events of the key wait behind it.
  KEYS[1] outbox (stream)   KEYS[2] retry set (sorted set, same slot)   KEYS[3] order (hash)
  ARGV[1] consumer group    ARGV[2] stream entry id
  ARGV[3] due time, ms      ARGV[4] retry member (JSON: endpoint group, attempt, event, key)
  ARGV[5] order field ('' : no ordering key)   ARGV[6] event id
  Reply: 1 when scheduled, 0 when the entry was no longer pending
]]
if redis.call('XACK', KEYS[1], ARGV[1], ARGV[2]) == 0 then return 0 end
redis.call('ZADD', KEYS[2], ARGV[3], ARGV[4])
if ARGV[5] ~= '' then redis.call('HSETNX', KEYS[3], ARGV[5], ARGV[6]) end
return 1
