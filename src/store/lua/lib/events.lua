-- Appends an event to an outbox with the next number of its ordering key, in the step that
-- writes the state it announces (receivers order and deduplicate by (key, seq)). The
-- stream entry carries the key beside the event (`a`), so the delivery worker can keep one
-- key's events in order without parsing them. A PUBLISH wakes the workers: they poll only
-- slowly on their own.
--   seqHash, seqField: where the key's last number is kept (account meta 'seq'; a case's record)
--   json: the event, a JSON object as the caller encoded it (its bytes are kept, the
--         number is added before the closing brace)
--   wake: the wake-up channel ('' for none)
local E = {}
function E.append(outbox, seqHash, seqField, key, json, wake)
  local seq = redis.call('HINCRBY', seqHash, seqField, 1)
  local event = string.sub(json, 1, -2) .. ',"seq":' .. seq .. '}'
  redis.call('XADD', outbox, '*', 'event', event, 'a', key)
  if wake ~= '' then redis.call('PUBLISH', wake, outbox) end
  return seq
end
