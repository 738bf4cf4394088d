--! argv 4+
--[[
  Reads new outbox entries for one endpoint group and admits them in the same step
  (lib/admit.lua): one script per stream read instead of one per event, and the entries are
  admitted in stream order, whichever gateway reads them.
  KEYS[1] outbox (stream)   KEYS[2] order (hash, same slot)
  ARGV[1] consumer group   ARGV[2] consumer   ARGV[3] at most this many entries
  ARGV[4] 'all' (every event type) or 'only', then ARGV[5..] the types the endpoint wants
  Reply: the entries to send, four items each: stream entry id, event, order field
  ("<group>|<key>", '' : none), event id ('' : unreadable)
]]
--- @include "admit"
local out = {}
local r = redis.call('XREADGROUP', 'GROUP', ARGV[1], ARGV[2], 'COUNT', tonumber(ARGV[3]), 'STREAMS', KEYS[1], '>')
if r then admit(KEYS[1], KEYS[2], ARGV[1], r[1][2], wantedTypes(4), out) end
return out
