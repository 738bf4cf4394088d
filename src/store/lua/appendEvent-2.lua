--! argv 3
--[[
  Appends an event that announces no other state change of its own (campaign.blocked,
  campaign.review) to the account's outbox, with the account's next seq.
  KEYS[1] account meta (hash: holds the seq)   KEYS[2] outbox (stream)
  ARGV[1] the event JSON   ARGV[2] account   ARGV[3] outbox wake-up channel
  Reply: the event's seq
]]
--- @include "events"
return E.append(KEYS[2], KEYS[1], 'seq', ARGV[2], ARGV[1], ARGV[3])
