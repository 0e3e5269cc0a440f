package token

import (
	"slices"
	"testing"
	"time"
)

// newAheadInstance is newInstance with a publish-ahead time for the keys it adds.
func newAheadInstance(t *testing.T, path string, clock *testClock, ahead time.Duration) *instance {
	t.Helper()
	ks, err := LoadKeySet(path, KeyOptions{Now: clock.Now, PublishAhead: ahead})
	if err != nil {
		t.Fatal(err)
	}
	return &instance{keys: ks, svc: mustService(t, ks, clock, func(c *Config) { c.CacheSize = -1 })}
}

// knows reports whether in holds kid without re-reading the key file: what an instance that
// has not looked at the file since can verify.
func (in *instance) knows(kid string) bool { return in.keys.lookup(kid) != nil }

// TestPublishAhead: a key added with a publish-ahead time is published and verifies at once,
// but no instance signs with it until every instance has had the time to load it, and then
// all switch at the same moment without re-reading the file.
func TestPublishAhead(t *testing.T) {
	const ahead = 10 * time.Minute
	const tick = 10 * time.Second // the server's maintenance tick
	for _, how := range []string{"rotate", "schedule"} {
		t.Run(how, func(t *testing.T) {
			clock := newTestClock()
			path := mustKeySet(t, AlgEdDSA, clock).Path()
			a := newAheadInstance(t, path, clock, ahead)
			b := newAheadInstance(t, path, clock, ahead)
			oldKID := a.keys.SigningKID()
			policy := KeyPolicy{RotateEvery: time.Hour, RetireAfter: DefaultAccessTTL}
			if how == "schedule" {
				clock.Advance(time.Hour)
			}
			var newKID string
			if how == "rotate" {
				kid, err := a.keys.Rotate()
				if err != nil {
					t.Fatal(err)
				}
				newKID = kid
			} else {
				ch, err := a.keys.Maintain(policy)
				if err != nil || ch.Rotated == "" || !ch.Changed {
					t.Fatalf("due Maintain = %+v, %v", ch, err)
				}
				newKID = ch.Rotated
			}
			if got := jwksKIDs(t, a.keys); !slices.Equal(got, []string{newKID, oldKID}) {
				t.Fatalf("JWKS right after the rotation = %v, want the new key published", got)
			}
			// B picks the file up on its next tick; until the activation both sign with the old key.
			clock.Advance(tick)
			if ch, err := b.keys.Maintain(policy); err != nil || ch.Rotated != "" || !ch.Changed {
				t.Fatalf("B's tick = %+v, %v", ch, err)
			}
			for elapsed := tick; elapsed < ahead; elapsed += tick {
				for _, in := range []*instance{a, b} {
					if in.keys.SigningKID() != oldKID {
						t.Fatalf("after %s an instance signs with %s before the activation", elapsed, in.keys.SigningKID())
					}
					if ch, err := in.keys.Maintain(policy); err != nil || ch.Rotated != "" {
						t.Fatalf("a pending key must stop the schedule from rotating again: %+v, %v", ch, err)
					}
				}
				clock.Advance(tick)
			}
			// Activation: both switch by the clock alone, and each knows the other's key.
			clock.Set(a.keys.lookup(newKID).activatesAt)
			for _, in := range []*instance{a, b} {
				if in.keys.SigningKID() != newKID {
					t.Fatalf("at activation the signing key is %s, want %s", in.keys.SigningKID(), newKID)
				}
				tok, _ := mustIssue(t, in.svc, clock)
				for _, other := range []*instance{a, b} {
					if !other.knows(newKID) {
						t.Fatal("an instance signs with a key another instance has not loaded")
					}
					if _, err := other.svc.Verify(tok); err != nil {
						t.Fatalf("token of the new key: %v", err)
					}
				}
			}
			// Retirement counts from the activation, not from the creation of the new key.
			clock.Advance(DefaultAccessTTL - time.Second)
			if ch, err := a.keys.Maintain(policy); err != nil || len(ch.Retired) != 0 {
				t.Fatalf("old key retired before its last token expired: %+v, %v", ch, err)
			}
			clock.Advance(2 * time.Second)
			if ch, err := a.keys.Maintain(policy); err != nil || !slices.Equal(ch.Retired, []string{oldKID}) {
				t.Fatalf("retirement = %+v, %v", ch, err)
			}
		})
	}
}

// TestPublishAheadZero keeps the old behaviour: the new key signs at once.
func TestPublishAheadZero(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	kid, err := ks.Rotate()
	if err != nil || ks.SigningKID() != kid {
		t.Fatalf("Rotate = %s, %v; signing %s", kid, err, ks.SigningKID())
	}
	if k := ks.lookup(kid); !k.activatesAt.IsZero() {
		t.Fatalf("activates_at = %v, want none", k.activatesAt)
	}
}

// TestSigningAtPendingOnly: a hand-edited file whose only key is pending still signs (with it)
// rather than refusing every login.
func TestSigningAtPendingOnly(t *testing.T) {
	clock := newTestClock()
	k := &key{kid: "k", activatesAt: clock.Now().Add(time.Hour)}
	later := &key{kid: "later", activatesAt: clock.Now().Add(2 * time.Hour)}
	s := &snapshot{signers: []*key{k, later}}
	if got := s.signingAt(clock.Now()); got != k {
		t.Fatalf("signingAt = %v, want the first to activate", got)
	}
	if got := (&snapshot{}).signingAt(clock.Now()); got != nil {
		t.Fatalf("signingAt without signers = %v", got)
	}
}
