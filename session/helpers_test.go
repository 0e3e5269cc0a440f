package session_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/session"
)

var errBroken = errors.New("store is broken")

// t0 is where the tests' clocks start: the real time, with a few odd nanoseconds that
// stores must keep or drop consistently.
var t0 = testkit.Start().Add(6)

// clock is a settable test clock.
type clock = testkit.Clock

func newClock() *clock {
	c := testkit.NewClock()
	c.Set(t0)
	return c
}

// spyStore wraps a SessionStore: it counts calls, can fail every call, and can run hooks after
// the inner store answered a find or a create (to interleave concurrent calls in tests).
type spyStore struct {
	gatehouse.SessionStore
	finds, touches, creates, deletes atomic.Int64
	fail                             atomic.Bool
	afterFind, afterCreate           func()
}

func newSpy() *spyStore { return &spyStore{SessionStore: memory.NewSessionStore()} }

func (s *spyStore) CreateSession(ctx context.Context, ss *gatehouse.Session) error {
	s.creates.Add(1)
	if s.fail.Load() {
		return errBroken
	}
	err := s.SessionStore.CreateSession(ctx, ss)
	if s.afterCreate != nil {
		s.afterCreate()
	}
	return err
}

func (s *spyStore) FindSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	s.finds.Add(1)
	if s.fail.Load() {
		return nil, false, errBroken
	}
	ss, found, err := s.SessionStore.FindSession(ctx, h)
	if s.afterFind != nil {
		s.afterFind()
	}
	return ss, found, err
}

func (s *spyStore) TouchSession(ctx context.Context, h gatehouse.Hash, t time.Time) (bool, error) {
	s.touches.Add(1)
	if s.fail.Load() {
		return false, errBroken
	}
	return s.SessionStore.TouchSession(ctx, h, t)
}

func (s *spyStore) DeleteSession(ctx context.Context, h gatehouse.Hash) (bool, error) {
	s.deletes.Add(1)
	if s.fail.Load() {
		return false, errBroken
	}
	return s.SessionStore.DeleteSession(ctx, h)
}

func (s *spyStore) DeleteSessionByHandle(ctx context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	s.deletes.Add(1)
	if s.fail.Load() {
		return gatehouse.Hash{}, false, errBroken
	}
	return s.SessionStore.DeleteSessionByHandle(ctx, userID, handle)
}

func (s *spyStore) SessionByHandle(ctx context.Context, handle string) (*gatehouse.Session, bool, error) {
	if s.fail.Load() {
		return nil, false, errBroken
	}
	return s.SessionStore.SessionByHandle(ctx, handle)
}

func (s *spyStore) ListSessions(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	if s.fail.Load() {
		return nil, errBroken
	}
	return s.SessionStore.ListSessions(ctx, userID)
}

func (s *spyStore) DeleteUserSessions(ctx context.Context, userID string) ([]gatehouse.Hash, error) {
	s.deletes.Add(1)
	if s.fail.Load() {
		return nil, errBroken
	}
	return s.SessionStore.DeleteUserSessions(ctx, userID)
}

// failingRevs is a RevocationStore whose reads can fail.
type failingRevs struct {
	*memory.RevocationStore
	fail atomic.Bool
}

func (f *failingRevs) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	if f.fail.Load() {
		return time.Time{}, errBroken
	}
	return f.RevocationStore.NotBefore(ctx, userID)
}

// fixture is a manager on a spy store, a revocation store and a test clock.
type fixture struct {
	m     *session.Manager
	store *spyStore
	revs  *failingRevs
	clock *clock
}

func newFixture(t *testing.T, cache bool, opts session.Options) *fixture {
	t.Helper()
	f := &fixture{store: newSpy(), revs: &failingRevs{RevocationStore: memory.NewRevocationStore()}, clock: newClock()}
	opts.Now, opts.Cache = f.clock.Now, cache
	f.m = session.NewManager(f.store, f.revs, opts)
	return f
}

// eachMode runs fn without and with the cache.
func eachMode(t *testing.T, fn func(t *testing.T, cache bool)) {
	for _, cache := range []bool{false, true} {
		name := "nocache"
		if cache {
			name = "cache"
		}
		t.Run(name, func(t *testing.T) { fn(t, cache) })
	}
}

var alice = gatehouse.Principal{UserID: "alice-id", Username: "alice", Name: "Alice", Email: "a@example.test", Role: gatehouse.RoleUser}
var bob = gatehouse.Principal{UserID: "bob-id", Username: "bob", Name: "Bob", Email: "b@example.test", Role: gatehouse.RoleAdmin}

func (f *fixture) create(t *testing.T, p gatehouse.Principal) (string, *gatehouse.Session) {
	t.Helper()
	secret, s, err := f.m.Create(context.Background(), p, gatehouse.MethodPassword, "192.0.2.1", "test-agent")
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	return secret, s
}

// live fails the test unless secret authenticates as the session with that handle.
func (f *fixture) live(t *testing.T, secret, handle string) *gatehouse.Session {
	t.Helper()
	s, err := f.m.Authenticate(context.Background(), secret)
	if err != nil {
		t.Fatalf("Authenticate at +%v: %v; want the session", f.clock.Now().Sub(t0), err)
	}
	if s.Handle != handle {
		t.Fatalf("Authenticate returned session %s, want %s", s.Handle, handle)
	}
	return s
}

// dead fails the test unless secret is rejected with ErrSessionExpired.
func (f *fixture) dead(t *testing.T, secret string) {
	t.Helper()
	s, err := f.m.Authenticate(context.Background(), secret)
	if !errors.Is(err, gatehouse.ErrSessionExpired) || s != nil {
		t.Fatalf("Authenticate at +%v = %v, %v; want ErrSessionExpired", f.clock.Now().Sub(t0), s, err)
	}
}

// stored returns the session as the store has it, or nil.
func (f *fixture) stored(t *testing.T, secret string) *gatehouse.Session {
	t.Helper()
	s, _, err := f.store.SessionStore.FindSession(context.Background(), gatehouse.HashSecret(secret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// plant stores a session of p created now directly in the inner store, bypassing the manager
// and its cache, and returns its secret.
func (f *fixture) plant(t *testing.T, p gatehouse.Principal) (string, *gatehouse.Session) {
	t.Helper()
	secret, now := gatehouse.NewSecret(), f.clock.Now()
	s := &gatehouse.Session{Hash: gatehouse.HashSecret(secret), Handle: gatehouse.NewID(now), User: p,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(session.DefaultAbsoluteTimeout)}
	if err := f.store.SessionStore.CreateSession(context.Background(), s); err != nil {
		t.Fatal(err)
	}
	return secret, s
}

func (s *spyStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	if s.fail.Load() {
		return 0, errBroken
	}
	return s.SessionStore.(gatehouse.Expirer).DeleteExpired(ctx, now)
}
