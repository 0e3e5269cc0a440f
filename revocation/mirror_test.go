package revocation_test

import (
	"context"
	"errors"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

var errBroken = errors.New("store is broken")

// spyStore wraps a memory store, counts reads and can be told to fail every call.
type spyStore struct {
	*memory.RevocationStore
	reads atomic.Int64
	fail  atomic.Bool
}

func newSpy() *spyStore { return &spyStore{RevocationStore: memory.NewRevocationStore()} }

func (s *spyStore) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	if s.fail.Load() {
		return errBroken
	}
	return s.RevocationStore.RevokeToken(ctx, jti, exp)
}

func (s *spyStore) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	if s.fail.Load() {
		return errBroken
	}
	return s.RevocationStore.SetNotBefore(ctx, userID, t)
}

func (s *spyStore) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	s.reads.Add(1)
	return s.RevocationStore.TokenRevoked(ctx, jti)
}

func (s *spyStore) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	s.reads.Add(1)
	return s.RevocationStore.NotBefore(ctx, userID)
}

func (s *spyStore) ListRevocations(ctx context.Context, now time.Time) (map[string]time.Time, map[string]time.Time, error) {
	if s.fail.Load() {
		return nil, nil, errBroken
	}
	return s.RevocationStore.ListRevocations(ctx, now)
}

// t0 is where the tests' clocks start: the real time, with a few odd nanoseconds.
var t0 = testkit.Start().Add(6)

func mustMirror(t testing.TB, st gatehouse.RevocationStore, now func() time.Time) *revocation.Mirror {
	t.Helper()
	m, err := revocation.NewMirror(context.Background(), st, now)
	if err != nil {
		t.Fatalf("NewMirror: %v", err)
	}
	return m
}

func TestMirrorContractMemory(t *testing.T) {
	storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
		return mustMirror(t, memory.NewRevocationStore(), nil)
	})
}

func TestMirrorContractSQLite(t *testing.T) {
	storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"), 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return mustMirror(t, sqlite.NewRevocationStore(db), nil)
	})
}

func TestMirrorLoadsAtStart(t *testing.T) {
	ctx := context.Background()
	st := newSpy()
	st.RevokeToken(ctx, "live", t0.Add(time.Minute))
	st.RevokeToken(ctx, "dead", t0.Add(-time.Minute))
	st.SetNotBefore(ctx, "u1", t0.Add(-time.Hour))
	m := mustMirror(t, st, func() time.Time { return t0 })
	if ok, _ := m.TokenRevoked(ctx, "live"); !ok {
		t.Error("a revocation in force was not loaded")
	}
	if ok, _ := m.TokenRevoked(ctx, "dead"); ok {
		t.Error("an expired revocation is reported")
	}
	if nb, _ := m.NotBefore(ctx, "u1"); !nb.Equal(t0.Add(-time.Hour)) {
		t.Errorf("NotBefore = %v, want %v", nb, t0.Add(-time.Hour))
	}
	if tokens, nbs := m.Len(); tokens != 1 || nbs != 1 {
		t.Errorf("Len = %d, %d; want 1, 1 (expired revocations are not loaded)", tokens, nbs)
	}
	if n := st.reads.Load(); n != 0 {
		t.Errorf("the mirror read the store %d times", n)
	}
}

type notListable struct{ gatehouse.RevocationStore }

func TestMirrorNeedsLister(t *testing.T) {
	_, err := revocation.NewMirror(context.Background(), notListable{memory.NewRevocationStore()}, nil)
	if !errors.Is(err, revocation.ErrNotListable) {
		t.Fatalf("NewMirror = %v, want ErrNotListable", err)
	}
	st := newSpy()
	st.fail.Store(true)
	if _, err := revocation.NewMirror(context.Background(), st, nil); !errors.Is(err, errBroken) {
		t.Fatalf("NewMirror on a failing store = %v, want its error", err)
	}
}

func TestMirrorWritesThrough(t *testing.T) {
	ctx := context.Background()
	st := newSpy()
	m := mustMirror(t, st, func() time.Time { return t0 })
	if err := m.RevokeToken(ctx, "jti", t0.Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := m.SetNotBefore(ctx, "u1", t0); err != nil {
		t.Fatal(err)
	}
	if ok, _ := st.RevocationStore.TokenRevoked(ctx, "jti"); !ok {
		t.Error("RevokeToken did not reach the store")
	}
	if nb, _ := st.RevocationStore.NotBefore(ctx, "u1"); !nb.Equal(t0) {
		t.Error("SetNotBefore did not reach the store")
	}
	if ok, _ := m.TokenRevoked(ctx, "jti"); !ok {
		t.Error("RevokeToken did not reach memory")
	}
	if nb, _ := m.NotBefore(ctx, "u1"); !nb.Equal(t0) {
		t.Error("SetNotBefore did not reach memory")
	}
	if n := st.reads.Load(); n != 0 {
		t.Errorf("reads went to the store %d times", n)
	}
}

func TestMirrorFailedWriteLeavesMemory(t *testing.T) {
	ctx := context.Background()
	st := newSpy()
	m := mustMirror(t, st, func() time.Time { return t0 })
	if err := m.SetNotBefore(ctx, "u1", t0); err != nil {
		t.Fatal(err)
	}
	st.fail.Store(true)
	if err := m.RevokeToken(ctx, "jti", t0.Add(time.Minute)); !errors.Is(err, errBroken) {
		t.Fatalf("RevokeToken on a failing store = %v, want its error", err)
	}
	if err := m.SetNotBefore(ctx, "u1", t0.Add(time.Hour)); !errors.Is(err, errBroken) {
		t.Fatalf("SetNotBefore on a failing store = %v, want its error", err)
	}
	if ok, _ := m.TokenRevoked(ctx, "jti"); ok {
		t.Error("a failed RevokeToken changed memory")
	}
	if nb, _ := m.NotBefore(ctx, "u1"); !nb.Equal(t0) {
		t.Errorf("a failed SetNotBefore changed memory: %v", nb)
	}
}

func TestMirrorNotBeforeMonotonic(t *testing.T) {
	ctx := context.Background()
	m := mustMirror(t, newSpy(), nil)
	m.SetNotBefore(ctx, "u1", t0)
	m.SetNotBefore(ctx, "u1", t0.Add(-time.Second))
	if nb, _ := m.NotBefore(ctx, "u1"); !nb.Equal(t0) {
		t.Fatalf("NotBefore moved back to %v", nb)
	}
}

func TestMirrorExpiredTokenNotReported(t *testing.T) {
	ctx := context.Background()
	clk := testkit.NewClock()
	clk.Set(t0)
	st := newSpy()
	m := mustMirror(t, st, clk.Now)
	m.RevokeToken(ctx, "jti", t0.Add(time.Minute))
	clk.Advance(time.Minute - time.Nanosecond)
	if ok, _ := m.TokenRevoked(ctx, "jti"); !ok {
		t.Fatal("revocation ended before its expiry")
	}
	clk.Advance(time.Nanosecond)
	if ok, _ := m.TokenRevoked(ctx, "jti"); ok {
		t.Fatal("revocation reported at its expiry")
	}
	if n := m.Sweep(clk.Now()); n != 1 {
		t.Fatalf("Sweep = %d, want 1", n)
	}
	if tokens, _ := m.Len(); tokens != 0 {
		t.Fatalf("Sweep left %d revocations", tokens)
	}
	if n, err := m.DeleteExpired(ctx, clk.Now()); err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want the store's 1, nil", n, err)
	}
}

// TestMirrorConcurrent lets readers and writers race (run with -race) and checks that memory and
// store agree afterwards.
func TestMirrorConcurrent(t *testing.T) {
	ctx := context.Background()
	st := newSpy()
	m := mustMirror(t, st, func() time.Time { return t0 })
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Go(func() {
			for i := range 200 {
				m.SetNotBefore(ctx, "u", t0.Add(time.Duration(i*4+w)))
				m.RevokeToken(ctx, "j"+strconv.Itoa(i%10), t0.Add(time.Duration(i*4+w)+time.Hour))
				m.TokenRevoked(ctx, "j1")
				m.NotBefore(ctx, "u")
			}
		})
	}
	wg.Wait()
	want, _ := st.RevocationStore.NotBefore(ctx, "u")
	if got, _ := m.NotBefore(ctx, "u"); !got.Equal(want) {
		t.Fatalf("memory %v and store %v disagree", got, want)
	}
	wantTokens, _, _ := st.RevocationStore.ListRevocations(ctx, t0)
	gotTokens, _, _ := m.ListRevocations(ctx, t0)
	for jti, exp := range wantTokens {
		if !gotTokens[jti].Equal(exp) {
			t.Fatalf("%s: memory %v, store %v", jti, gotTokens[jti], exp)
		}
	}
}

func BenchmarkTokenRevoked(b *testing.B) {
	ctx := context.Background()
	m := mustMirror(b, memory.NewRevocationStore(), nil)
	for i := range 10_000 {
		m.RevokeToken(ctx, "jti-"+strconv.Itoa(i), time.Now().Add(time.Hour))
	}
	for _, jti := range []string{"jti-5000", "not-revoked"} {
		b.Run(jti, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				m.TokenRevoked(ctx, jti)
			}
		})
	}
	jtis := make([]string, 1024)
	for i := range jtis {
		jtis[i] = "jti-" + strconv.Itoa(i*7)
	}
	b.Run("parallel", func(b *testing.B) {
		var next atomic.Uint64
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := next.Add(509)
			for pb.Next() {
				i++
				m.TokenRevoked(ctx, jtis[i%uint64(len(jtis))])
			}
		})
	})
}
