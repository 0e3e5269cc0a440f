package oidc

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// eachStore runs fn against every challenge store a single node can use: memory, and SQLite
// (the PostgreSQL one runs in the cluster tests of cmd/gatehouse).
func eachStore(t *testing.T, fn func(t *testing.T, f *flows, clock *testkit.Clock)) {
	t.Run("memory", func(t *testing.T) {
		clock := testkit.NewClock()
		fn(t, newFlows(memory.NewChallengeStore(), clock.Now), clock)
	})
	t.Run("sqlite", func(t *testing.T) {
		db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "g.db"), 0)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		clock := testkit.NewClock()
		fn(t, newFlows(sqlite.NewChallengeStore(db), clock.Now), clock)
	})
}

func signedIn(t *testing.T, f *flows, now time.Time) *authRequest {
	t.Helper()
	ctx := context.Background()
	r := &authRequest{ID: gatehouse.NewSecret(), ClientID: "c", CreatedAt: now, Scopes: []string{"openid"}}
	if err := f.putRequest(ctx, r); err != nil {
		t.Fatal(err)
	}
	if ok, err := f.bind(ctx, r.ID, func(r *authRequest) { r.Subject = "u" }); !ok || err != nil {
		t.Fatalf("bind: %v %v", ok, err)
	}
	return r
}

// TestCodeLifetime: a code is exchangeable for CodeTTL, not a moment longer, and one request
// gets one code.
func TestCodeLifetime(t *testing.T) {
	eachStore(t, func(t *testing.T, f *flows, clock *testkit.Clock) {
		ctx := context.Background()
		r := signedIn(t, f, clock.Now())
		code := gatehouse.NewSecret()
		if ok, err := f.saveCode(ctx, r.ID, code); !ok || err != nil {
			t.Fatalf("saveCode refused a signed-in request: %v", err)
		}
		if ok, _ := f.saveCode(ctx, r.ID, gatehouse.NewSecret()); ok {
			t.Fatal("a request got a second code")
		}
		clock.Advance(CodeTTL - time.Millisecond)
		if got, used, err := f.requestByCode(ctx, code); err != nil || used != nil || got == nil || got.ID != r.ID || got.Subject != "u" {
			t.Fatalf("a code was refused within its lifetime: %+v %v %v", got, used, err)
		}
		clock.Advance(time.Millisecond)
		if got, _, _ := f.requestByCode(ctx, code); got != nil {
			t.Fatal("a code was accepted after its lifetime")
		}
		if got, _, _ := f.requestByCode(ctx, gatehouse.NewSecret()); got != nil {
			t.Fatal("an unknown code was accepted")
		}
	})
}

// TestCodeNeedsSignIn: no code for a request nobody signed in to, or an expired one; a request
// is bound to one user once.
func TestCodeNeedsSignIn(t *testing.T) {
	eachStore(t, func(t *testing.T, f *flows, clock *testkit.Clock) {
		ctx := context.Background()
		r := &authRequest{ID: gatehouse.NewSecret(), CreatedAt: clock.Now()}
		if err := f.putRequest(ctx, r); err != nil {
			t.Fatal(err)
		}
		if ok, _ := f.saveCode(ctx, r.ID, gatehouse.NewSecret()); ok {
			t.Fatal("a code for a request without a signed-in user")
		}
		old := signedIn(t, f, clock.Now())
		if ok, _ := f.bind(ctx, old.ID, func(r *authRequest) { r.Subject = "mallory" }); ok {
			t.Fatal("a bound request was bound again")
		}
		if got, _, _ := f.request(ctx, old.ID); got == nil || got.Subject != "u" {
			t.Fatalf("a second bind changed the request: %+v", got)
		}
		clock.Advance(RequestTTL + time.Second)
		if got, _, _ := f.request(ctx, old.ID); got != nil {
			t.Fatal("an expired request is still usable")
		}
		if ok, _ := f.saveCode(ctx, old.ID, gatehouse.NewSecret()); ok {
			t.Fatal("an expired request got a code")
		}
	})
}

// TestCodeClaimedOnce: of concurrent claims of one code exactly one wins, and every later
// lookup of the code answers with the winner's record (a replay).
func TestCodeClaimedOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, f *flows, clock *testkit.Clock) {
		ctx := context.Background()
		r := signedIn(t, f, clock.Now())
		code := gatehouse.NewSecret()
		if ok, err := f.saveCode(ctx, r.ID, code); !ok || err != nil {
			t.Fatal(err)
		}
		const n = 8
		var wg sync.WaitGroup
		wins := make(chan string, n)
		for i := range n {
			wg.Go(func() {
				jti := gatehouse.NewID(clock.Now()) + string(rune('a'+i))
				if _, err := f.claimCode(ctx, code, &usedCode{Token: jti}); err == nil {
					wins <- jti
				}
			})
		}
		wg.Wait()
		close(wins)
		if len(wins) != 1 {
			t.Fatalf("%d claims of one code won, want 1", len(wins))
		}
		winner := <-wins
		got, used, err := f.requestByCode(ctx, code)
		if err != nil || got != nil || used == nil || used.Token != winner {
			t.Fatalf("a claimed code: request %+v, used %+v, %v", got, used, err)
		}
	})
}

// TestPendingBounded: past MaxPending per window, new requests are refused rather than kept.
func TestPendingBounded(t *testing.T) {
	clock := testkit.NewClock()
	f := newFlows(memory.NewChallengeStore(), clock.Now)
	f.window, f.started = clock.Now(), MaxPending
	ctx := context.Background()
	if err := f.putRequest(ctx, &authRequest{ID: gatehouse.NewSecret(), CreatedAt: clock.Now()}); err != errFull {
		t.Fatalf("a request past the bound: %v", err)
	}
	clock.Advance(RequestTTL)
	if err := f.putRequest(ctx, &authRequest{ID: gatehouse.NewSecret(), CreatedAt: clock.Now()}); err != nil {
		t.Fatalf("the window did not turn: %v", err)
	}
}

// TestSameGrant: a credential works under the grant it was issued under, and under no other,
// whatever the clocks say; old records without the grant's time compare with the issue time.
func TestSameGrant(t *testing.T) {
	created := testkit.Start().Add(700 * time.Microsecond)
	g := &gatehouse.Grant{CreatedAt: created}
	// issued in the same millisecond as the grant: its id's time is truncated below the grant's
	if !sameGrant(g, created, created.Truncate(time.Millisecond)) {
		t.Fatal("a token of this grant issued in the grant's millisecond is refused")
	}
	if !sameGrant(g, created, created.Add(-time.Second)) {
		t.Fatal("a token issued by an instance whose clock is behind is refused")
	}
	again := &gatehouse.Grant{CreatedAt: created.Add(time.Nanosecond)} // revoked and given again
	if sameGrant(again, created, created.Add(time.Hour)) {
		t.Fatal("a token of a revoked grant works under the grant given again")
	}
	// records written before the grant's time was carried
	if !sameGrant(g, time.Time{}, created.Add(time.Second)) || sameGrant(g, time.Time{}, created.Add(-time.Second)) {
		t.Fatal("the fallback to the issue time is wrong")
	}
}
