--! argv 2
--[[
  Counts hits in a fixed window (rate limits): one command instead of MULTI/INCR/
  PEXPIRE/EXEC, and the TTL is set only when the window opens.
  KEYS[1] window counter    ARGV[1] TTL, ms    ARGV[2] hits to add
  Reply: the count so far
]]
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
