package token

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

func TestCacheHitIsShared(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, nil)
	tok, _ := mustIssue(t, s, clock)
	a, err := s.Verify(tok)
	if err != nil {
		t.Fatal(err)
	}
	b, err := s.Verify(tok)
	if err != nil || a != b {
		t.Fatalf("second Verify = %p, %v; want the cached %p", b, err, a)
	}
	if s.cache.len() != 1 {
		t.Fatalf("cache has %d entries", s.cache.len())
	}
	// Failures are never cached.
	_, _ = s.Verify(tok + "x")
	if s.cache.len() != 1 {
		t.Fatalf("cache has %d entries after a failure", s.cache.len())
	}
}

func TestCacheHitDoesNotAllocate(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, nil)
	tok, _ := mustIssue(t, s, clock)
	if _, err := s.Verify(tok); err != nil {
		t.Fatal(err)
	}
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Verify(tok) }); n != 0 {
		t.Fatalf("cached Verify allocates %v times", n)
	}
	clock.Advance(time.Hour) // the expired answer comes from a prebuilt error
	if n := testing.AllocsPerRun(100, func() { _, _ = s.Verify(tok) }); n != 0 {
		t.Fatalf("cached expired Verify allocates %v times", n)
	}
}

func TestCacheBounded(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, func(c *Config) { c.CacheSize = 32 })
	var toks []string
	for range 200 {
		tok, _ := mustIssue(t, s, clock)
		toks = append(toks, tok)
		if _, err := s.Verify(tok); err != nil {
			t.Fatal(err)
		}
		if n := s.cache.len(); n > 32 {
			t.Fatalf("cache holds %d entries, limit 32", n)
		}
	}
	for _, tok := range toks { // evicted or not, every token still verifies
		if _, err := s.Verify(tok); err != nil {
			t.Fatal(err)
		}
	}
}

func TestCacheEviction(t *testing.T) {
	now := testkit.Start()
	entry := func(until time.Time) cacheEntry {
		return cacheEntry{tok: &gatehouse.Token{}, from: now.Add(-time.Hour), until: until}
	}
	t.Run("expired first", func(t *testing.T) {
		c := newVerifiedCache(16)
		if c.shards.Shards() != 1 || c.perShard != 16 {
			t.Fatalf("shards %d × %d", c.shards.Shards(), c.perShard)
		}
		c.put("live", entry(now.Add(time.Hour)), now)
		for i := range 15 {
			c.put("dead"+strconv.Itoa(i), entry(now.Add(-time.Second)), now)
		}
		c.put("new", entry(now.Add(time.Hour)), now)
		if _, ok := c.get("live"); !ok {
			t.Fatal("a live entry was evicted while expired ones remained")
		}
		if _, ok := c.get("new"); !ok || c.len() > 16 {
			t.Fatalf("len %d", c.len())
		}
	})
	t.Run("soonest expiry", func(t *testing.T) {
		c := newVerifiedCache(16)
		for i := range 16 {
			c.put(strconv.Itoa(i), entry(now.Add(time.Duration(i+1)*time.Minute)), now)
		}
		c.put("new", entry(now.Add(time.Hour)), now)
		if c.len() != 16 {
			t.Fatalf("len %d, want 16", c.len())
		}
		// A sample of 8 out of 16 never picks the entry that expires last.
		if _, ok := c.get("15"); !ok {
			t.Fatal("the longest-lived entry was evicted")
		}
	})
	t.Run("shards", func(t *testing.T) {
		c := newVerifiedCache(DefaultCacheSize)
		if c.shards.Shards() != maxCacheShards || c.perShard*c.shards.Shards() > DefaultCacheSize {
			t.Fatalf("shards %d × %d", c.shards.Shards(), c.perShard)
		}
		if c := newVerifiedCache(1); c.shards.Shards() != 1 || c.perShard != 1 {
			t.Fatalf("size 1: shards %d × %d", c.shards.Shards(), c.perShard)
		}
	})
}

// TestConcurrentVerify runs cached and uncached verification from many goroutines (for -race).
func TestConcurrentVerify(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, func(c *Config) { c.CacheSize = 64 })
	var toks []string
	for range 100 {
		tok, _ := mustIssue(t, s, clock)
		toks = append(toks, tok)
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 300 {
				if _, err := s.Verify(toks[(i*7+g)%len(toks)]); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Add(1)
	go func() { // a reload racing with the readers
		defer wg.Done()
		for range 20 {
			if _, err := ks.Reload(); err != nil {
				t.Error(err)
			}
		}
	}()
	wg.Wait()
}
