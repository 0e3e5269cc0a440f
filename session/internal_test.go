package session

import (
	"runtime"
	"strconv"
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

// TestCacheByteBudget: with MaxBytes, a shard holds entries up to its share of the budget,
// whatever their number, evicting to make room, and its count of bytes follows every insert,
// eviction, touch and removal back to zero.
func TestCacheByteBudget(t *testing.T) {
	now := gatehouse.Now()
	newSession := func(ua string) *gatehouse.Session {
		return &gatehouse.Session{Handle: gatehouse.NewID(now), User: gatehouse.Principal{UserID: gatehouse.NewID(now),
			Username: "alice", Role: gatehouse.RoleUser, Groups: []string{"dev"}}, UserAgent: ua, ExpiresAt: now.Add(time.Hour)}
	}
	small := EntryBytes(newSession("curl"))
	c := Cached(nil, CacheOptions{MaxBytes: cacheShards * 4 * small, Now: func() time.Time { return now }})
	for i := range 10 { // all in shard 0
		c.insert(gatehouse.Hash{0, byte(i)}, newSession("curl"), 0)
	}
	if n := len(c.m.At(0).M); n != 4 {
		t.Fatalf("shard holds %d entries of %d B with a share of %d B, want 4", n, small, c.bytesPer)
	}
	c.insert(gatehouse.Hash{0, 99}, newSession(strings.Repeat("x", 200)), 0) // costs two small ones or more
	if n, b := len(c.m.At(0).M), c.shards[0].bytes; n > 3 || b > c.bytesPer {
		t.Fatalf("after a large entry: %d entries, %d B of %d", n, b, c.bytesPer)
	}
	var sum int64
	for _, s := range c.m.At(0).M {
		sum += EntryBytes(s)
	}
	if sum != c.shards[0].bytes {
		t.Fatalf("shard counts %d B, its entries hold %d B", c.shards[0].bytes, sum)
	}
	if c.shards[0].evictions.Load() == 0 {
		t.Fatal("no evictions counted")
	}
	for h := range c.m.At(0).M {
		c.remove(h)
	}
	c.removeWhere(func(*gatehouse.Session) bool { return true })
	if b := c.shards[0].bytes; b != 0 || len(c.m.At(0).M) != 0 {
		t.Fatalf("empty shard counts %d B", b)
	}
}

// TestEntryBytesBoundsTheHeap: EntryBytes of sessions as a store returns them (strings of their
// own) is at least the heap that they and the cache's entries take, and not more than half as
// much again.
func TestEntryBytesBoundsTheHeap(t *testing.T) {
	const n = 20_000
	now := gatehouse.Now()
	c := Cached(nil, CacheOptions{Size: 2 * n, Now: func() time.Time { return now }})
	before := liveHeap()
	var estimate int64
	for i := range n {
		id := strconv.Itoa(i)
		h := gatehouse.HashSecret(gatehouse.NewSecret())
		s := &gatehouse.Session{Hash: h, Handle: gatehouse.SessionHandle(h),
			User: gatehouse.Principal{UserID: gatehouse.NewID(now), Username: "user" + id, Name: "User " + id,
				Email: "user" + id + "@example.com", Role: gatehouse.Role(strings.Clone("user")), Groups: []string{"ops" + id, "staff" + id}},
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour), IP: "203.0.113." + id, UserAgent: "curl/8.5.0 " + id}
		estimate += EntryBytes(s)
		c.insert(h, s, 0)
	}
	heap := liveHeap() - before
	runtime.KeepAlive(c)
	t.Logf("EntryBytes %d B per session, heap %d B", estimate/n, heap/n)
	if estimate < heap || estimate > heap*3/2 {
		t.Fatalf("EntryBytes adds up to %d B per session, the heap took %d B", estimate/n, heap/n)
	}
}

func liveHeap() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc)
}
