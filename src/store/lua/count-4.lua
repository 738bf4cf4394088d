--[[
  Adds counts to an account's hour buckets (sent, delivered, …), all items of one batch
  for one account at once; with an idempotency key, a batch sent twice counts once.

  KEYS[1] hour buckets (hash)      KEYS[3] account meta (hash)
  KEYS[2] per-campaign counters    KEYS[4] idempotency marker
  ARGV[1] now, ms      ARGV[2] bucket TTL, ms     ARGV[3] idempotency TTL, ms ('0': none)
  ARGV[4…] items of five: channel, hour, campaign ('' none), letter, count
  Reply: 1 when counted, 0 for a repeated batch
]]
if ARGV[3] ~= '0' then
  if not redis.call('SET', KEYS[4], '1', 'NX', 'PX', ARGV[3]) then return 0 end
end
redis.call('HSETNX', KEYS[3], 'createdAt', ARGV[1])
for i = 4, #ARGV, 5 do
  local ch, hour, campaign, letter, n = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3], ARGV[i + 4]
  redis.call('HINCRBY', KEYS[1], ch .. '|' .. hour .. '|' .. letter, n)
  if campaign ~= '' then
    redis.call('HINCRBY', KEYS[2], ch .. '|' .. hour .. '|' .. campaign .. '|' .. letter, n)
  end
end
-- Buckets past the TTL are never read again: drop a few each time.
local keep = math.floor(tonumber(ARGV[2]) / 3600000)
local hour = math.floor(tonumber(ARGV[1]) / 3600000)
for back = keep, keep + 3 do
  for _, ch in ipairs({ 'email', 'sms' }) do
    local p = ch .. '|' .. (hour - back) .. '|'
    redis.call('HDEL', KEYS[1], p .. 's', p .. 'd', p .. 'c', p .. 'h', p .. 'u', p .. 'a', p .. 'f')
  end
end
redis.call('PEXPIRE', KEYS[1], ARGV[2])
redis.call('PEXPIRE', KEYS[2], ARGV[2])
return 1
