package redis

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.Throttle = (*Throttle)(nil)

// Throttle is a gatehouse.Throttle on Redis: every gatehouse instance that shares the prefix
// counts into the same keys, so the counts are exact across instances. Its keys, under the
// prefix:
//
//	{thr}:<throttle key>      hash: n (attempts counted), s and ns (the last counted attempt,
//	                          Unix seconds and nanoseconds); TTL = the limit's Forget
//
// Attempt runs one Lua script over all the keys of the attempt, so that checking and counting
// are one atomic step: two instances racing on a key count exactly, and an attempt is counted
// under all its keys or none. The keys share the hash tag {thr}, so that the script also runs
// on Redis Cluster (all throttle keys then live in one slot; logins are few next to the
// requests that authenticate, so one shard carries them easily).
//
// Times are read from Options.Now, the clock of the instance, and stored with the attempt; the
// script compares them exactly, to the nanosecond. Instances should keep their clocks in sync
// (NTP): a wait is measured on the clock of the instance that answers, so a skew of s between
// two instances lengthens or shortens a wait by at most s (the count itself is exact). Every key expires Forget after its last attempt, so nothing is
// left behind. A Redis that does not answer within Options.Timeout gives
// gatehouse.ErrUnavailable (callers refuse the login: fail closed).
type Throttle struct {
	base
	attempt *rueidis.Lua
	refund  *rueidis.Lua
}

// NewThrottle returns a Throttle on client whose keys start with prefix (for example
// "gatehouse:"). Options.CacheTTL is not used: the throttle caches nothing.
func NewThrottle(client rueidis.Client, prefix string, opts Options) *Throttle {
	return &Throttle{
		base:    base{c: client, prefix: prefix, opts: opts.withDefaults()},
		attempt: rueidis.NewLuaScript(attemptScript),
		refund:  rueidis.NewLuaScript(refundScript),
	}
}

// attemptScript admits one attempt under every key or none (gatehouse.Throttle.Attempt).
// KEYS are the throttle keys; ARGV[1] and ARGV[2] the time of the attempt (Unix seconds and
// nanoseconds); then four arguments per key: Free, Base (ns), Max (ns) and Forget (ns) of its
// Backoff. It returns the longest wait in ns, 0 when the attempt was counted.
//
// Lua numbers are doubles: the nanoseconds since the epoch do not fit in their 53 bits, so a
// time is kept as seconds and nanoseconds, and only differences (which fit) are computed.
const attemptScript = `
local now_s, now_ns = tonumber(ARGV[1]), tonumber(ARGV[2])
local function policy(i)
  local j = 2 + (i - 1) * 4
  return tonumber(ARGV[j+1]), tonumber(ARGV[j+2]), tonumber(ARGV[j+3]), tonumber(ARGV[j+4])
end
-- count and elapsed ns since the last attempt of a key; count 0 when absent or forgotten
local function state(k, forget)
  local v = redis.call('HMGET', k, 'n', 's', 'ns')
  if not v[1] then return 0, 0 end
  local since = (now_s - tonumber(v[2])) * 1e9 + (now_ns - tonumber(v[3]))
  if since >= forget then return 0, 0 end
  return tonumber(v[1]), since
end
local function delay(n, free, base, max)
  if n < free then return 0 end
  local d = base
  for _ = free + 1, n do
    d = d * 2
    if d >= max then return max end
  end
  return math.min(d, max)
end
local wait = 0
for i, k in ipairs(KEYS) do
  local free, base, max, forget = policy(i)
  local n, since = state(k, forget)
  if n > 0 then wait = math.max(wait, delay(n, free, base, max) - since) end
end
if wait > 0 then return wait end
for i, k in ipairs(KEYS) do
  local _, _, _, forget = policy(i)
  local n = state(k, forget)
  redis.call('HSET', k, 'n', n + 1, 's', ARGV[1], 'ns', ARGV[2])
  redis.call('PEXPIRE', k, math.ceil(forget / 1e6))
end
return 0`

// refundScript takes one attempt back under KEYS[1], deleting the key at zero.
const refundScript = `
local n = tonumber(redis.call('HGET', KEYS[1], 'n'))
if not n then return 0 end
if n <= 1 then redis.call('DEL', KEYS[1]) else redis.call('HINCRBY', KEYS[1], 'n', -1) end
return 1`

func (th *Throttle) key(k string) string { return th.prefix + "{thr}:" + k }

// Attempt implements gatehouse.Throttle: one round trip, one atomic script.
func (th *Throttle) Attempt(ctx context.Context, limits ...gatehouse.Limit) (time.Duration, error) {
	if len(limits) == 0 {
		return 0, nil
	}
	now := th.opts.Now()
	keys := make([]string, len(limits))
	args := make([]string, 2, 2+4*len(limits))
	args[0], args[1] = strconv.FormatInt(now.Unix(), 10), strconv.Itoa(now.Nanosecond())
	for i, l := range limits {
		b := l.Backoff.Normalize()
		keys[i] = th.key(l.Key)
		args = append(args, strconv.Itoa(b.Free), strconv.FormatInt(int64(b.Base), 10),
			strconv.FormatInt(int64(b.Max), 10), strconv.FormatInt(int64(b.Forget), 10))
	}
	ctx, cancel := th.bound(ctx)
	defer cancel()
	wait, err := th.attempt.Exec(ctx, th.c, keys, args).AsInt64()
	if err != nil {
		return 0, storeErr("throttle attempt", err)
	}
	return time.Duration(wait), nil
}

// Reset implements gatehouse.Throttle. The keys share a hash slot, so one DEL removes them all.
func (th *Throttle) Reset(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	full := make([]string, len(keys))
	for i, k := range keys {
		full[i] = th.key(k)
	}
	ctx, cancel := th.bound(ctx)
	defer cancel()
	return storeErr("throttle reset", th.c.Do(ctx, th.c.B().Del().Key(full...).Build()).Error())
}

// Refund implements gatehouse.Throttle.
func (th *Throttle) Refund(ctx context.Context, key string) error {
	ctx, cancel := th.bound(ctx)
	defer cancel()
	return storeErr("throttle refund", th.refund.Exec(ctx, th.c, []string{th.key(key)}, nil).Error())
}
