--! argv 3+
--[[
  Records a received report.
  KEYS[1]  the report record (hash)
  ARGV[1]  time to live, milliseconds
  ARGV[2…] field, value, field, value…
  Reply:   1 when created, 0 when a record with this id already existed (left unchanged)
]]
if redis.call('EXISTS', KEYS[1]) == 1 then
  return 0
end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
