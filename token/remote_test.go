package token

import (
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// jwksSource serves the JWKS of a key set and counts the fetches.
type jwksSource struct {
	ks      *KeySet
	fetches atomic.Int64
	fail    atomic.Bool
	// gate, when set, makes the next fetch signal started and wait for release.
	mu      sync.Mutex
	started chan struct{}
	release chan struct{}
}

func (s *jwksSource) fetch() ([]byte, error) {
	s.fetches.Add(1)
	s.mu.Lock()
	started, release := s.started, s.release
	s.started, s.release = nil, nil
	s.mu.Unlock()
	if started != nil {
		close(started)
		<-release
	}
	if s.fail.Load() {
		return nil, errors.New("JWKS endpoint down")
	}
	return s.ks.JWKS(), nil
}

func remoteService(t *testing.T, src *jwksSource, clock *testClock) (*KeySet, *Service) {
	t.Helper()
	remote, err := NewRemoteKeySet(src.fetch, RemoteOptions{MinRefetch: 10 * time.Second, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	return remote, mustService(t, remote, clock, func(c *Config) { c.Algorithms = []string{AlgEdDSA, AlgES256}; c.CacheSize = -1 })
}

func TestRemoteKeySetFollowsRotation(t *testing.T) {
	clock := newTestClock()
	server := mustKeySet(t, AlgEdDSA, clock)
	issuer := mustService(t, server, clock, nil)
	src := &jwksSource{ks: server}
	remote, svc := remoteService(t, src, clock)
	if src.fetches.Load() != 1 {
		t.Fatalf("fetches at start = %d", src.fetches.Load())
	}
	tok, _ := mustIssue(t, issuer, clock)
	if _, err := svc.Verify(tok); err != nil || src.fetches.Load() != 1 {
		t.Fatalf("known kid: %v (fetches %d)", err, src.fetches.Load())
	}

	// A rotation: the first token of the new key makes the remote set fetch again.
	if _, err := server.Rotate(); err != nil {
		t.Fatal(err)
	}
	newTok, _ := mustIssue(t, issuer, clock)
	if _, err := svc.Verify(newTok); err != nil || src.fetches.Load() != 2 {
		t.Fatalf("new kid: %v (fetches %d)", err, src.fetches.Load())
	}
	if _, err := svc.Verify(tok); err != nil {
		t.Fatalf("old key still published: %v", err)
	}

	// Unknown kids are rate limited: a flood of them costs at most one fetch per MinRefetch
	// (the new kid's fetch just now counts).
	h := validHeader(server)
	h["kid"] = "no-such-kid"
	forged := signWithKeySet(t, server, h, validClaims(clock))
	for i := 0; i < 100; i++ {
		if _, err := svc.Verify(forged); !errors.Is(err, gatehouse.ErrInvalidToken) {
			t.Fatalf("unknown kid: %v", err)
		}
	}
	if n := src.fetches.Load(); n != 2 {
		t.Fatalf("fetches after a flood of unknown kids = %d, want 2", n)
	}
	clock.Advance(10 * time.Second)
	for i := 0; i < 100; i++ {
		svc.Verify(forged)
	}
	if n := src.fetches.Load(); n != 3 {
		t.Fatalf("fetches after MinRefetch = %d, want 3", n)
	}

	// A failed fetch keeps the keys; Reload fetches whatever the rate limit says.
	src.fail.Store(true)
	if _, err := remote.Reload(); err == nil {
		t.Fatal("Reload hid the fetch error")
	}
	if _, err := svc.Verify(newTok); err != nil {
		t.Fatalf("keys lost after a failed fetch: %v", err)
	}
	src.fail.Store(false)
	if changed, err := remote.Reload(); err != nil || changed {
		t.Fatalf("Reload of an unchanged set = %v, %v", changed, err)
	}
	if _, err := remote.Rotate(); err == nil {
		t.Fatal("a remote set rotated")
	}
	if _, _, err := svc.Issue(testPrincipal, "", time.Time{}); err == nil || !strings.Contains(err.Error(), "only verify") {
		t.Fatalf("a remote set signed: %v", err)
	}
}

// TestRemoteKeySetWaitsForAFetchInFlight: tokens of a new key that arrive while the fetch it
// caused is running wait for it instead of being rejected.
func TestRemoteKeySetWaitsForAFetchInFlight(t *testing.T) {
	clock := newTestClock()
	server := mustKeySet(t, AlgES256, clock)
	issuer := mustService(t, server, clock, nil)
	src := &jwksSource{ks: server}
	_, svc := remoteService(t, src, clock)
	if _, err := server.Rotate(); err != nil {
		t.Fatal(err)
	}
	tok, _ := mustIssue(t, issuer, clock)
	started, release := make(chan struct{}), make(chan struct{})
	src.mu.Lock()
	src.started, src.release = started, release
	src.mu.Unlock()
	errs := make(chan error, 2)
	go func() { _, err := svc.Verify(tok); errs <- err }()
	<-started // the first Verify holds the fetch
	go func() { _, err := svc.Verify(tok); errs <- err }()
	time.Sleep(20 * time.Millisecond) // let the second reach the wait (not a timing assertion)
	close(release)
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			t.Fatalf("verify during a fetch: %v", err)
		}
	}
	if n := src.fetches.Load(); n != 2 {
		t.Fatalf("fetches = %d, want 2", n)
	}
}

func TestRemoteKeySetRefusals(t *testing.T) {
	if _, err := NewRemoteKeySet(nil, RemoteOptions{}); err == nil {
		t.Error("nil fetch accepted")
	}
	for _, body := range []string{`{"keys":[]}`, `not json`, `{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"x","alg":"HS256"}]}`} {
		if _, err := NewRemoteKeySet(func() ([]byte, error) { return []byte(body), nil }, RemoteOptions{}); err == nil {
			t.Errorf("JWKS %s accepted", body)
		}
	}
	if _, err := NewRemoteKeySet(func() ([]byte, error) { return nil, errors.New("down") }, RemoteOptions{}); err == nil {
		t.Error("failed first fetch accepted")
	}
	clock := newTestClock()
	src := &jwksSource{ks: mustKeySet(t, AlgEdDSA, clock)}
	remote, err := NewRemoteKeySet(src.fetch, RemoteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewService(remote, Config{Issuer: testIssuer, Audience: testAudience}); err == nil {
		t.Error("a remote set without Algorithms accepted")
	}
}
