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
--- @include "release"
return release(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
