--! argv 6
--[[
  The head of an ordering key was delivered (or went to the dead letters): let go of it
  (XACK in the stream, or ZREM from the retry set) and make the next parked event of the
  key the head, due now in the retry set; with nothing parked the key is free again.
  KEYS[1] outbox (stream)   KEYS[2] retry set (sorted set)   KEYS[3] order (hash)
  ARGV[1] 'stream' or 'retry'   ARGV[2] consumer group   ARGV[3] entry id or retry member
  ARGV[4] order field ('' : the event has no ordering key)   ARGV[5] now, ms
  ARGV[6] the event id
  Reply: 1 when let go, 0 when it was no longer ours (another gateway finished it)
]]
local done
if ARGV[1] == 'stream' then
  done = redis.call('XACK', KEYS[1], ARGV[2], ARGV[3])
else
  done = redis.call('ZREM', KEYS[2], ARGV[3])
end
if ARGV[4] == '' then return done end
local cur = redis.call('HGET', KEYS[3], ARGV[4])
if not cur then return done end
local nl = string.find(cur, '\n', 1, true)
local head = cur
if nl then head = string.sub(cur, 1, nl - 1) end
if head ~= ARGV[6] then return done end
if not nl then
  redis.call('HDEL', KEYS[3], ARGV[4])
  return done
end
local rest = string.sub(cur, nl + 1)
local nl2 = string.find(rest, '\n', 1, true)
local nextMember = rest
local tail = ''
if nl2 then
  nextMember = string.sub(rest, 1, nl2 - 1)
  tail = string.sub(rest, nl2)
end
local nextId = cjson.decode(cjson.decode(nextMember).e).id
redis.call('ZADD', KEYS[2], ARGV[5], nextMember)
redis.call('HSET', KEYS[3], ARGV[4], nextId .. tail)
return done
