package session

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
)

func TestCleanUserAgent(t *testing.T) {
	cases := map[string]string{
		"":                             "",
		"curl/8.0":                     "curl/8.0",
		"a\xffb":                       "a\uFFFDb",
		strings.Repeat("a", 300):       strings.Repeat("a", MaxUserAgent),
		strings.Repeat("a", 255) + "é": strings.Repeat("a", 255),
	}
	for in, want := range cases {
		got := cleanUserAgent(in)
		if got != want || !utf8.ValidString(got) {
			t.Errorf("cleanUserAgent(%.20q...) = %.20q... (%d bytes), want %d bytes", in, got, len(got), len(want))
		}
	}
}

func TestCacheEvictsExpiredFirst(t *testing.T) {
	now := gatehouse.Now()
	clock := now
	c := Cached(nil, CacheOptions{Size: cacheShards, Now: func() time.Time { return clock }}) // one entry per shard
	get := func(h gatehouse.Hash) *gatehouse.Session { s, _ := c.m.Get(h); return s }
	h1, h2 := gatehouse.Hash{0, 1}, gatehouse.Hash{0, 2} // same shard
	c.insert(h1, &gatehouse.Session{ExpiresAt: now.Add(1)}, 0)
	later := now.Add(2)
	clock = later
	c.insert(h2, &gatehouse.Session{ExpiresAt: later.Add(1)}, 0)
	if s := get(h1); s != nil {
		t.Fatal("the expired entry was not the one evicted")
	}
	if s := get(h2); s == nil {
		t.Fatal("new entry not cached")
	}
	// An already expired session is never cached.
	c.remove(h2)
	gen := c.generation(h2)
	c.insert(h2, &gatehouse.Session{ExpiresAt: later}, gen)
	if s := get(h2); s != nil {
		t.Fatal("an expired session was cached")
	}
}
