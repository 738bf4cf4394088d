--! argv 8+
--[[
  An event exhausted its retries (or cannot be sent): append it to the partition's
  dead-letter stream and let go of it (lib/release.lua) in one step, in one slot, so it
  is neither lost nor left pending, and the next event of its ordering key goes on.
  KEYS[1] outbox (stream)   KEYS[2] retry set   KEYS[3] order (hash)   KEYS[4] dead letters (stream)
  ARGV[1] 'stream' or 'retry'   ARGV[2] consumer group   ARGV[3] entry id or retry member
  ARGV[4] order field ('' : no ordering key)   ARGV[5] now, ms   ARGV[6] the event id ('' : unreadable)
  ARGV[7] dead letters kept (about; MAXLEN ~)   ARGV[8..] the dead letter's field/value pairs
  Reply: 1 when let go, 0 when it was no longer ours (the dead letter is written all the same:
  at least once)
]]
redis.call('XADD', KEYS[4], 'MAXLEN', '~', ARGV[7], '*', unpack(ARGV, 8))
--- @include "release"
local done = release(KEYS[1], KEYS[2], KEYS[3], ARGV[1], ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6])
return done
