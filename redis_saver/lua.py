"""Server-side Lua for :class:`redis_saver.RedisSaver`.

Each saver call is one script run, so it costs one round trip and Redis applies it whole or
not at all (a script never half-runs when the connection drops: the server only starts it
once the full command has arrived).

A thread lives in two keys that share one hash tag, so every script touches a single slot:

``KEYS[1]`` (hash, "data")
    ``c\\0<ns>\\0<checkpoint_id>`` -> checkpoint record (see ``redis_codec``)
    ``b\\0<ns>\\0<channel>\\0<version>`` -> channel value blob
    ``w\\0<ns>\\0<checkpoint_id>\\0<task_id>\\0<idx>`` -> pending write
    ``m\\0<ns>\\0<digest>`` -> one message, named by the reference lists (``msgsegs\\0``
    blobs, see ``redis_saver.messages``) of that namespace's channels
    ``s\\0<ns>\\0<digest>`` -> a segment: the digests of ``SEGMENT_SIZE`` messages that
    reference lists name together
``KEYS[2]`` (sorted set, "index", every score 0 so members sort by bytes)
    ``c\\0<ns>\\0<checkpoint_id>``  checkpoints; uuid6 ids sort by time
    ``w\\0...``                       the data hash's write fields, so a checkpoint's writes
                                     are one ``ZRANGE BYLEX`` away
    ``r\\0<run_id>\\0<ns>\\0<checkpoint_id>``  checkpoints by run, for ``delete_for_runs``

Ids are compared only by Redis (``ZRANGE ... BYLEX``), never with Lua's ``<``, which uses
the server's locale collation.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

# Shared helpers, prepended to every script.
_PRELUDE = r"""
local DATA, INDEX = KEYS[1], KEYS[2]
local CHUNK = 1000  -- stays far below Lua's unpack() limit

local function split0(s)
  local parts, start = {}, 1
  while true do
    local z = string.find(s, "\0", start, true)
    if not z then
      parts[#parts + 1] = string.sub(s, start)
      return parts
    end
    parts[#parts + 1] = string.sub(s, start, z - 1)
    start = z + 1
  end
end

-- A record starts with "<n>:" and an n-byte header: run_id, then channel/version pairs.
local function header(rec)
  local colon = string.find(rec, ":", 1, true)
  local n = tonumber(string.sub(rec, 1, colon - 1))
  return split0(string.sub(rec, colon + 1, colon + n))
end

-- BYLEX bounds of every member that starts with prefix (which ends in "\0").
local function prefix_range(prefix)
  return "[" .. prefix, "(" .. string.sub(prefix, 1, -2) .. "\1"
end

local function members(prefix)
  local lo, hi = prefix_range(prefix)
  return redis.call("ZRANGE", INDEX, lo, hi, "BYLEX")
end

local function bulk(cmd, key, items)
  for i = 1, #items, CHUNK do
    redis.call(cmd, key, unpack(items, i, math.min(i + CHUNK - 1, #items)))
  end
end

local function hmget(fields)
  local out = {}
  for i = 1, #fields, CHUNK do
    local part = redis.call("HMGET", DATA, unpack(fields, i, math.min(i + CHUNK - 1, #fields)))
    for _, v in ipairs(part) do out[#out + 1] = v end
  end
  return out
end

local function refresh(ttl_ms)
  if ttl_ms > 0 then
    redis.call("PEXPIRE", DATA, ttl_ms)
    redis.call("PEXPIRE", INDEX, ttl_ms)
  end
end

local function blob_field(ns, channel, version)
  return "b\0" .. ns .. "\0" .. channel .. "\0" .. version
end

-- A reference list (see redis_saver.messages): "msgsegs\0<n>\0", n segment digests, then
-- the tail's message digests; or, as an earlier version wrote it, "msgrefs\0" and one
-- message digest each. A segment ("s\0<ns>\0<digest>") holds SEGMENT message digests.
local REFS, SEGS, DIGEST = "msgrefs\0", "msgsegs\0", 12

local function digests(s, from, to)
  local out = {}
  for j = from, to, DIGEST do out[#out + 1] = string.sub(s, j, j + DIGEST - 1) end
  return out
end

-- A reference list's segment digests and tail digests; nil for any other value.
local function parse_refs(blob)
  if type(blob) ~= "string" then return nil end
  local tag = string.sub(blob, 1, #SEGS)
  if tag == REFS then return {}, digests(blob, #REFS + 1, #blob) end
  if tag ~= SEGS then return nil end
  local z = string.find(blob, "\0", #SEGS + 1, true)
  local tail_at = z + 1 + tonumber(string.sub(blob, #SEGS + 1, z - 1)) * DIGEST
  return digests(blob, z + 1, tail_at - 1), digests(blob, tail_at, #blob)
end

local function keys_of(set)
  local out = {}
  for k in pairs(set) do out[#out + 1] = k end
  return out
end

local function prefixed(prefix, names)
  local out = {}
  for i, n in ipairs(names) do out[i] = prefix .. n end
  return out
end

-- Delete the segments and messages that the dead blobs' reference lists name and no live
-- blob does. Every live blob of the namespace is read: a message may be shared across
-- channels. A message in a live segment is live, so a stored segment's messages stay.
local function forget_messages(ns, dead, live)
  local mprefix, sprefix = "m\0" .. ns .. "\0", "s\0" .. ns .. "\0"
  local dead_segs, orphans, any = {}, {}, false
  for _, v in ipairs(hmget(dead)) do
    local segs, tail = parse_refs(v)
    if segs then
      for _, s in ipairs(segs) do dead_segs[s] = true end
      for _, d in ipairs(tail) do orphans[d] = true end
      any = any or #segs > 0 or #tail > 0
    end
  end
  if not any then return end
  local live_segs, live_tail = {}, {}
  for f in pairs(live) do
    local segs, tail = parse_refs(redis.call("HGET", DATA, f))
    if segs then
      for _, s in ipairs(segs) do
        live_segs[s] = true
        dead_segs[s] = nil
      end
      for _, d in ipairs(tail) do live_tail[d] = true end
    end
  end
  -- orphans[d] = value for every message of the named segments
  local function mark(names, value)
    if #names == 0 then return end
    for _, packed in ipairs(hmget(prefixed(sprefix, names))) do
      if type(packed) == "string" then
        for _, d in ipairs(digests(packed, 1, #packed)) do orphans[d] = value end
      end
    end
  end
  local gone_segs = keys_of(dead_segs)
  mark(gone_segs, true)
  for d in pairs(live_tail) do orphans[d] = nil end
  if next(orphans) then mark(keys_of(live_segs), nil) end
  local gone = prefixed(mprefix, keys_of(orphans))
  for _, s in ipairs(gone_segs) do gone[#gone + 1] = sprefix .. s end
  if #gone > 0 then bulk("HDEL", DATA, gone) end
end

-- Delete checkpoints ({ns, id} pairs) with their writes and run entries, then the blobs of
-- their namespaces that no remaining checkpoint references.
local function drop(victims)
  local candidates = {}
  for _, v in ipairs(victims) do
    local ns, id = v[1], v[2]
    local member = "c\0" .. ns .. "\0" .. id
    local rec = redis.call("HGET", DATA, member)
    if rec then
      local parts = header(rec)
      local cands = candidates[ns]
      if not cands then
        cands = {}
        candidates[ns] = cands
      end
      for i = 2, #parts - 1, 2 do
        cands[blob_field(ns, parts[i], parts[i + 1])] = true
      end
      if parts[1] ~= "" then
        redis.call("ZREM", INDEX, "r\0" .. parts[1] .. "\0" .. ns .. "\0" .. id)
      end
      redis.call("HDEL", DATA, member)
      redis.call("ZREM", INDEX, member)
    end
    local writes = members("w\0" .. ns .. "\0" .. id .. "\0")
    if #writes > 0 then
      bulk("HDEL", DATA, writes)
      bulk("ZREM", INDEX, writes)
    end
  end
  for ns, cands in pairs(candidates) do
    local live = {}
    for _, m in ipairs(members("c\0" .. ns .. "\0")) do
      local rec = redis.call("HGET", DATA, m)
      if rec then
        local parts = header(rec)
        for i = 2, #parts - 1, 2 do
          local f = blob_field(ns, parts[i], parts[i + 1])
          cands[f] = nil
          live[f] = true
        end
      end
    end
    local dead = {}
    for f in pairs(cands) do dead[#dead + 1] = f end
    if #dead > 0 then
      forget_messages(ns, dead, live)
      bulk("HDEL", DATA, dead)
    end
  end
end
"""

# ARGV: ttl_ms, keep_history ("1"/"0"), ns, checkpoint_id, record, run_id ("" if none),
#       n, then n message digest/value pairs, k, then k segment digest/value pairs, then
#       blob field/value pairs.
# Returns 1, or (writing nothing) the digests that a reference list names (itself or through
# a segment sent) but that are neither stored nor sent: the caller then sends everything.
_PUT = r"""
local ttl, keep, ns, id, rec, run = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4], ARGV[5], ARGV[6]
local segs_at = 8 + 2 * tonumber(ARGV[7])
local blobs_at = segs_at + 1 + 2 * tonumber(ARGV[segs_at])
local mprefix, sprefix = "m\0" .. ns .. "\0", "s\0" .. ns .. "\0"
local sent, missing = {}, {}
for i = 8, segs_at - 1, 2 do sent[mprefix .. ARGV[i]] = true end
for i = segs_at + 1, blobs_at - 1, 2 do sent[sprefix .. ARGV[i]] = true end
local function need(f)
  if not sent[f] and redis.call("HEXISTS", DATA, f) == 0 then
    sent[f] = true  -- report each once
    missing[#missing + 1] = f
  end
end
for i = blobs_at + 1, #ARGV, 2 do
  local segs, tail = parse_refs(ARGV[i])
  if segs then
    for _, s in ipairs(segs) do need(sprefix .. s) end
    for _, d in ipairs(tail) do need(mprefix .. d) end
  end
end
-- A stored segment's messages are stored; a segment sent now must have its messages.
for i = segs_at + 2, blobs_at - 1, 2 do
  for _, d in ipairs(digests(ARGV[i], 1, #ARGV[i])) do need(mprefix .. d) end
end
if #missing > 0 then return missing end
local member = "c\0" .. ns .. "\0" .. id
local fields = {member, rec}
for i = 8, segs_at - 1, 2 do
  fields[#fields + 1] = mprefix .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
for i = segs_at + 1, blobs_at - 1, 2 do
  fields[#fields + 1] = sprefix .. ARGV[i]
  fields[#fields + 1] = ARGV[i + 1]
end
for i = blobs_at, #ARGV do fields[#fields + 1] = ARGV[i] end
bulk("HSET", DATA, fields)  -- CHUNK is even, so no field is split from its value
redis.call("ZADD", INDEX, 0, member)
if run ~= "" then
  redis.call("ZADD", INDEX, 0, "r\0" .. run .. "\0" .. ns .. "\0" .. id)
end
if keep == "0" then
  local prefix = "c\0" .. ns .. "\0"
  local victims = {}
  for _, m in ipairs(members(prefix)) do
    if m ~= member then victims[#victims + 1] = {ns, string.sub(m, #prefix + 1)} end
  end
  drop(victims)
end
refresh(ttl)
return 1
"""

# ARGV: ttl_ms, keep_history, ns, checkpoint_id, then field/value/overwrite triples.
# Special channels (negative idx) overwrite; regular ones keep the first write of a
# (task_id, idx), as LangGraph's savers do.
_PUT_WRITES = r"""
local ttl, keep, ns, id = tonumber(ARGV[1]), ARGV[2], ARGV[3], ARGV[4]
if keep == "0" then
  -- Without history, writes to a checkpoint that a newer one replaced were already applied
  -- to that newer one; storing them would only leave orphans behind.
  local _, hi = prefix_range("c\0" .. ns .. "\0")
  local newer = redis.call("ZRANGE", INDEX, "(c\0" .. ns .. "\0" .. id, hi, "BYLEX", "LIMIT", 0, 1)
  if #newer > 0 then
    refresh(ttl)
    return 0
  end
end
for i = 5, #ARGV, 3 do
  local f, v = ARGV[i], ARGV[i + 1]
  if ARGV[i + 2] == "1" then
    redis.call("HSET", DATA, f, v)
    redis.call("ZADD", INDEX, 0, f)
  elseif redis.call("HSETNX", DATA, f, v) == 1 then
    redis.call("ZADD", INDEX, 0, f)
  end
end
refresh(ttl)
return 1
"""

# ARGV: ttl_ms (0 = no refresh), mode, then
#   "latest": ns             the newest checkpoint of ns
#   "page":   ns, before_id ("" = none), count     newest first, ids below before_id
#   "ids":    checkpoint members...
# Returns {entries, blob_fields, blob_values, message_fields, message_values}; entries are
# {member, record, write fields, write values}; the message fields and values hold the
# messages and the segments that the reference lists name. Blobs, segments and messages are
# deduplicated across the entries of a page.
_READ = r"""
local ttl, mode = tonumber(ARGV[1]), ARGV[2]
local wanted
if mode == "ids" then
  wanted = {}
  for i = 3, #ARGV do wanted[#wanted + 1] = ARGV[i] end
else
  local ns = ARGV[3]
  local lo, hi = prefix_range("c\0" .. ns .. "\0")
  local count = 1
  if mode == "page" then
    if ARGV[4] ~= "" then hi = "(c\0" .. ns .. "\0" .. ARGV[4] end
    count = tonumber(ARGV[5])
  end
  wanted = redis.call("ZRANGE", INDEX, hi, lo, "BYLEX", "REV", "LIMIT", 0, count)
end
local entries, blob_fields, blob_ns, seen = {}, {}, {}, {}
for _, m in ipairs(wanted) do
  local rec = redis.call("HGET", DATA, m)
  if rec then
    local key = split0(m)
    local ns, id = key[2], key[3]
    local parts = header(rec)
    for i = 2, #parts - 1, 2 do
      local f = blob_field(ns, parts[i], parts[i + 1])
      if not seen[f] then
        seen[f] = true
        blob_fields[#blob_fields + 1] = f
        blob_ns[#blob_fields] = ns
      end
    end
    local wf = members("w\0" .. ns .. "\0" .. id .. "\0")
    entries[#entries + 1] = {m, rec, wf, hmget(wf)}
  end
end
if #entries > 0 then refresh(ttl) end
local blob_values, segment_fields, message_fields = hmget(blob_fields), {}, {}
local function want(list, f)
  if not seen[f] then
    seen[f] = true
    list[#list + 1] = f
  end
end
for i, v in ipairs(blob_values) do
  local segs, tail = parse_refs(v)
  if segs then
    local ns = blob_ns[i]
    for _, s in ipairs(segs) do want(segment_fields, "s\0" .. ns .. "\0" .. s) end
    for _, d in ipairs(tail) do want(message_fields, "m\0" .. ns .. "\0" .. d) end
  end
end
local segment_values = hmget(segment_fields)
for i, packed in ipairs(segment_values) do
  if type(packed) == "string" then
    -- "s\0<ns>\0<digest>": the namespace sits between the first NUL and the digest.
    local prefix = "m\0" .. string.sub(segment_fields[i], 3, -DIGEST - 1)
    for _, d in ipairs(digests(packed, 1, #packed)) do want(message_fields, prefix .. d) end
  end
end
local message_values = hmget(message_fields)
for i, f in ipairs(segment_fields) do
  message_fields[#message_fields + 1] = f
  message_values[#message_values + 1] = segment_values[i]
end
return {entries, blob_fields, blob_values, message_fields, message_values}
"""

# ARGV: ttl_ms (0 = no refresh), ns. The newest checkpoint of the namespace without its
# channel values and messages: {member, record, write fields, write values}, or false. What a
# caller that checks an owner or a pending interrupt reads.
_READ_HEAD = r"""
local ttl, ns = tonumber(ARGV[1]), ARGV[2]
local lo, hi = prefix_range("c\0" .. ns .. "\0")
local newest = redis.call("ZRANGE", INDEX, hi, lo, "BYLEX", "REV", "LIMIT", 0, 1)
if #newest == 0 then return false end
local m = newest[1]
local rec = redis.call("HGET", DATA, m)
if not rec then return false end
refresh(ttl)
local key = split0(m)
local wf = members("w\0" .. key[2] .. "\0" .. key[3] .. "\0")
return {m, rec, wf, hmget(wf)}
"""

# Returns the thread's distinct run ids, so the caller can unlink the run index.
_DELETE_THREAD = r"""
local runs, seen = {}, {}
for _, m in ipairs(members("r\0")) do
  local run = split0(m)[2]
  if not seen[run] then
    seen[run] = true
    runs[#runs + 1] = run
  end
end
redis.call("DEL", DATA, INDEX)
return runs
"""

# ARGV: run ids. Returns how many checkpoints were deleted.
_DELETE_RUNS = r"""
local victims = {}
for i = 1, #ARGV do
  for _, m in ipairs(members("r\0" .. ARGV[i] .. "\0")) do
    local parts = split0(m)
    victims[#victims + 1] = {parts[3], parts[4]}
  end
end
drop(victims)
return #victims
"""

# Keeps the newest checkpoint of every namespace. Members sort by namespace, then id, so
# the newest of a namespace is the last of its run of members.
_PRUNE_KEEP_LATEST = r"""
local all = members("c\0")
local victims = {}
for i = 1, #all - 1 do
  local this, after = split0(all[i]), split0(all[i + 1])
  if this[2] == after[2] then victims[#victims + 1] = {this[2], this[3]} end
end
drop(victims)
return #victims
"""


@dataclass(frozen=True)
class LuaScript:
    """A script's source and the SHA1 that ``EVALSHA`` names it by."""

    name: str
    body: str
    source: str = field(init=False)
    sha: str = field(init=False)

    def __post_init__(self) -> None:
        source = _PRELUDE + self.body
        object.__setattr__(self, "source", source)
        # Redis names a script by the SHA1 of its source, so no SCRIPT LOAD round trip is
        # needed to learn it.
        object.__setattr__(
            self, "sha", hashlib.sha1(source.encode(), usedforsecurity=False).hexdigest()
        )


PUT = LuaScript("put", _PUT)
PUT_WRITES = LuaScript("put_writes", _PUT_WRITES)
READ = LuaScript("read", _READ)
READ_HEAD = LuaScript("read_head", _READ_HEAD)
DELETE_THREAD = LuaScript("delete_thread", _DELETE_THREAD)
DELETE_RUNS = LuaScript("delete_runs", _DELETE_RUNS)
PRUNE_KEEP_LATEST = LuaScript("prune_keep_latest", _PRUNE_KEEP_LATEST)

ALL_SCRIPTS = (
    PUT,
    PUT_WRITES,
    READ,
    READ_HEAD,
    DELETE_THREAD,
    DELETE_RUNS,
    PRUNE_KEEP_LATEST,
)
