--! argv 3
--[[
  An account's window figures for the admin and desk reads, from the running totals kept
  beside the hour buckets (lib/windows.lua). Writes nothing: when the totals are behind
  this hour it answers what rolling them would give, in the same atomic step as reading
  them (two round trips could see a roll, and its dropped buckets, in between).

  KEYS[1] hour buckets (hash)
  ARGV[1] channel    ARGV[2] hour (now / 1 h)    ARGV[3] window lengths in hours, comma-separated
  Reply: per window: sent, complaints, hard bounces, unverified complaints
]]
--- @include "windows"
local wins = W.windows(ARGV[3])
local figures = W.figures(KEYS[1], ARGV[1], tonumber(ARGV[2]), wins)
local reply = {}
for _, H in ipairs(wins.list) do
  local f = figures[H]
  reply[#reply + 1] = f.s
  reply[#reply + 1] = f.c
  reply[#reply + 1] = f.h
  reply[#reply + 1] = f.u
end
return reply
