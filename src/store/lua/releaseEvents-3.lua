--! argv 6+
--[[
  Deliveries of one outbox that finished within a few ms of each other (the worker batches
  them): let go of each (XACK in the stream, or ZREM from the retry set); for the head of an
  ordering key, the next parked event of the key becomes the head, due now in the retry
  set, and with nothing parked the key is free again (lib/release.lua). One script per
  outbox and batch, not one per event.
  KEYS[1] outbox (stream)   KEYS[2] retry set (sorted set)   KEYS[3] order (hash)
  ARGV[1] now, ms   then five per event: 'stream' or 'retry', consumer group, entry id or
  retry member, order field ('' : no ordering key), event id
  Reply: per event, 0 no longer ours (another gateway finished it), 1 let go, 2 let go
  and the next event of its key is due now
]]
if (#ARGV - 1) % 5 ~= 0 then return redis.error_reply('ERR releaseEvents: five arguments per event after now, got ' .. (#ARGV - 1)) end
--- @include "release"
local out = {}
for i = 2, #ARGV, 5 do
  local done, promoted = release(KEYS[1], KEYS[2], KEYS[3], ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[1], ARGV[i + 4])
  out[#out + 1] = promoted and 2 or done
end
return out
