--! argv 15
--[[
  Applies a warn or suspend decision with its guards (lib/decision.lua), and writes the
  events announcing it in the same step. A report's rate decision is taken inside
  recordMessage; this is for the desk's and the investigation rules' suspensions.

  KEYS[1] account meta (hash)      KEYS[4] recent report ids (list)
  KEYS[2] warnings (sorted set)    KEYS[5] outbox (stream)
  KEYS[3] per-campaign counters
  ARGV[1]  action: warn | suspend      ARGV[8]  event data JSON (evidence; account, kind …)
  ARGV[2]  now, ms                     ARGV[9]  timestamp, ISO 8601
  ARGV[3]  warning cooldown, ms        ARGV[10] suspension reason for a direct suspend
  ARGV[4]  count warnings since, ms    ARGV[11] campaign evidence: channel|first hour|letter
  ARGV[5]  warnings that suspend       ARGV[12] warnings kept for, ms
  ARGV[6]  warned event id
  ARGV[7]  suspended event id          ARGV[13] account (the events' ordering key)
                                       ARGV[14] outbox wake-up channel
                                       ARGV[15] '1': events go to the outbox; '0': no webhook endpoint
  Reply, JSON: {outcome, warnings} where outcome is none, cooldown, warned, suspended
]]
--- @include "events"
--- @include "decision"
return cjson.encode(Rate.apply({ meta = KEYS[1], warnings = KEYS[2], campaigns = KEYS[3], samples = KEYS[4], outbox = KEYS[5] }, {
  action = ARGV[1], now = tonumber(ARGV[2]), cooldownMs = tonumber(ARGV[3]), warningsSince = ARGV[4],
  suspendAfter = tonumber(ARGV[5]), warnEventId = ARGV[6], suspendEventId = ARGV[7], data = cjson.decode(ARGV[8]),
  timestamp = ARGV[9], reason = ARGV[10], campaignSpec = ARGV[11], warningsKeptMs = tonumber(ARGV[12]),
  account = ARGV[13], wake = ARGV[14], events = E.flag(ARGV[15]) }))
