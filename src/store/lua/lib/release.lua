--[[
  Lets go of a delivered or dead event (releaseEvents, deadLetter): XACK of the stream entry
  or ZREM of the retry member; when it is its ordering key's head, the next parked event of
  the key becomes the head, due now in the retry set; with nothing parked the key is free again.
  release(outbox, retry, order, kind, group, entry, field, now, eventId) → done (1 let go,
  0 not ours), promoted (true when a parked event was made due)
]]
local function release(outbox, retry, order, kind, group, entry, field, now, eventId)
  local done
  if kind == 'stream' then
    done = redis.call('XACK', outbox, group, entry)
  else
    done = redis.call('ZREM', retry, entry)
  end
  if field == '' then return done, false end
  local cur = redis.call('HGET', order, field)
  if not cur then return done, false end
  local nl = string.find(cur, '\n', 1, true)
  local head = cur
  if nl then head = string.sub(cur, 1, nl - 1) end
  if head ~= eventId then return done, false end
  if not nl then
    redis.call('HDEL', order, field)
    return done, false
  end
  local rest = string.sub(cur, nl + 1)
  local nl2 = string.find(rest, '\n', 1, true)
  local nextMember = rest
  local tail = ''
  if nl2 then
    nextMember = string.sub(rest, 1, nl2 - 1)
    tail = string.sub(rest, nl2)
  end
  local nextId = cjson.decode(cjson.decode(nextMember).e).id
  redis.call('ZADD', retry, now, nextMember)
  redis.call('HSET', order, field, nextId .. tail)
  return done, true
end
