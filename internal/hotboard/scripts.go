package hotboard

import "github.com/valkey-io/valkey-go"

// Lua scripts. Every script receives exactly one key in KEYS (a key of the
// board, carrying the board's hash tag) plus the board's key base in ARGV,
// checks that the key starts with that base, and derives every other key of
// the board from the base. All the keys share the hash tag {<board>}, so they
// live in one cluster slot: one script can touch all of a board's windows,
// its dedup marks and its watermarks atomically. Declaring every key would be
// impossible anyway (which windows and mark buckets are touched is only known
// inside the script); this is deliberate and documented in docs/hot-store.md.
//
// Numbers: Lua numbers are doubles. The scripts never do arithmetic on
// totals: sums use HINCRBY (exact int64 on the server) and are read back as
// strings; only values known to be exact as doubles are converted with
// tonumber (event scores |s| <= 1e12, offsets and millisecond timestamps
// below 2^53, which the Go side validates). Numbers are never formatted by
// Lua (tostring uses %.14g): every number written is a string prepared by Go
// or read from the server. Strings are never ordered with Lua's < (Redis sets
// LC_COLLATE from the environment, so it would be locale dependent): member
// order is compared with the bytewise function below.
const luaCommon = `
local MAXEXACT = 9007199254740991
-- out of the exact double range? t is an exact integer string; tonumber
-- rounds monotonically and 2^53-1 is representable, so the test is exact.
local function oor(t)
  return math.abs(tonumber(t)) > MAXEXACT
end
-- withTotals appends member, total pairs of ranked members (reached16 ..
-- player) to res, with the totals from hash t fetched by 1000 (unpack is
-- bounded by Lua's stack, about 8000 values); a member without a total is
-- an inconsistent window (see ErrInconsistent).
local function withTotals(res, t, members)
  local i = 1
  while i <= #members do
    local j = i + 999
    if j > #members then j = #members end
    local players = {}
    for k = i, j do players[#players + 1] = string.sub(members[k], 17) end
    local tots = redis.call('HMGET', t, unpack(players))
    for k = i, j do
      local tot = tots[k - i + 1]
      if not tot then return redis.error_reply('ERR hotboard: inconsistent window: no total for a ranked member') end
      res[#res + 1] = members[k]
      res[#res + 1] = tot
    end
    i = j + 1
  end
  return res
end
-- exact negation of an integer string: the sorted-set score is -total.
local function neg(t)
  if t == '0' then return '0' end
  if string.sub(t, 1, 1) == '-' then return string.sub(t, 2) end
  return '-' .. t
end
`

// applyScript applies a batch of events of one board. See Store.Apply.
//
// ARGV: base, agg, now_ms, mark_floor_ms, n, conflict_cap, then n items of
// itemArgs fields each (see apply.go).
var applyScript = valkey.NewLuaScript(luaCommon + `
local base = ARGV[1]
local wmkey = base .. 'wm'
if KEYS[1] ~= wmkey then return redis.error_reply('ERR hotboard: key mismatch') end
local agg, now = ARGV[2], ARGV[3]
local floor, n, cap = ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[6])
local bm = base .. 'bm'
local cur = redis.call('HGET', bm, 'agg')
if cur and cur ~= agg then return {'agg', cur} end
if not cur then redis.call('HSET', bm, 'agg', agg) end
-- complete_from: set by a rebuild that seeded the board's marks while
-- creation is off; windows starting at or after it hold no event the hot
-- store has not seen, so they may be created (create = '2')
local cfrom = redis.call('HGET', bm, 'complete_from')

-- live dedup buckets (UTC days of occurred_at), to find an identity whose
-- conflicting copy has another occurred_at
local md = base .. 'md'
local days, dayset = {}, {}
for _, d in ipairs(redis.call('ZRANGEBYSCORE', md, floor, '+inf')) do
  days[#days + 1] = d
  dayset[d] = true
end

local function setoor(m, oldT, newT)
  local d = 0
  if oldT and oor(oldT) then d = d - 1 end
  if newT and oor(newT) then d = d + 1 end
  if d ~= 0 then redis.call('HINCRBY', m, 'oor', d) end
end

local function fold(wk, player, score, occ)
  local z, t, r, m = base .. 'z:' .. wk, base .. 't:' .. wk, base .. 'r:' .. wk, base .. 'm:' .. wk
  local oldT = redis.call('HGET', t, player)
  local oldR = redis.call('HGET', r, player)
  local newT, newR
  if agg == 'sum' then
    local res = redis.pcall('HINCRBY', t, player, score)
    if type(res) == 'table' and res.err then
      -- the exact total left int64: it can no longer be kept; the window
      -- answers total_out_of_range until it is rebuilt
      redis.call('HSET', m, 'overflow', '1')
      redis.call('HINCRBY', bm, 'rebuild_gen', 1)
      return
    end
    newT = redis.call('HGET', t, player)
    newR = occ
    if oldR and tonumber(oldR) > tonumber(occ) then newR = oldR end
  else
    if not oldT then
      newT, newR = score, occ
    else
      local s, o = tonumber(score), tonumber(oldT)
      if s > o then
        newT, newR = score, occ
      elseif s == o and tonumber(occ) < tonumber(oldR) then
        newT, newR = oldT, occ
      else
        return
      end
    end
    redis.call('HSET', t, player, newT)
  end
  if oldR then redis.call('ZREM', z, oldR .. player) end
  if newR ~= oldR then redis.call('HSET', r, player, newR) end
  redis.call('ZADD', z, neg(newT), newR .. player)
  setoor(m, oldT, newT)
end

local wm = {}
local out = {}
local S = ` + itemArgsStr + `
for i = 0, n - 1 do
  local o = 6 + i * S
  local part, off, nextoff = ARGV[o + 1], ARGV[o + 2], ARGV[o + 3]
  local ident, fp, day, markexp, stale = ARGV[o + 4], ARGV[o + 5], ARGV[o + 6], ARGV[o + 7], ARGV[o + 8]
  local player, score, occ = ARGV[o + 9], ARGV[o + 10], ARGV[o + 11]
  local w = wm[part]
  if w == nil then
    w = tonumber(redis.call('HGET', wmkey, part) or '0')
    wm[part] = w
  end
  if tonumber(off) < w then
    out[#out + 1] = 'R'
  else
    local found = redis.call('HGET', base .. 'mk:' .. day, ident)
    if not found then
      for _, d in ipairs(days) do
        if d ~= day then
          found = redis.call('HGET', base .. 'mk:' .. d, ident)
          if found then break end
        end
      end
    end
    if found then
      if found == fp then
        out[#out + 1] = 'D'
      else
        redis.call('HINCRBY', bm, 'conflicts', 1)
        redis.call('LPUSH', base .. 'cf', table.concat({part, off, now, found, fp, ident}, '|'))
        redis.call('LTRIM', base .. 'cf', 0, cap - 1)
        out[#out + 1] = 'C'
      end
    elseif stale == '1' then
      redis.call('HINCRBY', bm, 'stale', 1)
      redis.call('HINCRBY', bm, 'rebuild_gen', 1)
      out[#out + 1] = 'S'
    else
      local res = 'A'
      for j = 0, 2 do
        local q = o + 11 + j * 4
        local wk, create, exp, wstart = ARGV[q + 1], ARGV[q + 2], ARGV[q + 3], ARGV[q + 4]
        local m = base .. 'm:' .. wk
        local st
        if redis.call('EXISTS', m) == 1 then
          st = 'a'
        elseif create == '1' or (create == '2' and cfrom and tonumber(wstart) >= tonumber(cfrom)) then
          -- origin 'feed': created because the store is fed continuously
          -- (see the read prelude); 'complete': under complete_from
          local origin = 'feed'
          if create == '2' then origin = 'complete' end
          redis.call('HSET', m, 'created_at', now, 'oor', '0', 'overflow', '0', 'origin', origin)
          st = 'c'
        else
          st = 's'
        end
        if st ~= 's' then
          fold(wk, player, score, occ)
          if exp ~= '0' then
            for _, k in ipairs({'z:', 't:', 'r:', 'm:'}) do
              redis.call('PEXPIREAT', base .. k .. wk, exp)
            end
          end
        end
        res = res .. st
      end
      local mk = base .. 'mk:' .. day
      redis.call('HSET', mk, ident, fp)
      redis.call('PEXPIREAT', mk, markexp)
      if not dayset[day] then
        redis.call('ZADD', md, markexp, day)
        days[#days + 1] = day
        dayset[day] = true
      end
      out[#out + 1] = res
    end
    redis.call('HSET', wmkey, part, nextoff)
    wm[part] = tonumber(nextoff)
  end
end
redis.call('ZREMRANGEBYSCORE', md, '-inf', '(' .. floor)
return {'ok', out}
`)

// luaReadPrelude checks that the window's hot board exists and is readable.
// KEYS[1] is the window's meta key; ARGV[1] the board base, ARGV[2] the
// window key, ARGV[3] '1' when windows created from the feed are distrusted
// (Valkey lost its data: such a window was created after the loss and may
// lack earlier events, until a rebuild replaces it).
const luaReadPrelude = luaCommon + `
local base, wk = ARGV[1], ARGV[2]
local m = base .. 'm:' .. wk
if KEYS[1] ~= m then return redis.error_reply('ERR hotboard: key mismatch') end
-- A board that could not apply some event exactly (older than the dedup
-- horizon) is not served until a rebuild covered it.
local gen = redis.call('HMGET', base .. 'bm', 'rebuild_gen', 'rebuilt_gen', 'complete_from')
local rebuild = tonumber(gen[1] or '0') > tonumber(gen[2] or '0')
if redis.call('EXISTS', m) == 0 then
  -- its ranking without its meta key: lost on its own, not an empty window
  if redis.call('EXISTS', base .. 'z:' .. wk, base .. 't:' .. wk, base .. 'r:' .. wk) > 0 then return {'inconsistent'} end
  if rebuild then return {'rebuild'} end
  return {'missing', gen[3] or ''}
end
local st = redis.call('HMGET', m, 'oor', 'overflow', 'origin')
if ARGV[3] == '1' and st[3] == 'feed' then return {'untrusted'} end
if (st[1] and st[1] ~= '0') or st[2] == '1' then return {'oor'} end
if rebuild then return {'rebuild'} end
local z, t = base .. 'z:' .. wk, base .. 't:' .. wk
local cnt = redis.call('ZCARD', z)
-- every ranked player has a member, a total and a reached_at: a key lost
-- on its own (an operator's DEL, a partial restore) shows here, in O(1)
if cnt ~= redis.call('HLEN', t) or cnt ~= redis.call('HLEN', base .. 'r:' .. wk) then return {'inconsistent'} end
-- entries from rank 'from' (0-based): {'ok', count, from, member1, total1, ...}
local function entries(from, members)
  return withTotals({'ok', cnt, from}, t, members)
end
`

// countScript: ARGV base, wk, distrust.
var countScript = valkey.NewLuaScriptReadOnly(luaReadPrelude + `
return {'ok', cnt}
`)

// rangeScript: ARGV base, wk, distrust, offset, limit.
var rangeScript = valkey.NewLuaScriptReadOnly(luaReadPrelude + `
local off, lim = tonumber(ARGV[4]), tonumber(ARGV[5])
if lim <= 0 or off >= cnt then return entries(off, {}) end
return entries(off, redis.call('ZRANGE', z, ARGV[4], off + lim - 1))
`)

// afterScript: ARGV base, wk, distrust, score (= -total of the cursor standing),
// member (encoded cursor standing), limit. Returns the entries strictly after
// (score, member) in sorted-set order without scanning the board: the rank
// of the would-be member is found with ZRANK when it is present, else by
// ZCOUNT for the score and a binary search (bytewise) among the members that
// share the score.
var afterScript = valkey.NewLuaScriptReadOnly(luaReadPrelude + `
local sc, mem, lim = ARGV[4], ARGV[5], tonumber(ARGV[6])
local function lt(a, b)
  local la, lb = #a, #b
  local k = la
  if lb < k then k = lb end
  for i = 1, k do
    local x, y = string.byte(a, i), string.byte(b, i)
    if x ~= y then return x < y end
  end
  return la < lb
end
local pos
local cur = redis.call('ZSCORE', z, mem)
if cur and tonumber(cur) == tonumber(sc) then
  pos = redis.call('ZRANK', z, mem) + 1
else
  local lo = redis.call('ZCOUNT', z, '-inf', '(' .. sc)
  local hi = redis.call('ZCOUNT', z, '-inf', sc)
  while lo < hi do
    local mid = math.floor((lo + hi) / 2)
    local mm = redis.call('ZRANGE', z, mid, mid)[1]
    if lt(mem, mm) then hi = mid else lo = mid + 1 end
  end
  pos = lo
end
if lim <= 0 or pos >= cnt then return entries(pos, {}) end
return entries(pos, redis.call('ZRANGE', z, pos, pos + lim - 1))
`)

// aroundScript: ARGV base, wk, distrust, player, context. Returns
// {'ok', count, from, members..., rank} or {'ok', count, 'nf'}.
var aroundScript = valkey.NewLuaScriptReadOnly(luaReadPrelude + `
local player, ctx = ARGV[4], tonumber(ARGV[5])
local r = redis.call('HGET', base .. 'r:' .. wk, player)
if not r then return {'ok', cnt, 'nf'} end
local rank = redis.call('ZRANK', z, r .. player)
if not rank then return redis.error_reply('ERR hotboard: inconsistent window: player has a reached_at but no member') end
local from = rank - ctx
if from < 0 then from = 0 end
local res = entries(from, redis.call('ZRANGE', z, from, rank + ctx))
res[#res + 1] = rank
return res
`)

// boardScript reads a board's bookkeeping in one step: KEYS[1] = base..'bm',
// ARGV base. Returns {bm fields (flat), watermarks (flat), conflicts list}.
var boardScript = valkey.NewLuaScriptReadOnly(luaCommon + `
local base = ARGV[1]
if KEYS[1] ~= base .. 'bm' then return redis.error_reply('ERR hotboard: key mismatch') end
return {
  redis.call('HGETALL', base .. 'bm'),
  redis.call('HGETALL', base .. 'wm'),
  redis.call('LRANGE', base .. 'cf', 0, -1),
}
`)

// clearRebuildScript: KEYS[1] = base..'bm', ARGV base, generation. Raises
// rebuilt_gen to generation (never lowers it).
var clearRebuildScript = valkey.NewLuaScript(luaCommon + `
local base = ARGV[1]
if KEYS[1] ~= base .. 'bm' then return redis.error_reply('ERR hotboard: key mismatch') end
local g = tonumber(ARGV[2])
local cur = tonumber(redis.call('HGET', KEYS[1], 'rebuilt_gen') or '0')
if g > cur then redis.call('HSET', KEYS[1], 'rebuilt_gen', ARGV[2]) end
return 'OK'
`)

// buildPutScript upserts standings into the temporary keys of a build.
// KEYS[1] = tmp base..'z'; ARGV: tmp base, ttl_ms, then (player, total,
// reached16) triples. A player already in the build is replaced (its old
// member removed). The build's player count and out-of-range count are kept
// in tmp base..'c' (small integers, exact as Lua numbers).
var buildPutScript = valkey.NewLuaScript(luaCommon + `
local tb = ARGV[1]
if KEYS[1] ~= tb .. 'z' then return redis.error_reply('ERR hotboard: key mismatch') end
local z, t, r, c = tb .. 'z', tb .. 't', tb .. 'r', tb .. 'c'
local dn, door = 0, 0
for i = 3, #ARGV, 3 do
  local p, tot, rc = ARGV[i], ARGV[i + 1], ARGV[i + 2]
  local oldT = redis.call('HGET', t, p)
  if oldT then
    redis.call('ZREM', z, redis.call('HGET', r, p) .. p)
    if oor(oldT) then door = door - 1 end
  else
    dn = dn + 1
  end
  if oor(tot) then door = door + 1 end
  redis.call('HSET', t, p, tot)
  redis.call('HSET', r, p, rc)
  redis.call('ZADD', z, neg(tot), rc .. p)
end
redis.call('HINCRBY', c, 'n', dn)
redis.call('HINCRBY', c, 'oor', door)
-- the marker too (a no-op once Valkey lost it: it is never recreated here)
for _, k in ipairs({z, t, r, c, tb .. 'begun'}) do redis.call('PEXPIRE', k, ARGV[2]) end
return 'OK'
`)

// buildSwapScript swaps a finished build in. KEYS[1] = base..'wm'; ARGV:
// base, wk, tmp base, agg, now_ms, pexpireat_ms (0 = never), complete_from
// (empty: leave it), then (partition, next offset) pairs the build was computed
// at. Refuses the swap when the board's hot watermark of a partition is
// above the build's, or the board has another aggregation; raises the
// board's watermarks to the build's.
var buildSwapScript = valkey.NewLuaScript(luaCommon + `
local base, wk, tb = ARGV[1], ARGV[2], ARGV[3]
if KEYS[1] ~= base .. 'wm' then return redis.error_reply('ERR hotboard: key mismatch') end
if string.sub(tb, 1, #base) ~= base then return redis.error_reply('ERR hotboard: tmp not under base') end
local tmpz, tmpt, tmpr, tmpc = tb .. 'z', tb .. 't', tb .. 'r', tb .. 'c'
local function droptmp() redis.call('DEL', tmpz, tmpt, tmpr, tmpc, tb .. 'begun') end
-- the marker NewBuild wrote: gone means Valkey lost its data during the
-- build (part of it, and of what the caller seeded, with it)
if redis.call('EXISTS', tb .. 'begun') == 0 then
  droptmp()
  return {'lost'}
end
local agg, now, exp, cfrom = ARGV[4], ARGV[5], ARGV[6], ARGV[7]
local bm = base .. 'bm'
local cur = redis.call('HGET', bm, 'agg')
if cur and cur ~= agg then
  droptmp()
  return {'agg', cur}
end
-- the build must contain every record of the board the hot store has
-- handled: hot[p] <= want[p] for every partition (absent = 0)
local want = {}
for i = 8, #ARGV, 2 do want[ARGV[i]] = ARGV[i + 1] end
local hot = redis.call('HGETALL', KEYS[1])
local have = {}
local ok = true
for i = 1, #hot, 2 do
  have[hot[i]] = hot[i + 1]
  if tonumber(hot[i + 1]) > tonumber(want[hot[i]] or '0') then ok = false end
end
if not ok then
  droptmp()
  return {'wm', hot}
end
local cnt = redis.call('HMGET', tmpc, 'n', 'oor')
local n, noor = tonumber(cnt[1] or '0'), cnt[2] or '0'
if redis.call('ZCARD', tmpz) ~= n or redis.call('HLEN', tmpt) ~= n or redis.call('HLEN', tmpr) ~= n then
  droptmp()
  return {'incomplete'}
end
local m = base .. 'm:' .. wk
for _, k in ipairs({'z:', 't:', 'r:'}) do
  local src, dst = tb .. string.sub(k, 1, 1), base .. k .. wk
  if n > 0 then
    redis.call('RENAME', src, dst)
  else
    redis.call('DEL', dst)
  end
end
redis.call('DEL', tmpc, tb .. 'begun')
-- records below the snapshot's watermarks are in the build: never apply
-- them again
for p, v in pairs(want) do
  if tonumber(v) > tonumber(have[p] or '0') then redis.call('HSET', KEYS[1], p, v) end
end
if not cur then redis.call('HSET', bm, 'agg', agg) end
if cfrom ~= '' and not redis.call('HGET', bm, 'complete_from') then
  redis.call('HSET', bm, 'complete_from', cfrom)
end
redis.call('DEL', m)
redis.call('HSET', m, 'created_at', now, 'rebuilt_at', now, 'oor', noor, 'overflow', '0')
for _, k in ipairs({'z:', 't:', 'r:', 'm:'}) do
  if exp ~= '0' then
    redis.call('PEXPIREAT', base .. k .. wk, exp)
  else
    redis.call('PERSIST', base .. k .. wk)
  end
end
return {'ok', n}
`)

// seedMarksScript writes identity marks taken from ClickHouse. KEYS[1] =
// base..'md'; ARGV: base, then (day, expiry_ms, identity, digest) quads.
var seedMarksScript = valkey.NewLuaScript(luaCommon + `
local base = ARGV[1]
if KEYS[1] ~= base .. 'md' then return redis.error_reply('ERR hotboard: key mismatch') end
local seen = {}
for i = 2, #ARGV, 4 do
  local day, exp, ident, fp = ARGV[i], ARGV[i + 1], ARGV[i + 2], ARGV[i + 3]
  local mk = base .. 'mk:' .. day
  redis.call('HSET', mk, ident, fp)
  if not seen[day] then
    seen[day] = true
    redis.call('PEXPIREAT', mk, exp)
    redis.call('ZADD', KEYS[1], exp, day)
  end
end
return 'OK'
`)

// snapshotScript copies a window's ranking and totals, with the board's
// watermarks, in one atomic step (for comparisons that take longer than a
// script may). KEYS[1] = base..'wm'; ARGV: base, wk, snapshot base, ttl_ms.
// Returns {'ok', watermarks (flat), oor, overflow, needs_rebuild},
// {'missing'} or {'inconsistent'}.
var snapshotScript = valkey.NewLuaScript(luaCommon + `
local base, wk, sb = ARGV[1], ARGV[2], ARGV[3]
if KEYS[1] ~= base .. 'wm' then return redis.error_reply('ERR hotboard: key mismatch') end
if string.sub(sb, 1, #base) ~= base then return redis.error_reply('ERR hotboard: snapshot not under base') end
local m = base .. 'm:' .. wk
if redis.call('EXISTS', m) == 0 then
  if redis.call('EXISTS', base .. 'z:' .. wk, base .. 't:' .. wk, base .. 'r:' .. wk) > 0 then return {'inconsistent'} end
  return {'missing'}
end
local cnt = redis.call('ZCARD', base .. 'z:' .. wk)
if cnt ~= redis.call('HLEN', base .. 't:' .. wk) or cnt ~= redis.call('HLEN', base .. 'r:' .. wk) then return {'inconsistent'} end
for _, k in ipairs({'z', 't'}) do
  local src = base .. k .. ':' .. wk
  if redis.call('EXISTS', src) == 1 then
    redis.call('COPY', src, sb .. k, 'REPLACE')
    redis.call('PEXPIRE', sb .. k, ARGV[4])
  end
end
local st = redis.call('HMGET', m, 'oor', 'overflow')
local gen = redis.call('HMGET', base .. 'bm', 'rebuild_gen', 'rebuilt_gen')
local nr = '0'
if tonumber(gen[1] or '0') > tonumber(gen[2] or '0') then nr = '1' end
return {'ok', redis.call('HGETALL', KEYS[1]), st[1] or '0', st[2] or '0', nr}
`)

// snapshotPageScript reads ranks from..from+n-1 of a snapshot. KEYS[1] =
// snapshot base..'z'; ARGV: snapshot base, from, n. Returns {'ok', count,
// from, member1, total1, ...}.
var snapshotPageScript = valkey.NewLuaScriptReadOnly(luaCommon + `
local sb = ARGV[1]
if KEYS[1] ~= sb .. 'z' then return redis.error_reply('ERR hotboard: key mismatch') end
local z, t = sb .. 'z', sb .. 't'
local from, n = tonumber(ARGV[2]), tonumber(ARGV[3])
local cnt = redis.call('ZCARD', z)
local res = {'ok', cnt, from}
if n <= 0 or from >= cnt then return res end
return withTotals(res, t, redis.call('ZRANGE', z, from, from + n - 1))
`)
