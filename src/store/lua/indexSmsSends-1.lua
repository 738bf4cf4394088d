--[[
  Adds sends to one number's recent-sends list, keeps the newest, renews its lifetime.
  KEYS[1] the number's list (newest first)
  ARGV[1] entries kept   ARGV[2] lifetime, ms   ARGV[3..] entries, oldest first
  Reply: the list's length
]]
for i = 3, #ARGV do redis.call('LPUSH', KEYS[1], ARGV[i]) end
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[1]) - 1)
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('LLEN', KEYS[1])
