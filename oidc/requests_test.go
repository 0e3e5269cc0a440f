package oidc

import (
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

func signedIn(m *memory, now time.Time) *authRequest {
	r := &authRequest{id: gatehouse.NewSecret(), clientID: "c", createdAt: now}
	m.putRequest(r)
	m.update(r.id, func(r *authRequest) bool { r.subject, r.done = "u", true; return true })
	return r
}

// TestCodeLifetime: a code is exchangeable for CodeTTL, not a moment longer, and one request
// gets one code.
func TestCodeLifetime(t *testing.T) {
	clock := testkit.NewClock()
	m := newMemory(clock.Now)
	r := signedIn(m, clock.Now())
	code := gatehouse.NewSecret()
	if !m.saveCode(r.id, code) {
		t.Fatal("saveCode refused a signed-in request")
	}
	if m.saveCode(r.id, gatehouse.NewSecret()) {
		t.Fatal("a request got a second code")
	}
	clock.Advance(CodeTTL)
	if got, ok := m.requestByCode(code); !ok || got.id != r.id {
		t.Fatal("a code was refused within its lifetime")
	}
	clock.Advance(time.Millisecond)
	if _, ok := m.requestByCode(code); ok {
		t.Fatal("a code was accepted after its lifetime")
	}
	if _, ok := m.requestByCode(gatehouse.NewSecret()); ok {
		t.Fatal("an unknown code was accepted")
	}
}

// TestCodeNeedsSignIn: no code for a request nobody signed in to, or an expired one.
func TestCodeNeedsSignIn(t *testing.T) {
	clock := testkit.NewClock()
	m := newMemory(clock.Now)
	r := &authRequest{id: gatehouse.NewSecret(), createdAt: clock.Now()}
	m.putRequest(r)
	if m.saveCode(r.id, gatehouse.NewSecret()) {
		t.Fatal("a code for a request without a signed-in user")
	}
	old := signedIn(m, clock.Now())
	clock.Advance(RequestTTL + time.Second)
	if _, ok := m.request(old.id); ok || m.saveCode(old.id, gatehouse.NewSecret()) {
		t.Fatal("an expired request is still usable")
	}
	m.putRequest(&authRequest{id: gatehouse.NewSecret(), createdAt: clock.Now()}) // sweeps
	if len(m.requests) != 1 {
		t.Fatalf("%d requests kept after a sweep, want 1", len(m.requests))
	}
}

// TestPendingBounded: past MaxPending, new requests are refused rather than kept.
func TestPendingBounded(t *testing.T) {
	clock := testkit.NewClock()
	m := newMemory(clock.Now)
	for range MaxPending {
		m.requests[gatehouse.NewSecret()] = &authRequest{createdAt: clock.Now()}
	}
	if m.putRequest(&authRequest{id: gatehouse.NewSecret(), createdAt: clock.Now()}) {
		t.Fatal("a request past the bound was kept")
	}
	clock.Advance(RequestTTL + time.Second)
	if !m.putRequest(&authRequest{id: gatehouse.NewSecret(), createdAt: clock.Now()}) {
		t.Fatal("expired requests were not swept")
	}
}
