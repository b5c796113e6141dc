package redisstore

import (
	"crypto/sha1"
	"encoding/hex"
)

// A script runs atomically on the one key it names (KEYS[1], the session's
// hash), so it stays in one Cluster slot. A script that writes a session
// reads it last (EXISTS): a write stops Redis's client tracking of the key
// for every connection, the writer's too, and the read starts it again for
// the connection that sent the script, whose near cache the reply fills. Hash writes go in chunks, because
// unpack has a stack limit of a few thousand values. The key's expiry is
// the earlier of the idle deadline and the absolute deadline (field #d), so
// Redis removes a session at its absolute deadline too.
type script struct {
	src string
	sha string
}

func newScript(src string) *script {
	sum := sha1.Sum([]byte(src))
	return &script{src: src, sha: hex.EncodeToString(sum[:])}
}

// Shared Lua helpers, prepended to the scripts that write.
const luaHelpers = `
local function hset(k, from, to)
  while from <= to do
    local last = math.min(from + 999, to)
    redis.call('HSET', k, unpack(ARGV, from, last))
    from = last + 1
  end
end
local function hdel(k, from, to)
  while from <= to do
    local last = math.min(from + 999, to)
    redis.call('HDEL', k, unpack(ARGV, from, last))
    from = last + 1
  end
end
local function expire(k, at)
  local d = redis.call('HGET', k, '#d')
  if d and tonumber(d) < tonumber(at) then at = d end
  redis.call('PEXPIREAT', k, at)
end
`

// createScript replaces the session with the given fields and returns its
// version: 1, or one more than the version among the fields (a renew).
// ARGV: idle deadline, then field-value pairs.
var createScript = newScript(luaHelpers + `
local k = KEYS[1]
redis.call('DEL', k)
hset(k, 2, #ARGV)
local v = redis.call('HINCRBY', k, '#n', 1)
expire(k, ARGV[1])
redis.call('EXISTS', k)
return v
`)

// commitScript applies a delta to an existing session and returns the
// principal it had and the version it wrote, or nil when the session does
// not exist (then nothing is written).
// ARGV: idle deadline, #set pairs, #deleted, #meta pairs, set pairs, meta
// pairs, deleted fields.
var commitScript = newScript(luaHelpers + `
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return false end
local old = redis.call('HGET', k, '#p') or ''
local nset, ndel, nmeta = tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])
local last = 4 + 2 * (nset + nmeta)
hset(k, 5, last)
hdel(k, last + 1, last + ndel)
local v = redis.call('HINCRBY', k, '#n', 1)
expire(k, ARGV[1])
redis.call('EXISTS', k)
return {old, v}
`)

// casScript sets or deletes one field if it still holds the expected value.
// It returns nil when the session does not exist, {1, version written}
// when it wrote, and {0} or {0, current value} when the field changed
// meanwhile.
// ARGV: field, "1" if the field is expected present, expected value,
// "s" to set or "d" to delete, new value, idle deadline.
var casScript = newScript(luaHelpers + `
local k = KEYS[1]
if redis.call('EXISTS', k) == 0 then return false end
local cur = redis.call('HGET', k, ARGV[1])
local same
if ARGV[2] == '1' then same = (cur == ARGV[3]) else same = (cur == false) end
if not same then
  if cur then return {0, cur} end
  return {0}
end
if ARGV[4] == 's' then
  redis.call('HSET', k, ARGV[1], ARGV[5])
else
  redis.call('HDEL', k, ARGV[1])
end
local v = redis.call('HINCRBY', k, '#n', 1)
expire(k, ARGV[6])
redis.call('EXISTS', k)
return {1, v}
`)

// touchScript moves the session's expiry and reads the key, for the near
// cache's tracking (see above). It returns what PEXPIREAT returns.
// ARGV: idle deadline.
var touchScript = newScript(`
local n = redis.call('PEXPIREAT', KEYS[1], ARGV[1])
redis.call('EXISTS', KEYS[1])
return n
`)

// takeScript removes the session and returns {expiry, {field, value, ...}},
// or nil when it does not exist: the first half of a renew.
var takeScript = newScript(`
local k = KEYS[1]
local h = redis.call('HGETALL', k)
if #h == 0 then return false end
local t = redis.call('PEXPIRETIME', k)
redis.call('DEL', k)
return {t, h}
`)

// deleteScript removes the session and returns its principal, or nil when
// it does not exist.
var deleteScript = newScript(`
local p = redis.call('HGET', KEYS[1], '#p')
redis.call('DEL', KEYS[1])
return p
`)

// revokeScript removes the session if it belongs to the principal ARGV[1]
// and returns 1, or 0.
var revokeScript = newScript(`
if redis.call('HGET', KEYS[1], '#p') == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
`)

// bumpScript increments a counter and keeps it for good, even if a
// BumpUntil gave it a deadline before: INCR alone keeps a key's expiry.
var bumpScript = newScript(`
local n = redis.call('INCR', KEYS[1])
redis.call('PERSIST', KEYS[1])
return n
`)

// bumpUntilScript increments a counter and keeps it until the latest
// deadline it was given; a counter without expiry (bumped by Bump) stays
// without. ARGV: deadline, Unix milliseconds.
var bumpUntilScript = newScript(`
local k = KEYS[1]
local n = redis.call('INCR', k)
local ttl = redis.call('PTTL', k)
if n == 1 then
  redis.call('PEXPIREAT', k, ARGV[1])
elseif ttl >= 0 then
  local t = redis.call('TIME')
  local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
  if now + ttl < tonumber(ARGV[1]) then redis.call('PEXPIREAT', k, ARGV[1]) end
end
return n
`)
