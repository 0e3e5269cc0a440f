package session

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// cacheShards is the number of independently locked parts of the cache. A session's shard is
// picked by the first byte of its hash, which is uniformly distributed.
const cacheShards = 64

// evictSample is how many entries a full shard looks at to find an expired one to evict.
const evictSample = 8

// cache is an exact, bounded, in-process map from hash to session for a manager whose process
// is the only writer of its store.
//
// Exactness rests on two rules. Whoever deletes a session from the store removes it from the
// cache afterwards, which bumps its shard's generation. Whoever read a session from the store
// inserts it only if the shard's generation is still the one it saw before the read: a delete
// that raced with the read has bumped it, so a stale session is never inserted.
//
// Entries are immutable: a touch replaces the pointer, so sessions handed out are never written.
// When a shard is full, an insert evicts an expired entry among a few it looks at, or else one
// of them at random (Go randomises map iteration).
type cache struct {
	shards   [cacheShards]cacheShard
	perShard int
}

type cacheShard struct {
	mu  sync.RWMutex
	m   map[gatehouse.Hash]*gatehouse.Session
	gen uint64 // bumped by every removal; guarded by mu

	hits, misses, evictions atomic.Uint64
	_                       [64]byte // keeps neighbouring shards off one cache line
}

func newCache(size int) *cache {
	c := &cache{perShard: max(1, size/cacheShards)}
	for i := range c.shards {
		c.shards[i].m = make(map[gatehouse.Hash]*gatehouse.Session)
	}
	return c
}

func (c *cache) shard(h gatehouse.Hash) *cacheShard { return &c.shards[h[0]%cacheShards] }

// get returns the cached session h, or nil and the generation to pass to insert after reading
// the store.
func (c *cache) get(h gatehouse.Hash) (*gatehouse.Session, uint64) {
	sh := c.shard(h)
	sh.mu.RLock()
	s, gen := sh.m[h], sh.gen
	sh.mu.RUnlock()
	if s == nil {
		sh.misses.Add(1)
	} else {
		sh.hits.Add(1)
	}
	return s, gen
}

// generation returns the generation of h's shard, to pass to insert.
func (c *cache) generation(h gatehouse.Hash) uint64 {
	sh := c.shard(h)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	return sh.gen
}

// insert caches s unless a removal happened in its shard since gen was read, an entry for h
// exists already (it is at least as fresh), or s has expired at now.
func (c *cache) insert(h gatehouse.Hash, s *gatehouse.Session, gen uint64, now time.Time) {
	if !now.Before(s.ExpiresAt) {
		return
	}
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.gen != gen {
		return
	}
	if _, ok := sh.m[h]; ok {
		return
	}
	if len(sh.m) >= c.perShard {
		sh.evictOneLocked(now)
	}
	sh.m[h] = s
}

// evictOneLocked removes an expired entry among the first few of a random walk, or else the
// first one. It does not bump the generation: the entry was not deleted from the store.
func (sh *cacheShard) evictOneLocked(now time.Time) {
	var victim gatehouse.Hash
	seen := 0
	for h, s := range sh.m {
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
	delete(sh.m, victim)
	sh.evictions.Add(1)
}

// replace swaps old for next if h still maps to old, and reports whether it did.
func (c *cache) replace(h gatehouse.Hash, old, next *gatehouse.Session) bool {
	sh := c.shard(h)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if sh.m[h] != old {
		return false
	}
	sh.m[h] = next
	return true
}

// remove drops h and bumps the shard's generation, so that no reader that looked the store up
// before the removal inserts h afterwards. Call it after deleting h from the store.
func (c *cache) remove(h gatehouse.Hash) {
	sh := c.shard(h)
	sh.mu.Lock()
	delete(sh.m, h)
	sh.gen++
	sh.mu.Unlock()
}

// removeWhere drops every entry for which drop is true, bumping the generation of every shard.
// It scans the whole cache: it is for sweeps and error paths, not the request path.
func (c *cache) removeWhere(drop func(*gatehouse.Session) bool) int {
	n := 0
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.Lock()
		for h, s := range sh.m {
			if drop(s) {
				delete(sh.m, h)
				n++
			}
		}
		sh.gen++
		sh.mu.Unlock()
	}
	return n
}

// stats adds up the shards' counters.
func (c *cache) stats() Stats {
	var st Stats
	for i := range c.shards {
		sh := &c.shards[i]
		sh.mu.RLock()
		st.CachedSessions += len(sh.m)
		sh.mu.RUnlock()
		st.CacheHits += sh.hits.Load()
		st.CacheMisses += sh.misses.Load()
		st.CacheEvictions += sh.evictions.Load()
	}
	return st
}
