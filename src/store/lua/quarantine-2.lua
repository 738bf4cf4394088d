--! argv 4
--[[
  Keeps an unparseable message for inspection: the entry in a key of its own with a TTL
  (a large head expires with it, and no one key holds them all), its id at the front of the
  index list, which is trimmed to the newest N. An entry trimmed from the index expires by
  its TTL; an index id whose entry expired is skipped when read.
  KEYS[1] the index (list of ids, newest first)   KEYS[2] the entry (string, same slot)
  ARGV[1] the entry id   ARGV[2] the entry (JSON: id, reason, meta, the message's first bytes)
  ARGV[3] how many ids the index keeps   ARGV[4] time to live of the entry, ms
  Reply:   the index's length after trimming
]]
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[4])
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, tonumber(ARGV[3]) - 1)
return redis.call('LLEN', KEYS[1])
