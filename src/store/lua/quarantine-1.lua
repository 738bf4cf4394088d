--! argv 2
--[[
  Keeps an unparseable message for inspection, newest first, bounded.
  KEYS[1]  the quarantine list
  ARGV[1]  the entry (JSON: id, reason, meta, the message's first bytes)
  ARGV[2]  how many entries to keep
  Reply:   the list's length after trimming
]]
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[2]) - 1)
return redis.call('LLEN', KEYS[1])
