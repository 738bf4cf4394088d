--! argv 3
--[[
  A retry failed again: replace the leased member with the next attempt's, due later.
  A member that is gone was finished by another gateway (its lease had run out): nothing
  to schedule.
  KEYS[1] retry set (sorted set)
  ARGV[1] the leased member   ARGV[2] due time, ms   ARGV[3] the next attempt's member
  Reply: 1 when rescheduled, 0 when the member was gone
]]
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
return 1
