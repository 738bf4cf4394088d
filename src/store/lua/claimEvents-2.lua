--! argv 6+
--[[
  Takes over outbox entries another consumer (a crashed or stalled gateway) left pending
  longer than the idle time, and admits them as readEvents does (lib/admit.lua): an entry
  that is its key's head is sent again, one whose key is free becomes the head, any other
  waits behind the head. Entries trimmed while pending cannot be sent: acknowledged.
  KEYS[1] outbox (stream)   KEYS[2] order (hash, same slot)
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] idle time, ms   ARGV[4] cursor
  ARGV[5] at most this many entries
  ARGV[6] 'all' (every event type) or 'only', then ARGV[7..] the types the endpoint wants
  Reply: { next cursor, entries taken over, the entries to send as readEvents gives them }
]]
--- @include "admit"
local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4], 'COUNT', tonumber(ARGV[5]))
if r[3] and #r[3] > 0 then redis.call('XACK', KEYS[1], ARGV[1], unpack(r[3])) end
local out = {}
admit(KEYS[1], KEYS[2], ARGV[1], r[2], wantedTypes(6), out)
return { r[1], #r[2], out }
