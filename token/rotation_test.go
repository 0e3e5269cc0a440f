package token

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// instance is one gatehouse process: its own key set on the shared key file, its own service.
type instance struct {
	keys *KeySet
	svc  *Service
}

func newInstance(t *testing.T, path, alg string, clock *testClock) *instance {
	t.Helper()
	ks, err := LoadKeySet(path, KeyOptions{Alg: alg, Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	// No verified-token cache: every Verify must find the key in the key set.
	return &instance{keys: ks, svc: mustService(t, ks, clock, func(c *Config) { c.CacheSize = -1 })}
}

func jwksKIDs(t *testing.T, ks *KeySet) []string {
	t.Helper()
	parsed, err := ParseJWKS(ks.JWKS(), nil)
	if err != nil {
		t.Fatal(err)
	}
	return parsed.KIDs()
}

// TestScheduledRotationAndRetirement follows two instances sharing one key file through a
// scheduled rotation: tokens signed before it keep verifying at both until they expire, and
// the old key leaves the file and the JWKS of both once every token it signed has expired
// (access TTL + leeway + propagation margin).
func TestScheduledRotationAndRetirement(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256} {
		t.Run(alg, func(t *testing.T) {
			clock := newTestClock()
			path := mustKeySet(t, alg, clock).Path()
			a, b := newInstance(t, path, alg, clock), newInstance(t, path, alg, clock)
			const margin = time.Minute
			policy := KeyPolicy{RotateEvery: 24 * time.Hour, RetireAfter: DefaultAccessTTL + DefaultLeeway + margin}
			oldKID := a.keys.SigningKID()
			oldKey := a.keys.lookup(oldKID)

			// Not due yet: nothing changes.
			clock.Advance(24*time.Hour - time.Second)
			if ch, err := a.keys.Maintain(policy); err != nil || ch.Rotated != "" || ch.Changed || len(ch.Retired) != 0 {
				t.Fatalf("early Maintain = %+v, %v", ch, err)
			}
			tokA, _ := mustIssue(t, a.svc, clock) // signed by the old key at both instances
			tokB, _ := mustIssue(t, b.svc, clock)

			clock.Advance(time.Second)
			ch, err := a.keys.Maintain(policy)
			if err != nil || ch.Rotated == "" || !ch.Changed || a.keys.SigningKID() != ch.Rotated {
				t.Fatalf("due Maintain = %+v, %v", ch, err)
			}
			newKID := ch.Rotated
			if got := jwksKIDs(t, a.keys); !slices.Equal(got, []string{newKID, oldKID}) {
				t.Fatalf("JWKS after rotation = %v", got)
			}
			// B has not reloaded: it still signs with the old key, and still verifies A's new
			// tokens (an unknown kid makes it re-read the file).
			tokB2, _ := mustIssue(t, b.svc, clock)
			newTok, _ := mustIssue(t, a.svc, clock)
			if _, err := b.svc.Verify(newTok); err != nil {
				t.Fatalf("B verifies a token of the new key: %v", err)
			}
			// B's own tick runs: the rotation is already done, B does not rotate again.
			if ch, err := b.keys.Maintain(policy); err != nil || ch.Rotated != "" || b.keys.SigningKID() != newKID {
				t.Fatalf("B Maintain = %+v, %v (signing %s)", ch, err, b.keys.SigningKID())
			}
			if kids := b.keys.KIDs(); !slices.Equal(kids, []string{oldKID, newKID}) {
				t.Fatalf("file keys = %v", kids)
			}

			// Until they expire, the old tokens verify at every instance.
			clock.Advance(DefaultAccessTTL + DefaultLeeway - 2*time.Second)
			for _, in := range []*instance{a, b} {
				for _, tok := range []string{tokA, tokB, tokB2, newTok} {
					if _, err := in.svc.Verify(tok); err != nil {
						t.Fatalf("token signed before the rotation rejected before expiry: %v", err)
					}
				}
				if ch, err := in.keys.Maintain(policy); err != nil || len(ch.Retired) != 0 {
					t.Fatalf("retired too early: %+v, %v", ch, err)
				}
			}
			clock.Advance(3 * time.Second)
			for _, tok := range []string{tokA, tokB, tokB2} {
				if _, err := a.svc.Verify(tok); !errors.Is(err, gatehouse.ErrTokenExpired) {
					t.Fatalf("old token after expiry: %v", err)
				}
			}

			// The old key is retired once the margin has passed too, at every instance.
			clock.Advance(margin - time.Second)
			if ch, _ := a.keys.Maintain(policy); len(ch.Retired) != 0 {
				t.Fatalf("retired before the margin: %+v", ch)
			}
			clock.Advance(time.Second)
			ch, err = a.keys.Maintain(policy)
			if err != nil || !slices.Equal(ch.Retired, []string{oldKID}) || !ch.Changed {
				t.Fatalf("retirement = %+v, %v", ch, err)
			}
			if ch, err := b.keys.Maintain(policy); err != nil || !ch.Changed || len(ch.Retired) != 0 {
				t.Fatalf("B picks up the retirement: %+v, %v", ch, err)
			}
			for _, in := range []*instance{a, b} {
				if got := jwksKIDs(t, in.keys); !slices.Equal(got, []string{newKID}) {
					t.Fatalf("JWKS after retirement = %v", got)
				}
				if _, err := in.svc.Verify(newTok); !errors.Is(err, gatehouse.ErrTokenExpired) {
					t.Fatalf("new-key token: %v", err)
				}
				fresh, _ := mustIssue(t, in.svc, clock)
				if _, err := in.svc.Verify(fresh); err != nil {
					t.Fatalf("fresh token after retirement: %v", err)
				}
			}
			// A token signed by the retired key (a forgery now, or a replay) names an unknown kid.
			forged := encodeSigned(t, oldKey.method, oldKey.sign, map[string]any{"alg": alg, "kid": oldKID, "typ": TypAccessToken}, validClaims(clock))
			if _, err := a.svc.Verify(forged); err == nil || !strings.Contains(err.Error(), "unknown kid") {
				t.Fatalf("retired key still verifies: %v", err)
			}
		})
	}
}

func TestRotationNeverRetiresTheOnlyOrSigningKey(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	clock.Advance(365 * 24 * time.Hour)
	ch, err := ks.Maintain(KeyPolicy{RetireAfter: time.Second})
	if err != nil || len(ch.Retired) != 0 || len(ks.KIDs()) != 1 {
		t.Fatalf("Maintain = %+v, %v; kids %v", ch, err, ks.KIDs())
	}
	// Policy off: nothing happens however old the keys are.
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	clock.Advance(365 * 24 * time.Hour)
	if ch, err := ks.Maintain(KeyPolicy{}); err != nil || ch.Rotated != "" || len(ch.Retired) != 0 || len(ks.KIDs()) != 2 {
		t.Fatalf("Maintain with no policy = %+v, %v", ch, err)
	}
	// A file configured back to an older key: that key signs, so it stays.
	first := ks.KIDs()[0]
	raw, _ := os.ReadFile(ks.Path())
	f, err := parseKeyFile(ks.Storage(), raw)
	if err != nil {
		t.Fatal(err)
	}
	f.Keys[1].Alg, f.Keys[1].Key = AlgHS256, b64(make([]byte, 32))
	if raw, err = encodeKeyFile(f); err != nil {
		t.Fatal(err)
	}
	if err := ks.Storage().Store(raw, false); err != nil {
		t.Fatal(err)
	}
	if ch, err := ks.Maintain(KeyPolicy{RetireAfter: time.Second}); err != nil || len(ch.Retired) != 0 || ks.SigningKID() != first {
		t.Fatalf("Maintain = %+v, %v; signing %s", ch, err, ks.SigningKID())
	}
}

func TestScheduledRotationRefusesConfiguredHMACSecret(t *testing.T) {
	clock := newTestClock()
	ks, err := LoadKeySet(mustKeySet(t, AlgEdDSA, clock).Path(), KeyOptions{Alg: AlgHS256, HMACSecret: []byte(strings.Repeat("s", 32)), Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	clock.Advance(48 * time.Hour)
	before := ks.KIDs()
	if _, err := ks.Maintain(KeyPolicy{RotateEvery: time.Hour}); err == nil {
		t.Fatal("rotated a configured HS256 secret")
	}
	if !slices.Equal(ks.KIDs(), before) {
		t.Fatal("keys changed after a failed Maintain")
	}
	if _, err := (&KeySet{}).Maintain(KeyPolicy{}); !errors.Is(err, errVerifyOnly) {
		t.Fatalf("verify-only Maintain: %v", err)
	}
}
