--! argv 1
--[[
  Counts one hit in a fixed window (rate limits): one command instead of MULTI/INCR/
  PEXPIRE/EXEC, and the TTL is set only when the window opens.
  KEYS[1] window counter    ARGV[1] TTL, ms
  Reply: the count so far
]]
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
