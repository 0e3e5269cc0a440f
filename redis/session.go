package redis

import (
	"context"
	"sort"
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
//	s:<32-byte hash>          the session (a compact binary string), TTL = its expiry
//	u:<user id>               hash: handle -> session hash, the user's index (list, revoke-all)
//	h:<hour>:<2 chars>        hash: handle -> session hash, for SessionByHandle; one key per
//	                          hour of creation (taken from the handle) and 1024 shards
//
// A session key expires at the session's absolute expiry, or earlier at its idle expiry when
// Options.IdleTimeout is set; the index keys expire with the last session they list. Index
// entries whose session has gone are harmless (every lookup checks the session itself) and are
// dropped when the user's sessions are listed or deleted.
//
// FindSession is served through client-side caching. TouchSession runs a Lua script on the
// session key alone that writes nothing when the key is gone, so a touch racing a delete never
// brings a session back.
type SessionStore struct {
	base
	idle     time.Duration
	lifetime time.Duration
}

// SessionOptions configures a SessionStore.
type SessionOptions struct {
	Options
	// IdleTimeout, when positive, also expires a session key at LastSeenAt + IdleTimeout (each
	// touch pushes it on, never past the absolute expiry), so that abandoned sessions leave
	// Redis early. Set it to the session manager's idle timeout, or leave it zero to keep
	// sessions until their absolute expiry (the manager enforces idleness either way).
	IdleTimeout time.Duration
	// MaxLifetime is the longest a session lives: the manager's absolute timeout (default 12
	// hours). CountSessions looks at the handle index keys of that many hours back.
	MaxLifetime time.Duration
}

// NewSessionStore returns a SessionStore on client whose keys all start with prefix (for
// example "gatehouse:").
func NewSessionStore(client rueidis.Client, prefix string, opts SessionOptions) *SessionStore {
	st := &SessionStore{
		base:     base{c: client, prefix: prefix, opts: opts.Options.withDefaults()},
		idle:     max(opts.IdleTimeout, 0),
		lifetime: opts.MaxLifetime,
	}
	if st.lifetime <= 0 {
		st.lifetime = 12 * time.Hour
	}
	return st
}

// touchScript sets LastSeenAt of an existing session and pushes its idle expiry on.
// KEYS[1] the session; ARGV[1] LastSeenAt (8 bytes); ARGV[2] the store clock in Unix ms;
// ARGV[3] ms from now to LastSeenAt + idle timeout, or 0 without an idle timeout.
const touchScript = `
local v = redis.call('GET', KEYS[1])
if not v then return 0 end
redis.call('SETRANGE', KEYS[1], 1, ARGV[1])
local idle = tonumber(ARGV[3])
if idle > 0 then
  local e = 0
  for i = 18, 25 do e = e * 256 + string.byte(v, i) end
  local ttl = math.min(idle, math.ceil(e / 1000000 - tonumber(ARGV[2])))
  if ttl > 0 then redis.call('PEXPIRE', KEYS[1], ttl) end
end
return 1`

func (st *SessionStore) sessKey(h gatehouse.Hash) string { return st.prefix + "s:" + string(h[:]) }
func (st *SessionStore) userKey(userID string) string    { return st.prefix + "u:" + userID }

// keyTTL returns the TTL in ms of a session key at now: until the absolute expiry, or the idle
// expiry if that is earlier.
func (st *SessionStore) keyTTL(s *gatehouse.Session, now time.Time) int64 {
	ttl := ttlMillis(now, s.ExpiresAt)
	if st.idle > 0 {
		ttl = min(ttl, ttlMillis(now, s.LastSeenAt.Add(st.idle)))
	}
	return ttl
}

// CreateSession stores s and indexes it by user and by handle, in one round trip. It returns
// gatehouse.ErrConflict, undoing what it wrote, if the hash or the handle exists. A session
// that has already expired at the store's clock is not stored.
func (st *SessionStore) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	now := st.opts.Now()
	keyTTL, idxTTL := st.keyTTL(s, now), ttlMillis(now, s.ExpiresAt)
	if keyTTL <= 0 {
		return nil
	}
	ctx, cancel := st.bound(ctx)
	defer cancel()
	b := st.c.B()
	uk, hk, sk := st.userKey(s.User.UserID), st.handleKey(s.Handle), st.sessKey(s.Hash)
	h := string(s.Hash[:])
	// Indexes first: a session never exists without its index entries, so revoke-all
	// always finds it.
	res := st.fenced(ctx, rueidis.Commands{
		b.Hsetnx().Key(uk).Field(s.Handle).Value(h).Build(),
		b.Pexpire().Key(uk).Milliseconds(idxTTL).Nx().Build(),
		b.Pexpire().Key(uk).Milliseconds(idxTTL).Gt().Build(),
		b.Hsetnx().Key(hk).Field(s.Handle).Value(h).Build(),
		b.Pexpire().Key(hk).Milliseconds(idxTTL).Nx().Build(),
		b.Pexpire().Key(hk).Milliseconds(idxTTL).Gt().Build(),
		b.Set().Key(sk).Value(encodeSession(s)).Nx().PxMilliseconds(keyTTL).Build(),
	}, sk)
	if err := firstErr(res); err != nil {
		return storeErr("create session", err)
	}
	userNew, _ := res[0].AsBool()
	handleNew, _ := res[3].AsBool()
	setErr := res[6].Error()
	if userNew && handleNew && setErr == nil {
		return nil
	}
	return st.undoCreate(ctx, s, userNew, handleNew, setErr == nil)
}

// undoCreate removes what a conflicting CreateSession wrote, and only that.
func (st *SessionStore) undoCreate(ctx context.Context, s *gatehouse.Session, userNew, handleNew, sessNew bool) error {
	b := st.c.B()
	var cmds rueidis.Commands
	sk := st.sessKey(s.Hash)
	if userNew {
		cmds = append(cmds, b.Hdel().Key(st.userKey(s.User.UserID)).Field(s.Handle).Build())
	}
	if handleNew {
		cmds = append(cmds, b.Hdel().Key(st.handleKey(s.Handle)).Field(s.Handle).Build())
	}
	if sessNew {
		cmds = append(cmds, b.Del().Key(sk).Build())
	}
	if err := firstErr(st.fenced(ctx, cmds, sk)); err != nil {
		return storeErr("create session: undo", err)
	}
	return gatehouse.ErrConflict
}

// FindSession returns the session whose secret hashes to h, from the client-side cache when it
// is there.
func (st *SessionStore) FindSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	key := st.sessKey(h)
	v, err := st.c.DoCache(ctx, st.c.B().Get().Key(key).Cache(), st.opts.CacheTTL).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("find session", err)
	}
	s, ok := decodeSession(h, v)
	if !ok {
		return nil, false, corrupt("find session", key)
	}
	return s, true, nil
}

// TouchSession sets LastSeenAt of the session h if it still exists (never creating it) and,
// with an idle timeout, pushes its expiry on.
func (st *SessionStore) TouchSession(ctx context.Context, h gatehouse.Hash, lastSeen time.Time) (bool, error) {
	now := st.opts.Now()
	var idle int64
	if st.idle > 0 {
		idle = ttlMillis(now, lastSeen.Add(st.idle))
	}
	ctx, cancel := st.bound(ctx)
	defer cancel()
	sk := st.sessKey(h)
	n, err := st.fenced(ctx, rueidis.Commands{st.eval(touchScript, []string{sk},
		nanosBytes(lastSeen), strconv.FormatInt(now.UnixMilli(), 10), strconv.FormatInt(idle, 10))}, sk)[0].AsInt64()
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
	v, err := st.fenced(ctx, rueidis.Commands{st.c.B().Getdel().Key(key).Build()}, key)[0].ToString()
	if rueidis.IsRedisNil(err) {
		return false, nil
	}
	if err != nil {
		return false, storeErr("delete session", err)
	}
	handle, userID, ok := sessionOwner(v)
	if !ok {
		return true, corrupt("delete session", key)
	}
	return true, st.unindex(ctx, userID, []string{handle})
}

// DeleteSessionByHandle removes the session with that handle if it belongs to userID, looked
// up in the user's own index, and returns its hash.
func (st *SessionStore) DeleteSessionByHandle(ctx context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	h, found, err := st.indexed(ctx, st.userKey(userID), handle)
	if err != nil || !found {
		return gatehouse.Hash{}, false, err
	}
	s, found, err := st.get(ctx, h)
	if err != nil {
		return gatehouse.Hash{}, false, err
	}
	if !found || s.Handle != handle || s.User.UserID != userID {
		// A stale index entry: the session expired or was deleted meanwhile.
		return gatehouse.Hash{}, false, st.unindex(ctx, userID, []string{handle})
	}
	sk := st.sessKey(h)
	n, err := st.fenced(ctx, rueidis.Commands{st.c.B().Del().Key(sk).Build()}, sk)[0].AsInt64()
	if err != nil {
		return gatehouse.Hash{}, false, storeErr("delete session by handle", err)
	}
	return h, n == 1, st.unindex(ctx, userID, []string{handle})
}

// get reads a session without the client-side cache (for the rarely used admin paths).
func (st *SessionStore) get(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	key := st.sessKey(h)
	v, err := st.c.Do(ctx, st.c.B().Get().Key(key).Build()).ToString()
	if rueidis.IsRedisNil(err) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, storeErr("get session", err)
	}
	s, ok := decodeSession(h, v)
	if !ok {
		return nil, false, corrupt("get session", key)
	}
	return s, true, nil
}

// SessionByHandle returns the session with that handle, whoever owns it.
func (st *SessionStore) SessionByHandle(ctx context.Context, handle string) (*gatehouse.Session, bool, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	h, found, err := st.indexed(ctx, st.handleKey(handle), handle)
	if err != nil || !found {
		return nil, false, err
	}
	s, found, err := st.get(ctx, h)
	if err != nil || !found || s.Handle != handle {
		return nil, false, err
	}
	return s, true, nil
}

// ListSessions returns the user's sessions, oldest first (ties broken by handle): one read of
// the user's index, then one pipelined read of the sessions it names.
func (st *SessionStore) ListSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	handles, hashes, err := st.userIndex(ctx, userID)
	if err != nil || len(handles) == 0 {
		return nil, err
	}
	b := st.c.B()
	cmds := make(rueidis.Commands, len(hashes))
	for i, h := range hashes {
		cmds[i] = b.Get().Key(st.sessKey(h)).Build()
	}
	var out []*gatehouse.Session
	var stale []string
	for i, r := range st.doMulti(ctx, cmds) {
		v, err := r.ToString()
		if rueidis.IsRedisNil(err) {
			stale = append(stale, handles[i])
			continue
		}
		if err != nil {
			return nil, storeErr("list sessions", err)
		}
		s, ok := decodeSession(hashes[i], v)
		if !ok {
			return nil, corrupt("list sessions", st.sessKey(hashes[i]))
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool {
		if !out[i].CreatedAt.Equal(out[j].CreatedAt) {
			return out[i].CreatedAt.Before(out[j].CreatedAt)
		}
		return out[i].Handle < out[j].Handle
	})
	return out, st.unindex(ctx, userID, stale)
}

// DeleteUserSessions removes every session in the user's index and returns the hashes of those
// that existed. Only the index entries it read are removed, so a session created concurrently
// keeps its entry (and is caught by the user's not-before time, which callers move first).
func (st *SessionStore) DeleteUserSessions(ctx context.Context, userID string) ([]gatehouse.Hash, error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	handles, hashes, err := st.userIndex(ctx, userID)
	if err != nil || len(handles) == 0 {
		return nil, err
	}
	b := st.c.B()
	cmds := make(rueidis.Commands, len(hashes), 2*len(hashes))
	keys := make([]string, len(hashes))
	for i, h := range hashes {
		keys[i] = st.sessKey(h)
		cmds[i] = b.Del().Key(keys[i]).Build()
	}
	var deleted []gatehouse.Hash
	for i, r := range st.fenced(ctx, cmds, keys...) {
		n, err := r.AsInt64()
		if err != nil {
			return nil, storeErr("delete user sessions", err)
		}
		if n == 1 {
			deleted = append(deleted, hashes[i])
		}
	}
	return deleted, st.unindex(ctx, userID, handles)
}
