--[[
  Running window totals beside an account's hour buckets. Included (`--- @include "windows"`)
  by recordMessage, count and figures; not a script of its own.

  Why: the figures for a decision are "sum of the buckets in (hour - H, hour]" for each
  window H. Summing them per report meant a 504-field HMGET (168 h x 3 letters) on every
  complaint and bounce, the largest Redis cost per message. Instead each window keeps a
  running total that moves with the hour: every bucket increment also increments the totals
  whose window holds it, and when the hour moves on, the buckets that leave a window are
  subtracted (one hour of buckets per hour). A report then reads a handful of fields.

  Fields, in the hour-bucket hash itself, so a script still touches one key and one slot:
    <ch>|<hour>|<letter>  the buckets, as before
    <ch>|w<H>|<letter>    total of window H = sum of the buckets in (r - H, r], for the letters
                          anyone sums (s c h u); missing reads as 0
    <ch>|r                r, the hour the totals are rolled to
    <ch>|ws               the windows they were built for ("24,168"): a changed configuration
                          rebuilds them instead of trusting totals of other windows

  Invariants that keep the totals exact:
  - no bucket after r: an increment for a later hour rolls to that hour first, so rolling
    forward only subtracts, it never has to add buckets it did not see;
  - a bucket is dropped (HDEL) only after it left every window, one hour later than needed,
    so an instance whose clock is one hour behind still sums exact buckets; buckets that old
    are not written at all. Totals are rolled before their buckets are dropped.
  - no r (data written before the totals, or a key that expired as a whole) means the totals
    are rebuilt once by summing the buckets.
  Writes go to an existing hash (HSET keeps its PEXPIRE) or come with a bucket increment,
  which creates a missing key with a new bucket, after which the calling script sets the
  TTL (W.add tells it); nothing is written to a missing key unless a bucket is.
]]
local W = {}
-- The letters anyone sums (totalled), and every letter a bucket had (the Counter type in
-- src/store/store.ts; d a f e are no longer written, earlier versions wrote them):
-- dropping an old hour drops them all.
local LETTERS = { 's', 'c', 'h', 'u' }
local TOTALLED = {}
for _, l in ipairs(LETTERS) do TOTALLED[l] = true end
local ALL_LETTERS = { 's', 'd', 'c', 'u', 'a', 'h', 'f', 'e' }
local states = {}

-- '24,168' -> { list = {24, 168}, max = 168, spec = '24,168' }
function W.windows(spec)
  local list, max = {}, 0
  for h in string.gmatch(spec, '%d+') do
    h = tonumber(h)
    list[#list + 1] = h
    if h > max then max = h end
  end
  return { list = list, max = max, spec = table.concat(list, ',') }
end

-- HMGET in slices: unpack() of thousands of fields would overflow Lua's C stack.
local function hmget(key, fields)
  local out = {}
  for i = 1, #fields, 1000 do
    local part = redis.call('HMGET', key, unpack(fields, i, math.min(i + 999, #fields)))
    for j = 1, #part do out[i + j - 1] = part[j] end
  end
  return out
end

local function zeros(wins)
  local tot = {}
  for _, H in ipairs(wins.list) do tot[H] = { s = 0, c = 0, h = 0, u = 0 } end
  return tot
end

-- For each range {lo, hi} of hours (lo, hi], the sums of the totalled letters of its
-- buckets; a bucket in several ranges is read once.
local function bucketSums(key, ch, ranges)
  local fields, at = {}, {}
  for _, rg in ipairs(ranges) do
    for hr = rg[1] + 1, rg[2] do
      if not at[hr] then
        at[hr] = #fields
        local p = ch .. '|' .. hr .. '|'
        for _, l in ipairs(LETTERS) do fields[#fields + 1] = p .. l end
      end
    end
  end
  local vals = hmget(key, fields)
  local out = {}
  for i, rg in ipairs(ranges) do
    local t = { s = 0, c = 0, h = 0, u = 0 }
    for hr = rg[1] + 1, rg[2] do
      for j, l in ipairs(LETTERS) do t[l] = t[l] + tonumber(vals[at[hr] + j] or '0') end
    end
    out[i] = t
  end
  return out
end

-- The totals summed from the buckets, for `hour`.
local function summed(st, hour)
  if redis.call('EXISTS', st.key) == 0 then return zeros(st.wins) end
  local ranges = {}
  for i, H in ipairs(st.wins.list) do ranges[i] = { hour - H, hour } end
  local sums = bucketSums(st.key, st.ch, ranges)
  local tot = {}
  for i, H in ipairs(st.wins.list) do tot[H] = sums[i] end
  return tot
end

-- The totals moved from r on to `hour` (> r): minus the buckets that leave each window,
-- hours (r - H, min(r, hour - H)]; nothing after r is there to enter.
local function advanced(st, hour)
  local tot, ranges, of = {}, {}, {}
  for _, H in ipairs(st.wins.list) do
    local t = st.tot[H]
    tot[H] = { s = t.s, c = t.c, h = t.h, u = t.u }
    if hour - st.r >= H then
      tot[H] = { s = 0, c = 0, h = 0, u = 0 }
    elseif st.saved then
      ranges[#ranges + 1] = { st.r - H, hour - H }
      of[#ranges] = H
    end
  end
  local sums = bucketSums(st.key, st.ch, ranges)
  for i, H in pairs(of) do
    for _, l in ipairs(LETTERS) do tot[H][l] = tot[H][l] - sums[i][l] end
  end
  return tot
end

-- The account's totals as stored (cached for the rest of the script). st.r is nil when
-- there are none to trust; st.saved is false for totals not written yet (a missing key).
local function load(key, ch, wins)
  local id = key .. '\n' .. ch
  if states[id] then return states[id] end
  local fields = { ch .. '|r', ch .. '|ws' }
  for _, H in ipairs(wins.list) do
    for _, l in ipairs(LETTERS) do fields[#fields + 1] = ch .. '|w' .. H .. '|' .. l end
  end
  local v = redis.call('HMGET', key, unpack(fields))
  local st = { key = key, ch = ch, wins = wins, saved = true, tot = {} }
  if v[1] and v[2] == wins.spec then
    st.r = tonumber(v[1])
    local n = 2
    for _, H in ipairs(wins.list) do
      local t = {}
      for _, l in ipairs(LETTERS) do
        n = n + 1
        t[l] = tonumber(v[n] or '0')
      end
      st.tot[H] = t
    end
  end
  states[id] = st
  return st
end

local function save(st, tot, all)
  local args = { st.ch .. '|r', st.r }
  if all then args[#args + 1] = st.ch .. '|ws'; args[#args + 1] = st.wins.spec end
  for _, H in ipairs(st.wins.list) do
    for _, l in ipairs(LETTERS) do
      if all or tot[H][l] ~= st.tot[H][l] then
        args[#args + 1] = st.ch .. '|w' .. H .. '|' .. l
        args[#args + 1] = tot[H][l]
      end
    end
  end
  redis.call('HSET', st.key, unpack(args))
end

-- Drops the buckets of hours (lo, hi], every letter (after they left every window).
local function drop(st, lo, hi)
  local fields = {}
  for hr = lo + 1, hi do
    local p = st.ch .. '|' .. hr .. '|'
    for _, l in ipairs(ALL_LETTERS) do fields[#fields + 1] = p .. l end
  end
  for i = 1, #fields, 1000 do
    redis.call('HDEL', st.key, unpack(fields, i, math.min(i + 999, #fields)))
  end
end

-- Rolls the channel's totals forward to `hour` (nothing when they are there or later), and
-- drops the buckets that left every window on the way.
function W.roll(key, ch, hour, wins)
  local st = load(key, ch, wins)
  if st.r == nil then
    -- No totals yet: build them from the buckets, unless there is nothing (no key) to store.
    st.r = hour
    if redis.call('EXISTS', key) == 0 then
      st.saved, st.tot = false, zeros(wins)
    else
      local tot = summed(st, hour)
      save(st, tot, true)
      st.tot = tot
    end
    return st
  end
  if hour <= st.r then return st end
  local tot = advanced(st, hour)
  local from = st.r
  st.r = hour
  if st.saved then
    save(st, tot, false)
    -- Buckets lie in (from - max - 1, from]; those a caller one hour behind no longer
    -- reads go: at most max + 1 hours of them, usually one.
    drop(st, from - wins.max - 1, math.min(from, hour - wins.max - 1))
  end
  st.tot = tot
  return st
end

-- Adds n to the bucket (ch, hour b, letter) and to the totals of the windows that hold it.
-- True when the bucket is new (its hour's first count of the letter): the caller sets the
-- key's TTL then, which a new key always gets, and refreshes it at least hourly while the
-- account is counted, rather than on every count.
function W.add(key, ch, b, letter, n, wins)
  local st = W.roll(key, ch, b, wins)
  -- Past every window, even of a caller one hour behind: never read, so not kept.
  if b < st.r - wins.max then return false end
  local fresh = redis.call('HINCRBY', key, ch .. '|' .. b .. '|' .. letter, n) == n
  if not st.saved then
    redis.call('HSET', key, ch .. '|r', st.r, ch .. '|ws', wins.spec)
    st.saved = true
  end
  if TOTALLED[letter] then
    for _, H in ipairs(wins.list) do
      if b > st.r - H then
        redis.call('HINCRBY', key, ch .. '|w' .. H .. '|' .. letter, n)
        st.tot[H][letter] = st.tot[H][letter] + n
      end
    end
  end
  return fresh
end

-- The figures for `hour` without writing: { [H] = { s =, c =, h =, u = } }. Exact for any
-- hour at or after r; before r (this caller's clock is behind another instance's) the
-- buckets are summed, the rare slow path.
function W.figures(key, ch, hour, wins)
  local st = load(key, ch, wins)
  if st.r == nil or hour < st.r then return summed(st, hour) end
  if hour == st.r then return st.tot end
  return advanced(st, hour)
end

