package redis

import (
	"context"
	"crypto/subtle"
	"errors"
	"strconv"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.SessionStore   = (*SessionStore)(nil)
	_ gatehouse.SessionCounter = (*SessionStore)(nil)
)

// SessionStore is a gatehouse.SessionStore on Redis, shared by any number of gatehouse
// instances. Its keys, under the prefix:
//
//	s:<locator>      the session: a compact binary string (codec.go); the locator is the first
//	                 16 bytes of the session's hash, the value holds the other 16
//	x:<handle>       the locator, only for a session whose handle is not
//	                 gatehouse.SessionHandle of its hash (the session manager's always is)
//	i:...            the user index and the session counts (index.go)
//
// A session key expires at its deadline: the session's absolute expiry, but at most
// MaxLifetime after it was stored, or earlier at its idle expiry when IdleTimeout is set.
// The index keys expire at the end of the hour of the deadlines they list. Index entries whose
// session has gone are harmless (every lookup reads the session itself) and are dropped when
// the user's sessions are listed or deleted.
//
// SessionByHandle and DeleteSessionByHandle need no index: the handle is the locator.
// FindSession is served through client-side caching, and decodes a cached value once (see
// memo.go). TouchSession runs a Lua script on the session key alone that writes nothing when
// the key is gone, so a touch racing a delete never brings a session back.
//
// Values of another format version (such as those of an older gatehouse) are not sessions of
// this store: they are reported as not found, and expire by themselves.
type SessionStore struct {
	base
	idle     time.Duration
	lifetime time.Duration
	format2  bool // write format 2 only (SessionOptions.Format)
	memo     memo
}

// SessionOptions configures a SessionStore.
type SessionOptions struct {
	Options
	// IdleTimeout, when positive, also expires a session key at LastSeenAt + IdleTimeout (each
	// touch pushes it on, never past the deadline), so that abandoned sessions leave Redis
	// early. Set it to the session manager's idle timeout, or leave it zero to keep sessions
	// until their absolute expiry (the manager enforces idleness either way).
	IdleTimeout time.Duration
	// Format is the format of the values it writes: 3 (compact; also when zero) or 2, which
	// the previous version of gatehouse reads. Sessions of both formats are always read, and
	// format 3 falls back to 2 for a session it cannot hold. Write format 2 while instances of
	// the previous version share Redis (a rolling upgrade): they find, and delete at logout,
	// the sessions that upgraded instances create.
	Format int
	// MaxLifetime is the longest a session lives: the manager's absolute timeout (default 12
	// hours). A session is kept at most that long after it is stored, even if its ExpiresAt is
	// later, and lists, deletes of all of a user's sessions and counts look at the index of
	// that many hours ahead.
	MaxLifetime time.Duration
}

// NewSessionStore returns a SessionStore on client whose keys all start with prefix (for
// example "gatehouse:").
func NewSessionStore(client rueidis.Client, prefix string, opts SessionOptions) *SessionStore {
	st := &SessionStore{
		base:     base{c: client, prefix: prefix, opts: opts.Options.withDefaults()},
		idle:     max(opts.IdleTimeout, 0),
		lifetime: opts.MaxLifetime,
		format2:  opts.Format == 2,
	}
	if st.lifetime <= 0 {
		st.lifetime = 12 * time.Hour
	}
	return st
}

// touchScript sets LastSeenAt of an existing session and pushes its idle expiry on.
// KEYS[1] the session; ARGV[1] LastSeenAt (8 bytes, Unix ns big-endian, after 1970); ARGV[2]
// the store clock in Unix ms; ARGV[3] ms from now to LastSeenAt + idle timeout, or 0 without an
// idle timeout; ARGV[4] bytes 16 to 32 of the session hash. Format 2 holds LastSeenAt as it
// is; format 3 holds ExpiresAt minus LastSeenAt in 6 bytes, computed here byte by byte (Lua
// numbers cannot hold nanoseconds exactly), and derives the deadline from ExpiresAt, split in
// two 32-bit halves for the same reason (2^32 = 4294 * 10^6 + 967296). A LastSeenAt after
// ExpiresAt is kept as ExpiresAt: the session is over either way, and an earlier last-seen
// time can only end it sooner.
const touchScript = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
local f, d = string.byte(v, 1), 0
if f == 2 and #v >= 32 then
  if string.sub(v, 17, 32) ~= ARGV[4] then return 0 end
  redis.call('SETRANGE', KEYS[1], 2, ARGV[1])
  for i = 11, 16 do d = d * 256 + string.byte(v, i) end
elseif f >= 128 and #v >= 31 then
  if string.sub(v, 10, 25) ~= ARGV[4] then return 0 end
  local rel, borrow = {}, 0
  for i = 8, 1, -1 do
    local x = string.byte(v, i + 1) - string.byte(ARGV[1], i) - borrow
    borrow = 0
    if x < 0 then x, borrow = x + 256, 1 end
    rel[i] = x
  end
  if borrow == 1 then rel = {0, 0, 0, 0, 0, 0, 0, 0}
  elseif rel[1] + rel[2] > 0 then return redis.error_reply('last seen too long before the expiry') end
  redis.call('SETRANGE', KEYS[1], 25, string.char(rel[3], rel[4], rel[5], rel[6], rel[7], rel[8]))
` + format3Deadline + `
else
  return 0
end
local idle = tonumber(ARGV[3])
if idle > 0 then
  local ttl = math.min(idle, d - tonumber(ARGV[2]))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return 1`

// format3Deadline sets d to the deadline of v, a value of format 3: its ExpiresAt rounded up
// to a millisecond, from the two 32-bit halves of the nanoseconds.
const format3Deadline = `
  local hi, lo = 0, 0
  for i = 2, 5 do hi = hi * 256 + string.byte(v, i) end
  for i = 6, 9 do lo = lo * 256 + string.byte(v, i) end
  local r = hi * 967296 + lo
  local m = math.fmod(r, 1000000)
  d = hi * 4294 + (r - m) / 1000000
  if m > 0 then d = d + 1 end`

// deleteScript deletes the session KEYS[1] and returns its value if it is one of format 2 or
// 3 whose hash ends with ARGV[1] (bytes 16 to 32).
const deleteScript = `
local v = redis.call('GET', KEYS[1])
if not v then return false end
local f, rest = string.byte(v, 1), nil
if f == 2 then rest = string.sub(v, 17, 32) elseif f >= 128 then rest = string.sub(v, 10, 25) end
if rest ~= ARGV[1] then return false end
redis.call('DEL', KEYS[1])
return v`

func (st *SessionStore) locKey(loc string) string        { return st.prefix + "s:" + loc }
func (st *SessionStore) sessKey(h gatehouse.Hash) string { return st.locKey(string(h[:16])) }
func (st *SessionStore) handleKey(handle string) string  { return st.prefix + "x:" + handle }

// deadline returns the deadline of s stored at now (Unix ms): its absolute expiry, rounded
// up to a millisecond, but at most MaxLifetime away (rounded up too, so that a session the
// manager created a moment ago with that lifetime keeps its expiry as deadline, and format 3).
func (st *SessionStore) deadline(s *gatehouse.Session, now time.Time) int64 {
	return min(ceilMillis(s.ExpiresAt.UnixNano()), ceilMillis(now.UnixNano()+st.lifetime.Nanoseconds()))
}

// keyTTL returns the TTL in ms, at now, of a session key with that deadline (Unix ms) last
// seen at lastSeen: until the deadline, or the idle expiry if that is earlier.
func (st *SessionStore) keyTTL(deadline int64, lastSeen, now time.Time) int64 {
	ttl := deadline - now.UnixMilli()
	if st.idle > 0 {
		ttl = min(ttl, ttlMillis(now, lastSeen.Add(st.idle)))
	}
	return ttl
}

// CreateSession stores s and indexes it by user, and by handle if the handle is not derived
// from the hash. It returns gatehouse.ErrConflict, undoing what it wrote, if the hash (its
// first 16 bytes) or the handle exists. A session that has already expired at the store's
// clock is not stored. It takes two round trips: the count of the deadline's hour, which picks
// the index set, then the writes.
func (st *SessionStore) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	now := st.opts.Now()
	nowMS := now.UnixMilli()
	if s.ExpiresAt.IsZero() || !s.ExpiresAt.After(now) {
		return nil
	}
	deadline := st.deadline(s, now)
	ttl := st.keyTTL(deadline, s.LastSeenAt, now)
	if ttl <= 0 {
		return nil
	}
	ctx, cancel := st.bound(ctx)
	defer cancel()
	hour := deadline / hourMillis
	res := st.doMulti(ctx, st.countCmds(hour, 1, nowMS))
	c, err := res[1].AsInt64()
	if err != nil {
		return storeErr("create session", err)
	}
	loc := string(s.Hash[:16])
	sk := st.locKey(loc)
	derived := s.Handle == gatehouse.SessionHandle(s.Hash)
	// The index first: a session never exists without its index entry, so revoke-all always
	// finds it.
	cmds := st.indexCmds(s.User.UserID, loc, deadline, c, nowMS)
	b := st.c.B()
	if !derived {
		cmds = append(cmds, b.Set().Key(st.handleKey(s.Handle)).Value(loc).Nx().PxMilliseconds(deadline-nowMS).Build())
	}
	value := encodeSession(s, deadline)
	if st.format2 {
		value = encodeSession2(s, deadline)
	}
	cmds = append(cmds, b.Set().Key(sk).Value(value).Nx().PxMilliseconds(ttl).Build())
	res = st.fenced(ctx, cmds, sk)
	if err := firstErr(res); err != nil {
		return storeErr("create session", err)
	}
	indexed, _ := res[0].AsBool()
	handled := derived || res[3].Error() == nil
	if indexed && handled && res[len(res)-1].Error() == nil {
		return nil
	}
	return st.undoCreate(ctx, s, deadline, c, undo{indexed, handled && !derived, res[len(res)-1].Error() == nil})
}

// undo says what a conflicting CreateSession wrote.
type undo struct{ indexed, handle, session bool }

// undoCreate removes what a conflicting CreateSession wrote, and only that.
func (st *SessionStore) undoCreate(ctx context.Context, s *gatehouse.Session, deadline, c int64, u undo) error {
	loc := string(s.Hash[:16])
	b := st.c.B()
	cmds := rueidis.Commands{st.decrCmd(deadline / hourMillis)}
	if u.indexed {
		cmds = append(cmds, b.Zrem().Key(st.entrySet(s.User.UserID, deadline, c)).Member(loc).Build())
	}
	if u.handle {
		cmds = append(cmds, b.Del().Key(st.handleKey(s.Handle)).Build())
	}
	if u.session {
		cmds = append(cmds, b.Del().Key(st.locKey(loc)).Build())
	}
	if err := firstErr(st.fenced(ctx, cmds, st.locKey(loc))); err != nil {
		return storeErr("create session: undo", err)
	}
	return gatehouse.ErrConflict
}

// FindSession returns the session whose secret hashes to h, from the client-side cache when it
// is there. A value of another format version is not found.
func (st *SessionStore) FindSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	e := st.memo.get(h)
	var key string
	var get rueidis.Cacheable
	if e != nil {
		key, get = e.key, e.get
	} else {
		key = st.sessKey(h)
		get = st.c.B().Get().Key(key).Cache()
	}
	bctx := bind(ctx, st.opts.Timeout)
	var res rueidis.RedisResult
	if st.trusted() {
		res = st.c.DoCache(bctx, get, st.opts.CacheTTL)
	} else {
		res = st.c.Do(bctx, st.c.B().Get().Key(key).Build())
	}
	bctx.release()
	v, err := res.ToString()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("find session", err)
	}
	if e == nil || e.raw != v {
		if e, err = st.decode(h, e, key, v); e == nil || err != nil {
			return nil, false, err
		}
	}
	return e.s.Session.Clone(), true, nil
}

// decode decodes v, the value of key, which FindSession read for h, and remembers it in
// place of old (nil, or h's previous entry). It returns nil for a value that is not h's
// session.
func (st *SessionStore) decode(h gatehouse.Hash, old *memoEntry, key, v string) (*memoEntry, error) {
	s, current, ok := decodeSession(string(h[:16]), v)
	if !current {
		return nil, nil
	}
	if !ok {
		return nil, corrupt("find session", key)
	}
	if subtle.ConstantTimeCompare(s.Hash[16:], h[16:]) != 1 {
		return nil, nil // another session with the same first 16 bytes (a 2^-128 event)
	}
	e := &memoEntry{hash: h, key: key, raw: v, s: s}
	if old != nil {
		e.get = old.get
	} else {
		e.get = st.c.B().Get().Key(key).Cache().Pin()
	}
	st.memo.put(e)
	return e, nil
}

// TouchSession sets LastSeenAt of the session h if it still exists (never creating it) and,
// with an idle timeout, pushes its expiry on. It returns an error for a lastSeen before 1970
// (or after 2262), which the formats do not hold.
func (st *SessionStore) TouchSession(ctx context.Context, h gatehouse.Hash, lastSeen time.Time) (bool, error) {
	if n := lastSeen.UnixNano(); n <= 0 || !time.Unix(0, n).Equal(lastSeen) {
		return false, errors.New("redis: touch session: last seen time outside 1970 to 2262")
	}
	now := st.opts.Now()
	var idle int64
	if st.idle > 0 {
		idle = ttlMillis(now, lastSeen.Add(st.idle))
	}
	ctx, cancel := st.bound(ctx)
	defer cancel()
	sk := st.sessKey(h)
	n, err := st.fenced(ctx, rueidis.Commands{st.eval(touchScript, []string{sk}, nanosBytes(lastSeen),
		strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(idle, 10), string(h[16:]))}, sk)[0].AsInt64()
	if err != nil {
		return false, storeErr("touch session", err)
	}
	return n == 1, nil
}

// DeleteSession removes the session h and its index entries; found=false if there was none.
func (st *SessionStore) DeleteSession(ctx context.Context, h gatehouse.Hash) (bool, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	key := st.sessKey(h)
	v, err := st.fenced(ctx, rueidis.Commands{st.eval(deleteScript, []string{key}, string(h[16:]))}, key)[0].ToString()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, storeErr("delete session", err)
	}
	s, current, ok := decodeSession(string(h[:16]), v)
	if !current {
		return false, nil
	}
	if !ok {
		return true, corrupt("delete session", key)
	}
	err = st.unindex(ctx, []*storedSession{&s}, nil)
	st.settle(ctx)
	return true, err
}
