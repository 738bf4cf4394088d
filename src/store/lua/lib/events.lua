-- Appends an event to an outbox with the next number of its ordering key, in the step that
-- writes the state it announces (receivers order and deduplicate by (key, seq)). The
-- stream entry carries the key beside the event (`a`), so the delivery worker can keep one
-- key's events in order without parsing them. A PUBLISH wakes the workers: they poll only
-- slowly on their own.
--   seqHash, seqField: where the key's last number is kept (account meta 'seq'; a case's record)
--   json: the event, a JSON object as the caller encoded it (its bytes are kept, the
--         number is added before the closing brace)
--   wake: the wake-up channel ('' for none)
--   write: false when the gateway has no webhook endpoint: nobody would read the outbox, so
--          the event is neither appended nor announced, but the key's number still advances
--          (an endpoint configured later sees each key's numbers rise, gaps where nothing was
--          sent). A boolean, never absent: a caller that forgot it fails loudly.
local E = {}
function E.append(outbox, seqHash, seqField, key, json, wake, write)
  if type(write) ~= 'boolean' then error('E.append: the outbox flag (write) must be a boolean') end
  local seq = redis.call('HINCRBY', seqHash, seqField, 1)
  if not write then return seq end
  local event = string.sub(json, 1, -2) .. ',"seq":' .. seq .. '}'
  redis.call('XADD', outbox, '*', 'event', event, 'a', key)
  if wake ~= '' then redis.call('PUBLISH', wake, outbox) end
  return seq
end

-- The outbox flag as the scripts take it in ARGV: '1' write events, '0' the gateway has no
-- webhook endpoint (Store: outboxFlag).
function E.flag(v)
  if v == '1' then return true elseif v == '0' then return false end
  error('events: the outbox flag must be 1 or 0, got ' .. tostring(v))
end
