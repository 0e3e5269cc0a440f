package shardmap_test

import (
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse/internal/shardmap"
)

func TestNewRoundsUpToPowerOfTwo(t *testing.T) {
	for n, want := range map[int]int{-1: 1, 0: 1, 1: 1, 2: 2, 3: 4, 32: 32, 33: 64} {
		if got := shardmap.New[string, int](n, shardmap.String()).Shards(); got != want {
			t.Errorf("New(%d) has %d shards, want %d", n, got, want)
		}
	}
}

func TestGetLenAndShards(t *testing.T) {
	m := shardmap.New[string, int](8, shardmap.String())
	for i := range 1000 {
		k := strconv.Itoa(i)
		sh := m.Of(k)
		if m.At(m.Index(k)) != sh {
			t.Fatalf("At(Index(%q)) is not Of(%q)", k, k)
		}
		sh.Lock()
		sh.M[k] = i
		sh.Unlock()
	}
	if m.Len() != 1000 {
		t.Fatalf("Len = %d, want 1000", m.Len())
	}
	used := 0
	for i := range m.Shards() {
		if len(m.At(i).M) > 0 {
			used++
		}
	}
	if used != 8 {
		t.Errorf("%d of 8 shards hold keys: the hash does not spread", used)
	}
	if v, ok := m.Get("500"); !ok || v != 500 {
		t.Fatalf("Get(500) = %d, %v", v, ok)
	}
	if _, ok := m.Get("nope"); ok {
		t.Fatal("Get of an absent key found it")
	}
}

// TestConcurrent writes and reads from many goroutines (for -race).
func TestConcurrent(t *testing.T) {
	m := shardmap.New[string, int](4, shardmap.String())
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := strconv.Itoa(g*1000 + i)
				sh := m.Of(k)
				sh.Lock()
				sh.M[k] = i
				sh.Unlock()
				m.Get(strconv.Itoa(i))
			}
		})
	}
	wg.Wait()
	if m.Len() != 4000 {
		t.Fatalf("Len = %d, want 4000", m.Len())
	}
}

// BenchmarkGet measures parallel hits, with every map behind one lock and split in 32 shards:
// what sharding buys the request-path caches (the verified-token cache, the session cache, the
// revocation mirror), whose hits all take a read lock.
func BenchmarkGet(b *testing.B) {
	keys := make([]string, 1024)
	for _, n := range []int{1, 32} {
		m := shardmap.New[string, int](n, shardmap.String())
		for i := range keys {
			keys[i] = "key-" + strconv.Itoa(i)
			m.Of(keys[i]).M[keys[i]] = i
		}
		b.Run("shards-"+strconv.Itoa(n), func(b *testing.B) {
			var next atomic.Uint64
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(509)
				for pb.Next() {
					i++
					m.Get(keys[i%uint64(len(keys))])
				}
			})
		})
	}
}
