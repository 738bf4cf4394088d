--! argv 3
--[[
  Takes the retries that are due and leases them to the caller: their score moves to the
  end of the lease, so other gateways do not send them too; when the caller dies, the lease
  runs out and another gateway takes them.
  KEYS[1] retry set (sorted set)
  ARGV[1] now, ms   ARGV[2] lease end, ms   ARGV[3] at most this many
  Reply: the leased members
]]
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, m in ipairs(due) do
  redis.call('ZADD', KEYS[1], 'XX', ARGV[2], m)
end
return due
