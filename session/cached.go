package session

import (
	"context"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/shardmap"
)

var (
	_ gatehouse.SessionStore = (*CachedStore)(nil)
	_ gatehouse.Expirer      = (*CachedStore)(nil)
)

// cacheShards is the number of independently locked parts of the cache. A session's shard is
// picked by the first byte of its hash, which is uniformly distributed.
const cacheShards = 64

// evictSample is how many entries a full shard looks at to find an expired one to evict.
const evictSample = 8

// CacheOptions configures a CachedStore. Zero fields take the defaults.
type CacheOptions struct {
	// Size bounds the number of cached sessions, rounded down to a multiple of 64 and at least
	// 64. Default DefaultCacheSize. It is ignored when MaxBytes is set.
	Size int
	// MaxBytes, when positive, bounds the cache by the heap its entries hold (as EntryBytes
	// estimates it, about 500 B a session) instead of by their number: a budget of 512 MiB holds
	// about a million sessions. Each of the 64 shards gets a 64th of it.
	MaxBytes int64
	// Now is the clock that decides whether a session is past its absolute expiry. Default
	// time.Now.
	Now func() time.Time
	// IdleTimeout, when positive, makes DeleteExpired also drop from the cache the sessions
	// unused for that long (the Manager passes its own: they are dead to it).
	IdleTimeout time.Duration
	// TouchDelay, when positive, takes the writing of last-seen times off the request path:
	// TouchSession of a cached session updates the cache at once and leaves the store's copy to
	// a background writer, which writes what has gathered every TouchDelay, a thousand to a
	// transaction when the store is a gatehouse.SessionBatchToucher. Readers see the new time
	// at once: the cache holds it, and a session read from the store while its time is pending
	// gets the pending one. Flush, Close and DeleteExpired write what is pending first. A crash
	// loses at most TouchDelay of them: those sessions' idle timeouts then count from their
	// previous write, at most the touch interval plus TouchDelay earlier. Zero writes on the
	// request path, as a store without the cache does.
	TouchDelay time.Duration
	// MaxPendingTouches bounds the last-seen times waiting to be written; beyond it a touch
	// writes at once, on the request path. Default DefaultMaxPendingTouches.
	MaxPendingTouches int
	// OnTouchWriteError, if set, is told of each background write of last-seen times that
	// failed (they stay pending and are tried again; Stats counts the failures).
	OnTouchWriteError func(error)
}

// CachedStore is a gatehouse.SessionStore that keeps an exact, bounded, in-process cache of the
// sessions of another store, for a process that is the only writer of that store (such as
// SQLite): a hit costs no query and no allocation (BenchmarkAuthenticate in session/, load
// average 14 to 19: sqlite-cache 0.81 µs and 0 B, sqlite without it 65.9 µs and 2.1 KiB).
//
// FindSession gives each caller its own copy, as the gatehouse.SessionStore contract says;
// FindSharedSession, which the Manager uses, hands out the cached session itself, which no one
// may write.
//
// Exactness rests on two rules. Every write goes through the CachedStore, which removes the
// session from the cache after deleting it from the store, which bumps its shard's generation.
// Whoever read a session from the store caches it only if the shard's generation is still the
// one it saw before the read: a delete that raced with the read has bumped it, so a stale
// session is never cached.
//
// Entries are immutable: a touch replaces the pointer. When a shard is full, an insert evicts
// an expired entry among a few it looks at, or else one of them at random (Go randomises map
// iteration).
type CachedStore struct {
	store    gatehouse.SessionStore
	now      func() time.Time
	idle     time.Duration
	m        *shardmap.Map[gatehouse.Hash, *gatehouse.Session]
	perShard int          // entries per shard, when bytesPer is 0
	bytesPer int64        // estimated bytes per shard, when positive
	touches  *writeBehind // nil without CacheOptions.TouchDelay
	shards   [cacheShards]shardState
}

// shardState is what the cache keeps per shard beside the map: the generation, guarded by the
// shard's lock, and the counters for Stats.
type shardState struct {
	gen                     uint64 // bumped by every removal
	bytes                   int64  // EntryBytes of the entries, guarded by the shard's lock
	hits, misses, evictions atomic.Uint64
	_                       [32]byte // keeps neighbouring shards' counters off one cache line
}

// Cached returns store behind an exact in-process cache (see CachedStore).
func Cached(store gatehouse.SessionStore, opts CacheOptions) *CachedStore {
	size := opts.Size
	if size <= 0 {
		size = DefaultCacheSize
	}
	c := &CachedStore{store: store, now: opts.Now, idle: opts.IdleTimeout, perShard: max(1, size/cacheShards),
		m: shardmap.New[gatehouse.Hash, *gatehouse.Session](cacheShards, func(h gatehouse.Hash) uint64 { return uint64(h[0]) })}
	if opts.MaxBytes > 0 {
		c.bytesPer = max(1, opts.MaxBytes/cacheShards)
	}
	if opts.TouchDelay > 0 {
		c.touches = newWriteBehind(store, opts.TouchDelay, opts.MaxPendingTouches, opts.OnTouchWriteError)
	}
	if c.now == nil {
		c.now = time.Now
	}
	return c
}

// Stats returns the cache's statistics.
func (c *CachedStore) Stats() Stats {
	var st Stats
	st.CachedSessions = c.m.Len()
	for i := range c.shards {
		sh := &c.shards[i]
		st.CacheHits += sh.hits.Load()
		st.CacheMisses += sh.misses.Load()
		st.CacheEvictions += sh.evictions.Load()
	}
	if c.touches != nil {
		st.PendingTouches = c.touches.len()
		st.TouchWriteFailures = c.touches.failures.Load()
	}
	return st
}

// Flush writes the last-seen times that are waiting (CacheOptions.TouchDelay) to the store.
func (c *CachedStore) Flush(ctx context.Context) error {
	if c.touches == nil {
		return nil
	}
	return c.touches.flush(ctx)
}

// Close stops the background writer of last-seen times and writes what is waiting. The store
// itself stays open; TouchSession writes on the request path from then on.
func (c *CachedStore) Close(ctx context.Context) error {
	if c.touches == nil {
		return nil
	}
	return c.touches.close(ctx)
}

// CreateSession stores s and caches a copy of it.
func (c *CachedStore) CreateSession(ctx context.Context, s *gatehouse.Session) error {
	// A DeleteUserSessions racing with this call may delete s before it is cached.
	gen := c.generation(s.Hash)
	if err := c.store.CreateSession(ctx, s); err != nil {
		return err
	}
	c.insert(s.Hash, s.Clone(), gen)
	return nil
}

// FindSession returns a copy of the cached session h, or reads it from the store and caches it.
func (c *CachedStore) FindSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	s, found, err := c.FindSharedSession(ctx, h)
	if s != nil {
		s = s.Clone()
	}
	return s, found, err
}

// FindSharedSession is FindSession without the copy: the session it returns is shared with the
// cache and with other callers, and must not be modified. A hit allocates nothing.
func (c *CachedStore) FindSharedSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	i := c.m.Index(h)
	sh := c.m.At(i)
	sh.RLock()
	s, gen := sh.M[h], c.shards[i].gen
	sh.RUnlock()
	if s != nil {
		c.shards[i].hits.Add(1)
		return s, true, nil
	}
	c.shards[i].misses.Add(1)
	s, found, err := c.store.FindSession(ctx, h)
	if err != nil || !found {
		return nil, found, err
	}
	if c.touches != nil {
		// Evicted while its last-seen time waits to be written: the store's copy is older.
		if t, ok := c.touches.latest(h); ok && t.After(s.LastSeenAt) {
			s.LastSeenAt = t
		}
	}
	c.insert(h, s, gen)
	return s, true, nil
}

// TouchSession writes the last-seen time to the store, then to the cached copy. If the store
// fails or no longer has the session, the session leaves the cache. With
// CacheOptions.TouchDelay, a cached session's time goes to the cache at once and to the store
// later (see there).
func (c *CachedStore) TouchSession(ctx context.Context, h gatehouse.Hash, lastSeen time.Time) (bool, error) {
	if c.touches != nil && c.touchLater(h, lastSeen) {
		return true, nil
	}
	found, err := c.store.TouchSession(ctx, h, lastSeen)
	if err != nil || !found {
		// The store is the authority: a session it may or may not have touched, or that it lost,
		// is read from it next time.
		c.remove(h)
		return found, err
	}
	sh := c.m.Of(h)
	sh.Lock()
	if s := sh.M[h]; s != nil {
		next := *s
		next.LastSeenAt = lastSeen
		sh.M[h] = &next
	}
	sh.Unlock()
	return true, nil
}

// touchLater gives the cached copy of h the time lastSeen and leaves the store's to the
// background writer. It returns false, changing nothing, when h is not cached (the cache
// cannot vouch that the store has it) or too many times are waiting.
func (c *CachedStore) touchLater(h gatehouse.Hash, lastSeen time.Time) bool {
	sh := c.m.Of(h)
	sh.Lock()
	defer sh.Unlock()
	s := sh.M[h]
	// Pending before cached: a reader that misses after an eviction finds the time pending.
	if s == nil || !c.touches.add(h, lastSeen) {
		return false
	}
	if lastSeen.After(s.LastSeenAt) {
		next := *s
		next.LastSeenAt = lastSeen
		sh.M[h] = &next
	}
	return true
}

// DeleteSession deletes h from the store, then from the cache (even if the store failed: it
// may have deleted it, and a miss is harmless).
func (c *CachedStore) DeleteSession(ctx context.Context, h gatehouse.Hash) (bool, error) {
	found, err := c.store.DeleteSession(ctx, h)
	if c.touches != nil {
		c.touches.forget(h)
	}
	c.remove(h)
	return found, err
}

// DeleteSessionByHandle deletes the session from the store, then from the cache. If the store
// fails, every cached session with that handle leaves the cache.
func (c *CachedStore) DeleteSessionByHandle(ctx context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	h, found, err := c.store.DeleteSessionByHandle(ctx, userID, handle)
	if err != nil {
		// The hash is unknown but the store may have deleted the session.
		c.removeWhere(func(s *gatehouse.Session) bool { return s.Handle == handle })
		return h, found, err
	}
	if found {
		c.remove(h)
	}
	return h, found, nil
}

// SessionByHandle reads the store.
func (c *CachedStore) SessionByHandle(ctx context.Context, handle string) (*gatehouse.Session, bool, error) {
	return c.store.SessionByHandle(ctx, handle)
}

// ListSessions reads the store.
func (c *CachedStore) ListSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	return c.store.ListSessions(ctx, userID)
}

// DeleteUserSessions deletes the user's sessions from the store, then from the cache. If the
// store fails, every cached session of the user leaves the cache.
func (c *CachedStore) DeleteUserSessions(ctx context.Context, userID string) ([]gatehouse.Hash, error) {
	hashes, err := c.store.DeleteUserSessions(ctx, userID)
	if err != nil {
		c.removeWhere(func(s *gatehouse.Session) bool { return s.User.UserID == userID })
		return hashes, err
	}
	for _, h := range hashes {
		c.remove(h)
	}
	return hashes, nil
}

// DeleteExpired drops the sessions past their absolute expiry at now (or idle for
// CacheOptions.IdleTimeout) from the cache, and those past their absolute expiry from the store
// when it is a gatehouse.Expirer (else it returns 0).
func (c *CachedStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	if err := c.Flush(ctx); err != nil {
		// The store would judge idleness by older times than this process answered with.
		return 0, err
	}
	c.removeWhere(func(s *gatehouse.Session) bool {
		return !now.Before(s.ExpiresAt) || c.idle > 0 && !now.Before(s.LastSeenAt.Add(c.idle))
	})
	ex, ok := c.store.(gatehouse.Expirer)
	if !ok {
		return 0, nil
	}
	return ex.DeleteExpired(ctx, now)
}

// generation returns the generation of h's shard, to pass to insert.
func (c *CachedStore) generation(h gatehouse.Hash) uint64 {
	i := c.m.Index(h)
	sh := c.m.At(i)
	sh.RLock()
	defer sh.RUnlock()
	return c.shards[i].gen
}

// insert caches s unless a removal happened in its shard since gen was read, an entry for h
// exists already (it is at least as fresh), or s is past its absolute expiry.
func (c *CachedStore) insert(h gatehouse.Hash, s *gatehouse.Session, gen uint64) {
	now := c.now()
	if !now.Before(s.ExpiresAt) {
		return
	}
	i := c.m.Index(h)
	sh := c.m.At(i)
	sh.Lock()
	defer sh.Unlock()
	if c.shards[i].gen != gen {
		return
	}
	if _, ok := sh.M[h]; ok {
		return
	}
	st := &c.shards[i]
	cost := EntryBytes(s)
	for len(sh.M) > 0 && (c.bytesPer > 0 && st.bytes+cost > c.bytesPer || c.bytesPer == 0 && len(sh.M) >= c.perShard) {
		st.bytes -= EntryBytes(evictOne(sh.M, now))
		st.evictions.Add(1)
	}
	sh.M[h] = s
	st.bytes += cost
}

// evictOne removes from a full shard's map an expired entry among the first few of a random
// walk, or else the first one, and returns it. It does not bump the generation: the entry was
// not deleted from the store.
func evictOne(m map[gatehouse.Hash]*gatehouse.Session, now time.Time) *gatehouse.Session {
	var victim gatehouse.Hash
	seen := 0
	for h, s := range m {
		if seen == 0 {
			victim = h
		}
		if !now.Before(s.ExpiresAt) {
			victim = h
			break
		}
		if seen++; seen == evictSample {
			break
		}
	}
	s := m[victim]
	delete(m, victim)
	return s
}

// Sizes that EntryBytes adds up: the Session struct (the size class it is allocated in), and
// an entry of the shard's map (key, pointer and control byte at the lowest load of a map, 7/16
// right after it grew).
var (
	sessionBytes  = int64(roundSize(int(unsafe.Sizeof(gatehouse.Session{}))))
	mapEntryBytes = int64((len(gatehouse.Hash{}) + 8 + 1) * 16 / 7)
)

// EntryBytes estimates the heap that caching s holds: the Session, its strings (each in the
// size class of its length) and groups, and the map entry. It may count a string that s shares
// with another session twice, so it errs high.
func EntryBytes(s *gatehouse.Session) int64 {
	n := sessionBytes + mapEntryBytes
	for _, v := range [...]string{s.Handle, s.User.UserID, s.User.Username, s.User.Name, s.User.Email,
		string(s.User.Role), s.IP, s.UserAgent} {
		n += int64(roundSize(len(v)))
	}
	if len(s.User.Groups) > 0 {
		n += int64(roundSize(cap(s.User.Groups) * int(unsafe.Sizeof(""))))
		for _, g := range s.User.Groups {
			n += int64(roundSize(len(g)))
		}
	}
	return n
}

// roundSize is the size class of a small allocation of n bytes (Go's classes: multiples of 8 up
// to 32 bytes, of 16 up to 128, then coarser; a quarter more is a safe bound above that).
func roundSize(n int) int {
	switch {
	case n == 0:
		return 0
	case n <= 32:
		return (n + 7) &^ 7
	case n <= 128:
		return (n + 15) &^ 15
	default:
		return n + n/4
	}
}

// remove drops h and bumps the shard's generation, so that no reader that looked the store up
// before the removal caches h afterwards. Call it after deleting h from the store.
func (c *CachedStore) remove(h gatehouse.Hash) {
	i := c.m.Index(h)
	sh := c.m.At(i)
	sh.Lock()
	if s := sh.M[h]; s != nil {
		delete(sh.M, h)
		c.shards[i].bytes -= EntryBytes(s)
	}
	c.shards[i].gen++
	sh.Unlock()
}

// removeWhere drops every entry for which drop is true, bumping the generation of every shard.
// It scans the whole cache: it is for sweeps and error paths, not the request path.
func (c *CachedStore) removeWhere(drop func(*gatehouse.Session) bool) {
	for i := range c.m.Shards() {
		sh := c.m.At(i)
		sh.Lock()
		for h, s := range sh.M {
			if drop(s) {
				delete(sh.M, h)
				c.shards[i].bytes -= EntryBytes(s)
			}
		}
		c.shards[i].gen++
		sh.Unlock()
	}
}
