package redis

import (
	"context"
	"strconv"
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

// RevocationStore is a gatehouse.RevocationStore on Redis for several gatehouse instances.
// Revocations are spread over 16 shards, each with a hash tag of its own, {rev:<n>} (n from 0
// to 15, an FNV-1a hash of the token id or user id modulo 16):
//
//	{rev:<n>}:jti:<jti>     "1", expiring when the token does: the denylist
//	{rev:<n>}:nb:<user id>  the user's not-before time (19-digit Unix nanoseconds), never moved
//	                        back
//	{rev:<n>}:marker        with a Durable store: the run id of the Redis server the shard was
//	                        filled on
//	{rev:<n>}:fill          with a Durable store: a fill of the shard in progress
//
// TokenRevoked and NotBefore are served through client-side caching, so a hot check costs no
// round trip, and a revocation on any instance invalidates every other instance's copy.
//
// With a Durable store, Redis is a fast, shared copy of it. Each shard's marker holds the run
// id of the Redis server that holds the shard; a read trusts Redis only when the shard's marker
// is in the client-side cache of a live connection, or, after any reconnection or
// invalidation, when a script confirms that the marker equals the server's current run id. A
// flush (the marker is gone), a restart without persistence, a restart from an older snapshot
// or a failover (the run id changed) all fail that check: reads then go to the durable store
// while Redis is filled again from it in the background, and the marker is written last. So a
// revoked token never comes back because Redis lost data.
//
// A shard lives in one hash slot, so on Redis Cluster its marker is on the same node as its
// revocations: the check covers the node that a read depends on, and losing one node of a
// Cluster is detected for the shards that node holds. (A prefix with a hash tag of its own,
// such as "{gatehouse}:", puts every shard in that one slot instead; that is correct too.)
type RevocationStore struct {
	base
	durable   Durable
	log       func(string, ...any)
	readCheck *rueidis.Lua

	shards   [revShards]string                 // the key prefix of each shard, ending in "{rev:<n>}:"
	markers  [revShards]string                 // the marker key of each shard
	verified [revShards]atomic.Pointer[string] // per shard, the marker last confirmed against the run id
	jtiKeys  keyMemo                           // the keys of recently seen token ids
	nbKeys   keyMemo                           // the keys of recently seen user ids

	refilling atomic.Bool
	fillMu    sync.Mutex
}

// revShards is the number of revocation shards; it is part of the key layout.
const revShards = 16

// revShard returns the shard of a token id or a user id: FNV-1a (32 bits) modulo revShards.
func revShard(id string) int { return int(revHash(id) % revShards) }

func revHash(id string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(id); i++ {
		h = (h ^ uint32(id[i])) * 16777619
	}
	return h
}

// NewRevocationStore returns a RevocationStore on client whose keys start with prefix.
func NewRevocationStore(client rueidis.Client, prefix string, opts RevocationOptions) *RevocationStore {
	st := &RevocationStore{
		base:      base{c: client, prefix: prefix, opts: opts.Options.withDefaults()},
		durable:   opts.Durable,
		log:       opts.Logger,
		readCheck: rueidis.NewLuaScriptRetryable(readCheckScript),
	}
	if st.log == nil {
		st.log = func(string, ...any) {}
	}
	empty := ""
	for i := range revShards {
		st.shards[i] = prefix + "{rev:" + strconv.Itoa(i) + "}:"
		st.markers[i] = st.shards[i] + "marker"
		st.verified[i].Store(&empty)
	}
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

// readCheckScript returns what checkScript does and then whether a key of the marker's shard
// (KEYS[2]) exists ('1' or '0') and its value, all read at once: a value read along with a
// confirmed marker cannot predate the fill that wrote the marker.
const readCheckScript = `
local v = redis.call('GET', KEYS[2])
return {redis.call('GET', KEYS[1]) or '', ` + runIDLua + `, v and '1' or '0', v or ''}`

// fillOpenScript records a fill in progress (KEYS[1] = ARGV[1], for ARGV[2] ms) and returns
// the run id.
const fillOpenScript = `
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return ` + runIDLua

// fillDoneScript writes the marker (KEYS[2] = ARGV[2]) if the fill recorded in KEYS[1] is still
// ARGV[1]: a flush during the fill erased it, and then the fill does not count.
const fillDoneScript = `
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
redis.call('SET', KEYS[2], ARGV[2])
redis.call('DEL', KEYS[1])
return 1`

// jtiKey and nbKey return the key of a token's or a user's revocation and its shard. The keys
// of recently seen ids are remembered, so the request path builds no string.
func (st *RevocationStore) jtiKey(jti string) (string, int) {
	h := revHash(jti)
	n := int(h % revShards)
	return st.jtiKeys.key(h/revShards, jti, st.shards[n], "jti:"), n
}

func (st *RevocationStore) nbKey(userID string) (string, int) {
	h := revHash(userID)
	n := int(h % revShards)
	return st.nbKeys.key(h/revShards, userID, st.shards[n], "nb:"), n
}

// fillKey returns the key that records a fill of shard n in progress; it shares the shard's
// hash tag with the marker, so that the scripts that use both run on Redis Cluster.
func (st *RevocationStore) fillKey(n int) string { return st.shards[n] + "fill" }

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
	if err := st.setToken(ctx, jti, ttl); err != nil {
		return err
	}
	st.settle(ctx)
	return nil
}

func (st *RevocationStore) setToken(ctx context.Context, jti string, ttl int64) error {
	k, _ := st.jtiKey(jti)
	b := st.c.B()
	return storeErr("revoke token", firstErr(st.fenced(ctx, rueidis.Commands{
		b.Set().Key(k).Value("1").Nx().PxMilliseconds(ttl).Build(),
		b.Pexpire().Key(k).Milliseconds(ttl).Gt().Build(),
	}, k)))
}

// TokenRevoked reports whether jti is denied.
func (st *RevocationStore) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	key, shard := st.jtiKey(jti)
	_, found, trusted, err := st.read(ctx, key, shard)
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
	k, _ := st.nbKey(userID)
	if err := firstErr(st.fenced(ctx, rueidis.Commands{st.eval(maxScript, []string{k}, formatNanos(t))}, k)); err != nil {
		return storeErr("set not before", err)
	}
	st.settle(ctx)
	return nil
}

// NotBefore returns the user's not-before time, or the zero time.
func (st *RevocationStore) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	key, shard := st.nbKey(userID)
	v, found, trusted, err := st.read(ctx, key, shard)
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

// read returns the value of key, of shard, through the client-side cache while the instance
// holds its lease (else from Redis), and whether Redis can be trusted for it (always, without
// a durable store). The key and the shard's marker are
// in one hash slot, so both are read on one connection.
func (st *RevocationStore) read(ctx context.Context, key string, shard int) (v string, found, trusted bool, err error) {
	ctx, cancel := st.bound(ctx)
	defer cancel()
	b := st.c.B()
	cached := st.trusted()
	if st.durable == nil {
		if cached {
			v, err = st.c.DoCache(ctx, b.Get().Key(key).Cache(), st.opts.CacheTTL).ToString()
		} else {
			v, err = st.c.Do(ctx, b.Get().Key(key).Build()).ToString()
		}
		if rueidis.IsRedisNil(err) {
			return "", false, true, nil
		}
		return v, err == nil, true, err
	}
	if !cached {
		return st.verify(ctx, shard, key) // one round trip for the key and the marker check
	}
	m, k := st.readPair(ctx, st.markers[shard], key)
	marker, err := m.ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return "", false, false, err
	}
	v, err = k.ToString()
	if err != nil && !rueidis.IsRedisNil(err) {
		return "", false, false, err
	}
	found = err == nil
	if st.markerHeld(ctx, shard, m, marker, k.IsCacheHit()) {
		return v, found, true, nil
	}
	return st.verify(ctx, shard, key)
}

// markerHeld reports whether the marker of shard read along with a key (m, with value marker)
// shows that Redis still holds every revocation of the shard, without a round trip. It must be a cached copy of
// the verified marker. If the key itself came from the server, its value may postdate a flush
// whose invalidation had not been processed when the marker was read from the cache; Redis
// sends that invalidation on this connection before the key's value, so looking the marker up
// in the cache again settles it.
func (st *RevocationStore) markerHeld(ctx context.Context, shard int, m rueidis.RedisResult, marker string, keyHit bool) bool {
	verified := *st.verified[shard].Load()
	if !m.IsCacheHit() || marker == "" || marker != verified {
		return false
	}
	if keyHit {
		return true
	}
	again := st.c.DoCache(ctx, st.c.B().Get().Key(st.markers[shard]).Cache(), st.opts.CacheTTL)
	v, err := again.ToString()
	return err == nil && again.IsCacheHit() && v == verified
}
