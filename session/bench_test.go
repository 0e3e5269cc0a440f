package session_test

import (
	"context"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// benchBackends builds the managers that BenchmarkAuthenticate compares. Revocations are read
// from memory in every case (a memory store, or a Mirror in front of SQLite), as in production.
var benchBackends = []struct {
	name  string
	cache bool
	open  func(b *testing.B) (gatehouse.SessionStore, gatehouse.RevocationStore)
}{
	{"memory", false, func(b *testing.B) (gatehouse.SessionStore, gatehouse.RevocationStore) {
		return memory.NewSessionStore(), memory.NewRevocationStore()
	}},
	{"sqlite", false, openSQLite},
	{"sqlite-cache", true, openSQLite},
}

func openSQLite(b *testing.B) (gatehouse.SessionStore, gatehouse.RevocationStore) {
	db, err := sqlite.Open(context.Background(), filepath.Join(b.TempDir(), "bench.db"), 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	revs, err := revocation.NewMirror(context.Background(), sqlite.NewRevocationStore(db), nil)
	if err != nil {
		b.Fatal(err)
	}
	return sqlite.NewSessionStore(db), revs
}

// benchManager returns a manager with n live sessions and their secrets.
func benchManager(b *testing.B, cache bool, open func(*testing.B) (gatehouse.SessionStore, gatehouse.RevocationStore), n int) (*session.Manager, []string) {
	store, revs := open(b)
	m := session.NewManager(store, revs, session.Options{Cache: cache})
	secrets := make([]string, n)
	for i := range secrets {
		secret, _, err := m.Create(context.Background(), alice, gatehouse.MethodPassword, "192.0.2.1", "bench")
		if err != nil {
			b.Fatal(err)
		}
		secrets[i] = secret
	}
	return m, secrets
}

// BenchmarkAuthenticate measures the request hot path: one session authenticated over and over
// (within the touch interval, so no writes), serially and from parallel goroutines over 1,000
// sessions.
func BenchmarkAuthenticate(b *testing.B) {
	ctx := context.Background()
	for _, be := range benchBackends {
		b.Run(be.name, func(b *testing.B) {
			m, secrets := benchManager(b, be.cache, be.open, 1000)
			b.ReportAllocs()
			for b.Loop() {
				if _, err := m.Authenticate(ctx, secrets[0]); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(be.name+"-parallel", func(b *testing.B) {
			m, secrets := benchManager(b, be.cache, be.open, 1000)
			var next atomic.Uint64
			b.ReportAllocs()
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				i := next.Add(7919)
				for pb.Next() {
					i++
					if _, err := m.Authenticate(ctx, secrets[i%uint64(len(secrets))]); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
