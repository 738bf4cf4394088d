--[[
  Takes outbox entries just read or claimed for one endpoint group (readEvents,
  claimEvents) and admits those with an ordering key, in stream order, in the step that
  read them: one key's events go to one endpoint one at a time, in order. When the key
  (account, or case:<id>) has nothing in flight or in retry, the entry becomes its head and
  is sent; when its own event is the head already (a gateway died while sending it) it is
  sent again; otherwise it is acknowledged and parked behind the head, to go when the
  events before it are delivered or dead (lib/release.lua).
  The order hash holds, per "<group>|<key>", the head's event id and then the parked retry
  members (JSON: g, a, e, t, k), one per line (JSON never holds a raw line break).
  Entries with no event, and events of a type the endpoint does not want, are acknowledged:
  nothing to send. An event with no readable id is handed out unadmitted (the worker makes
  it a dead letter).
  admit(outbox, order, group, entries, wanted, out): entries as XREADGROUP gives them
  ({id, {field, value, ...}}, false for one deleted meanwhile); wanted: type → true, or nil
  for every type; appends id, event, order field ('' : none), event id ('' : unreadable) to
  `out` for each entry to send.
]]
local function admit(outbox, order, group, entries, wanted, out)
  local skip = {}
  for _, entry in ipairs(entries) do
    local id, fields = entry[1], entry[2]
    local raw, key
    if fields then
      for i = 1, #fields, 2 do
        if fields[i] == 'event' then raw = fields[i + 1] elseif fields[i] == 'a' then key = fields[i + 1] end
      end
    end
    local ok, e = false, nil
    if raw then ok, e = pcall(cjson.decode, raw) end
    if ok and type(e) ~= 'table' then ok = false end
    local eventId = ok and type(e.id) == 'string' and e.id or ''
    if not raw or (wanted and ok and type(e.type) == 'string' and not wanted[e.type]) then
      skip[#skip + 1] = id
    elseif not key or key == '' or eventId == '' then
      out[#out + 1] = id; out[#out + 1] = raw; out[#out + 1] = ''; out[#out + 1] = eventId
    else
      local field = group .. '|' .. key
      -- Most often the key has nothing in flight: one command makes the entry its head.
      local head, cur = eventId, nil
      if redis.call('HSETNX', order, field, eventId) == 0 then
        cur = redis.call('HGET', order, field)
        local nl = string.find(cur, '\n', 1, true)
        head = nl and string.sub(cur, 1, nl - 1) or cur
      end
      if head == eventId then
        out[#out + 1] = id; out[#out + 1] = raw; out[#out + 1] = field; out[#out + 1] = eventId
      else
        local ms = tonumber(string.match(id, '^(%d+)'))
        local member = cjson.encode({ g = group, a = 1, e = raw, t = ms, k = field })
        redis.call('XACK', outbox, group, id)
        redis.call('HSET', order, field, cur .. '\n' .. member)
      end
    end
  end
  if #skip > 0 then redis.call('XACK', outbox, group, unpack(skip)) end
end

-- The types an endpoint wants from ARGV[from..]: 'all' (nil: every type), or 'only' and the
-- types, none or more.
local function wantedTypes(from)
  if ARGV[from] == 'all' then return nil end
  if ARGV[from] ~= 'only' then error('admit: the types start with all or only, got ' .. tostring(ARGV[from])) end
  local wanted = {}
  for i = from + 1, #ARGV do wanted[ARGV[i]] = true end
  return wanted
end
