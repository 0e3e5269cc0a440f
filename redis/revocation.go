package redis

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.RevocationStore = (*RevocationStore)(nil)

// Durable is a revocation store that outlives Redis (such as PostgreSQL's), able to list its
// revocations so that Redis can be filled again from it.
type Durable interface {
	gatehouse.RevocationStore
	gatehouse.RevocationLister
}

// RevocationOptions configures a RevocationStore.
type RevocationOptions struct {
	Options
	// Durable, when set, is the authority: every revocation is written to it first, then to
	// Redis, and Redis is only trusted while it provably still holds everything (see
	// RevocationStore). Without it, a Redis flush or a restart that loses data forgets
	// revocations.
	Durable Durable
	// Logger receives the events of re-filling Redis from the durable store; nil discards them.
	Logger func(msg string, args ...any)
}

// RevocationStore is a gatehouse.RevocationStore on Redis for several gatehouse instances:
//
//	jti:<jti>        "1", expiring when the token does: the denylist
//	nb:<user id>     the user's not-before time (19-digit Unix nanoseconds), never moved back
//
// TokenRevoked and NotBefore are served through client-side caching, so a hot check costs no
// round trip, and a revocation on any instance invalidates every other instance's copy.
//
// With a Durable store, Redis is a fast, shared copy of it. A marker key holds the run id of
// the Redis server that was filled; a read trusts Redis only when the marker is in the
// client-side cache of a live connection, or, after any reconnection or invalidation, when a
// script confirms that the marker equals the server's current run id. A flush (the marker is
// gone), a restart without persistence, a restart from an older snapshot or a failover (the run
// id changed) all fail that check: reads then go to the durable store while Redis is filled
// again from it in the background, and the marker is written last. So a revoked token never
// comes back because Redis lost data.
type RevocationStore struct {
	base
	durable  Durable
	log      func(string, ...any)
	check    *rueidis.Lua
	seedOpen *rueidis.Lua
	seedDone *rueidis.Lua

	verified  atomic.Pointer[string] // the marker value last confirmed against the run id
	reseeding atomic.Bool
	seedMu    sync.Mutex
}

// NewRevocationStore returns a RevocationStore on client whose keys start with prefix.
func NewRevocationStore(client rueidis.Client, prefix string, opts RevocationOptions) *RevocationStore {
	st := &RevocationStore{
		base:     base{c: client, prefix: prefix, opts: opts.Options.withDefaults()},
		durable:  opts.Durable,
		log:      opts.Logger,
		check:    rueidis.NewLuaScriptRetryable(checkScript),
		seedOpen: rueidis.NewLuaScript(seedOpenScript),
		seedDone: rueidis.NewLuaScript(seedDoneScript),
	}
	if st.log == nil {
		st.log = func(string, ...any) {}
	}
	empty := ""
	st.verified.Store(&empty)
	return st
}

// maxScript sets KEYS[1] to ARGV[1] unless it holds a greater value (fixed-width strings).
const maxScript = `
local cur = redis.call('GET', KEYS[1])
if not cur or cur < ARGV[1] then redis.call('SET', KEYS[1], ARGV[1]) end
return 1`

// runIDLua extracts the server's run id from INFO.
const runIDLua = `string.match(redis.call('INFO', 'server'), 'run_id:(%w+)')`

// checkScript returns the marker and the server's run id, read atomically on the marker's node.
const checkScript = `return {redis.call('GET', KEYS[1]) or '', ` + runIDLua + `}`

// seedOpenScript records a fill in progress (KEYS[1] = ARGV[1], for ARGV[2] ms) and returns
// the run id.
const seedOpenScript = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ` + runIDLua

// seedDoneScript writes the marker (KEYS[2] = ARGV[2]) if the fill recorded in KEYS[1] is still
// ARGV[1]: a flush during the fill erased it, and then the fill does not count.
const seedDoneScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1`

func (st *RevocationStore) jtiKey(jti string) string   { return st.prefix + "jti:" + jti }
func (st *RevocationStore) nbKey(userID string) string { return st.prefix + "nb:" + userID }

// The marker keys share a hash tag, so that the scripts that use both run on Redis Cluster.
func (st *RevocationStore) markerKey() string { return st.prefix + "{rev}:marker" }
func (st *RevocationStore) seedKey() string   { return st.prefix + "{rev}:seed" }

// RevokeToken denies jti until exp: in the durable store first, if there is one, then in Redis
// with a TTL that ends at exp (by the store's clock). A revocation is never shortened.
func (st *RevocationStore) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	if st.durable != nil {
		if err := st.durable.RevokeToken(ctx, jti, exp); err != nil {
			return err
		}
	}
	ttl := ttlMillis(st.opts.Now(), exp)
	if ttl == 0 {
		return nil
	}
	ctx, cancel := st.bound(ctx)
	defer cancel()
	return st.setToken(ctx, jti, ttl)
}

func (st *RevocationStore) setToken(ctx context.Context, jti string, ttl int64) error {
	k := st.jtiKey(jti)
	b := st.c.B()
	return storeErr("revoke token", firstErr(st.fenced(ctx, rueidis.Commands{
		b.Set().Key(k).Value("1").Nx().PxMilliseconds(ttl).Build(),
		b.Pexpire().Key(k).Milliseconds(ttl).Gt().Build(),
	}, k)))
}

// TokenRevoked reports whether jti is denied.
func (st *RevocationStore) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	_, found, trusted, err := st.read(ctx, st.jtiKey(jti))
	if err != nil {
		return false, storeErr("token revoked", err)
	}
	if !trusted {
		return st.durable.TokenRevoked(ctx, jti)
	}
	return found, nil
}

// SetNotBefore moves the user's not-before time to t unless it is later already: in the
// durable store first, if there is one, then in Redis.
func (st *RevocationStore) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	if st.durable != nil {
		if err := st.durable.SetNotBefore(ctx, userID, t); err != nil {
			return err
		}
	}
	ctx, cancel := st.bound(ctx)
	defer cancel()
	k := st.nbKey(userID)
	return storeErr("set not before", firstErr(st.fenced(ctx, rueidis.Commands{st.eval(maxScript, []string{k}, formatNanos(t))}, k)))
}

// NotBefore returns the user's not-before time, or the zero time.
func (st *RevocationStore) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	key := st.nbKey(userID)
	v, found, trusted, err := st.read(ctx, key)
	if err != nil {
		return time.Time{}, storeErr("not before", err)
	}
	if !trusted {
		return st.durable.NotBefore(ctx, userID)
	}
	if !found {
		return time.Time{}, nil
	}
	t, ok := parseNanos(v)
	if !ok {
		return time.Time{}, corrupt("not before", key)
	}
	return t, nil
}

// read returns the value of key through the client-side cache, and whether Redis can be
// trusted for it (always, without a durable store).
func (st *RevocationStore) read(ctx context.Context, key string) (v string, found, trusted bool, err error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	b := st.c.B()
	if st.durable == nil {
		v, err = st.c.DoCache(ctx, b.Get().Key(key).Cache(), st.opts.CacheTTL).ToString()
		if rueidis.IsRedisNil(err) {
			return "", false, true, nil
		}
		return v, err == nil, true, err
	}
	m, k := st.readPair(ctx, st.markerKey(), key)
	marker, err := m.ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return "", false, false, err
	}
	v, err = k.ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return "", false, false, err
	}
	found = err == nil
	if st.markerHeld(ctx, m, marker, k.IsCacheHit()) {
		return v, found, true, nil
	}
	trusted, err = st.verify(ctx)
	return v, found, trusted, err
}

// markerHeld reports whether the marker read along with a key (m, with value marker) shows
// that Redis still holds every revocation, without a round trip. It must be a cached copy of
// the verified marker. If the key itself came from the server, its value may postdate a flush
// whose invalidation had not been processed when the marker was read from the cache; Redis
// sends that invalidation on this connection before the key's value, so looking the marker up
// in the cache again settles it.
func (st *RevocationStore) markerHeld(ctx context.Context, m rueidis.RedisResult, marker string, keyHit bool) bool {
	verified := *st.verified.Load()
	if !m.IsCacheHit() || marker == "" || marker != verified {
		return false
	}
	if keyHit {
		return true
	}
	again := st.c.DoCache(ctx, st.c.B().Get().Key(st.markerKey()).Cache(), st.opts.CacheTTL)
	v, err := again.ToString()
	return err == nil && again.IsCacheHit() && v == verified
}

// verify checks that the marker names the running Redis server. If it does not, Redis has lost
// or may have lost revocations: it starts a fill from the durable store and reports false.
func (st *RevocationStore) verify(ctx context.Context) (bool, error) {
	got, err := st.check.Exec(ctx, st.c, []string{st.markerKey()}, nil).AsStrSlice()
	if err != nil {
		return false, err
	}
	if len(got) != 2 || got[1] == "" {
		return false, fmt.Errorf("unexpected answer to the marker check: %q", got)
	}
	if got[0] == got[1] {
		st.verified.Store(&got[0])
		return true, nil
	}
	empty := ""
	st.verified.Store(&empty)
	st.reseedInBackground()
	return false, nil
}

// seedTimeout bounds a fill of Redis from the durable store.
const seedTimeout = time.Minute

func (st *RevocationStore) reseedInBackground() {
	if !st.reseeding.CompareAndSwap(false, true) {
		return
	}
	go func() {
		defer st.reseeding.Store(false)
		ctx, cancel := context.WithTimeout(context.Background(), seedTimeout)
		defer cancel()
		if err := st.Sync(ctx); err != nil {
			st.log("refilling Redis revocations from the durable store failed; reads use the durable store", "err", err)
		}
	}()
}

// Sync fills Redis from the durable store, unless the marker shows that Redis holds it all
// already, and writes the marker. Calling it at start-up spares the first requests the slower
// reads from the durable store. Without a durable store it does nothing.
func (st *RevocationStore) Sync(ctx context.Context) error {
	if st.durable == nil {
		return nil
	}
	st.seedMu.Lock()
	defer st.seedMu.Unlock()
	// Instances that start together fill concurrently; the last to begin writes the marker,
	// and the others find it on their next attempt.
	var err error
	for range 3 {
		var ok bool
		if ok, err = st.verifyOnly(ctx); err != nil || ok {
			return err
		}
		if err = st.fillOnce(ctx); err == nil {
			return nil
		}
	}
	return err
}

// fillOnce fills Redis from the durable store and writes the marker, unless another fill
// started meanwhile (or Redis lost the fill's record).
func (st *RevocationStore) fillOnce(ctx context.Context) error {
	nonce := gatehouse.NewSecret()
	runID, err := st.seedOpen.Exec(ctx, st.c, []string{st.seedKey()},
		[]string{nonce, fmt.Sprint(seedTimeout.Milliseconds())}).ToString()
	if err != nil {
		return storeErr("fill revocations: open", err)
	}
	now := st.opts.Now()
	tokens, notBefore, err := st.durable.ListRevocations(ctx, now)
	if err != nil {
		return err
	}
	if err := st.fill(ctx, tokens, notBefore, now); err != nil {
		return err
	}
	done, err := st.seedDone.Exec(ctx, st.c, []string{st.seedKey(), st.markerKey()}, []string{nonce, runID}).AsInt64()
	if err != nil {
		return storeErr("fill revocations: marker", err)
	}
	if done != 1 {
		return fmt.Errorf("redis: fill revocations: another fill started, or Redis was flushed or restarted, during the fill")
	}
	st.log("filled Redis with the revocations of the durable store", "tokens", len(tokens), "users", len(notBefore))
	return nil
}

// verifyOnly reports whether the marker names the running server, without starting a fill.
func (st *RevocationStore) verifyOnly(ctx context.Context) (bool, error) {
	got, err := st.check.Exec(ctx, st.c, []string{st.markerKey()}, nil).AsStrSlice()
	if err != nil {
		return false, storeErr("check revocations marker", err)
	}
	return len(got) == 2 && got[1] != "" && got[0] == got[1], nil
}

// fillBatch is how many writes one round trip of a fill carries.
const fillBatch = 500

// fill writes the durable store's revocations into Redis, keeping whatever is later.
func (st *RevocationStore) fill(ctx context.Context, tokens, notBefore map[string]time.Time, now time.Time) error {
	b := st.c.B()
	var cmds rueidis.Commands
	var keys []string
	send := func() error {
		err := firstErr(st.fenced(ctx, cmds, keys...))
		cmds, keys = cmds[:0], keys[:0]
		return storeErr("fill revocations", err)
	}
	for userID, t := range notBefore {
		k := st.nbKey(userID)
		cmds, keys = append(cmds, st.eval(maxScript, []string{k}, formatNanos(t))), append(keys, k)
		if len(cmds) >= fillBatch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	for jti, exp := range tokens {
		if ttl := ttlMillis(now, exp); ttl > 0 {
			k := st.jtiKey(jti)
			cmds = append(cmds, b.Set().Key(k).Value("1").Nx().PxMilliseconds(ttl).Build(),
				b.Pexpire().Key(k).Milliseconds(ttl).Gt().Build())
			keys = append(keys, k)
		}
		if len(cmds) >= fillBatch {
			if err := send(); err != nil {
				return err
			}
		}
	}
	if len(cmds) > 0 {
		return send()
	}
	return nil
}
