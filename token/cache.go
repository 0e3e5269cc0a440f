package token

import (
	"hash/maphash"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// DefaultCacheSize is the default number of verified tokens a Service remembers.
const DefaultCacheSize = 100_000

// maxCacheShards is the number of shards of a large cache; small caches get fewer so that every
// shard holds at least minShardEntries.
const (
	maxCacheShards  = 64
	minShardEntries = 16
	// evictionSample is how many entries a full shard looks at to choose a victim.
	evictionSample = 8
)

// verifiedCache maps the exact string of a token that passed Verify to the token it carries.
// It is split into shards, each a map behind an RWMutex, so that hits take only a read lock
// on one shard and allocate nothing.
//
// Eviction: a shard that is full when a new token arrives samples evictionSample of its
// entries (Go's map iteration starts at a random place): it drops every sampled entry that
// is past its expiry, and if none is, the sampled entry that expires first. That keeps the
// cost of an insert constant and favours keeping the tokens that stay valid longest.
type verifiedCache struct {
	hashes   maphash.Seed
	shards   []cacheShard
	mask     uint64
	perShard int
}

type cacheShard struct {
	mu sync.RWMutex
	m  map[string]cacheEntry
	_  [32]byte // pads the shard to 64 bytes so neighbouring locks do not share a cache line
}

// cacheEntry is a verified token and the window in which uncached verification would accept
// it: from (max of nbf and iat, minus the leeway) until (exp plus the leeway).
type cacheEntry struct {
	tok   *gatehouse.Token
	from  time.Time
	until time.Time
}

// newVerifiedCache returns a cache of at most size entries.
func newVerifiedCache(size int) *verifiedCache {
	n := 1
	for n < maxCacheShards && size/(n*2) >= minShardEntries {
		n *= 2
	}
	c := &verifiedCache{hashes: maphash.MakeSeed(), shards: make([]cacheShard, n), mask: uint64(n - 1), perShard: max(size/n, 1)}
	for i := range c.shards {
		c.shards[i].m = make(map[string]cacheEntry)
	}
	return c
}

func (c *verifiedCache) shard(tok string) *cacheShard {
	return &c.shards[maphash.String(c.hashes, tok)&c.mask]
}

// get returns the entry of tok.
func (c *verifiedCache) get(tok string) (cacheEntry, bool) {
	s := c.shard(tok)
	s.mu.RLock()
	e, ok := s.m[tok]
	s.mu.RUnlock()
	return e, ok
}

// put remembers e for tok, evicting an entry first when the shard is full.
func (c *verifiedCache) put(tok string, e cacheEntry, now time.Time) {
	s := c.shard(tok)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[tok]; ok {
		return
	}
	if len(s.m) >= c.perShard {
		s.evict(now)
	}
	// Clone so that the cache does not pin a larger buffer the token was sliced from.
	s.m[strings.Clone(tok)] = e
}

// evict drops the expired entries among a sample, or the sampled entry that expires first.
func (s *cacheShard) evict(now time.Time) {
	var victim string
	var victimUntil time.Time
	dropped, seen := 0, 0
	for k, e := range s.m {
		if !now.Before(e.until) {
			delete(s.m, k)
			dropped++
		} else if victim == "" || e.until.Before(victimUntil) {
			victim, victimUntil = k, e.until
		}
		if seen++; seen >= evictionSample {
			break
		}
	}
	if dropped == 0 && victim != "" {
		delete(s.m, victim)
	}
}

// len returns the number of entries (for tests).
func (c *verifiedCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.m)
		s.mu.RUnlock()
	}
	return n
}
