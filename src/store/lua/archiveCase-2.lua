--! argv 3
--[[
  Archives a case closed long enough ago: it leaves the list of cases (the desk's queue,
  GET /v1/cases) and its record gets a time to live; until then it still opens by its id.
  An open or investigating case, or one changed after the cutoff, stays as it is.
  KEYS[1] all cases (sorted set)   KEYS[2] the case record (hash: data JSON, status)
  ARGV[1] case id   ARGV[2] cutoff, ISO 8601 (archived when last updated at or before it)
  ARGV[3] time to live of the archived record, ms
  Reply: 1 archived (or its record was gone already: the id is dropped), 0 kept
]]
local status = redis.call('HGET', KEYS[2], 'status')
if not status then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
if status ~= 'resolved' and status ~= 'dismissed' then return 0 end
-- ISO 8601 timestamps of one format (toISOString, UTC) sort as strings.
if cjson.decode(redis.call('HGET', KEYS[2], 'data')).updatedAt > ARGV[2] then return 0 end
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('PEXPIRE', KEYS[2], ARGV[3])
return 1
