package memory_test

import (
	"context"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/memory"
)

// BenchmarkSessionHeap measures the live heap the memory store uses per session: the heap after
// a collection, before and after storing 100,000 sessions (the operation count is ignored),
// divided by their number, strings included (each session's are its own, as after a login). The sessions have the shape of redis.BenchmarkSessionMemory's
// "short" case (a 26-character user id, a name, an e-mail address, two groups, a curl user
// agent, a handle derived from the hash, as the session manager makes them), one user each.
func BenchmarkSessionHeap(b *testing.B) {
	const n = 100_000
	ctx := context.Background()
	now := time.Now()
	hashes := make([]gatehouse.Hash, n)
	for i := range hashes {
		hashes[i] = gatehouse.HashSecret(gatehouse.NewSecret())
	}
	for range b.N {
		before := liveHeap()
		st := memory.NewSessionStore()
		for i, h := range hashes {
			// Every string is made here, as a login makes them, so the store's figure holds
			// them as the server's does.
			s := &gatehouse.Session{
				Hash: h, Handle: gatehouse.SessionHandle(h),
				User: gatehouse.Principal{UserID: gatehouse.NewID(now), Username: "user" + strconv.Itoa(i), Name: "User " + strconv.Itoa(i),
					Email: "user" + strconv.Itoa(i) + "@example.com", Role: gatehouse.RoleUser, Groups: []string{"staff", "ops"}},
				CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour),
				IP: strings.Clone("203.0.113.42"), UserAgent: strings.Clone("curl/8.5.0"), AMR: gatehouse.MethodPassword,
			}
			if err := st.CreateSession(ctx, s); err != nil {
				b.Fatal(err)
			}
		}
		after := liveHeap()
		b.ReportMetric(float64(after-before)/n, "B/session")
		runtime.KeepAlive(st)
	}
}

func liveHeap() int64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int64(m.HeapAlloc)
}

// BenchmarkFindSession measures a look-up by hash, the request path of the session manager on
// this store, of a session of the BenchmarkSessionHeap shape among 1,000.
func BenchmarkFindSession(b *testing.B) {
	ctx := context.Background()
	now := time.Now()
	st := memory.NewSessionStore()
	var h gatehouse.Hash
	for i := range 1000 {
		h = gatehouse.HashSecret(gatehouse.NewSecret())
		s := &gatehouse.Session{
			Hash: h, Handle: gatehouse.SessionHandle(h),
			User: gatehouse.Principal{UserID: gatehouse.NewID(now), Username: "user" + strconv.Itoa(i), Name: "User " + strconv.Itoa(i),
				Email: "user" + strconv.Itoa(i) + "@example.com", Role: gatehouse.RoleUser},
			CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour),
			IP: "203.0.113.42", UserAgent: "curl/8.5.0", AMR: gatehouse.MethodPassword,
		}
		if err := st.CreateSession(ctx, s); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, found, _ := st.FindSession(ctx, h); !found {
			b.Fatal("not found")
		}
	}
}
