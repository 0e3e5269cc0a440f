package token

import (
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestIssueAssertion: an assertion is an access token for another audience with its own
// lifetime: that audience's verifier accepts it until it expires, gatehouse's own refuses it,
// and a rotation signs new assertions with the new key (found by kid in the same set).
func TestIssueAssertion(t *testing.T) {
	clock := newTestClock()
	ks := mustKeySet(t, AlgEdDSA, clock)
	s := mustService(t, ks, clock, nil)
	app := mustService(t, ks, clock, func(c *Config) { c.Audience = "https://app.example.test"; c.CacheSize = -1 })
	p := testPrincipal
	p.Groups = []string{"engineering", "ops"}
	jwt, err := s.IssueAssertion(p, "https://app.example.test", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := app.Verify(jwt)
	if err != nil || got.UserID != p.UserID || got.Username != p.Username || got.Email != p.Email || got.Role != p.Role || len(got.Groups) != 2 || got.Family != "" {
		t.Fatalf("the app reads %+v, %v", got, err)
	}
	if life := got.ExpiresAt.Sub(clock.Now()); life > time.Minute || life < 58*time.Second {
		t.Fatalf("lifetime %s, want one minute", life)
	}
	if _, err := s.Verify(jwt); !errors.Is(err, ErrWrongAudience) {
		t.Fatalf("gatehouse takes an assertion for an access token: %v", err)
	}
	clock.Advance(time.Minute + DefaultLeeway + time.Second)
	if _, err := app.Verify(jwt); !errors.Is(err, gatehouse.ErrTokenExpired) {
		t.Fatalf("an expired assertion: %v", err)
	}
	if _, err := ks.Rotate(); err != nil {
		t.Fatal(err)
	}
	next, _ := s.IssueAssertion(testPrincipal, "https://app.example.test", time.Minute)
	if _, err := app.Verify(next); err != nil {
		t.Fatalf("an assertion of the rotated key: %v", err)
	}
}

func TestIssueAssertionRefuses(t *testing.T) {
	clock := newTestClock()
	s := mustService(t, mustKeySet(t, AlgEdDSA, clock), clock, nil)
	if _, err := s.IssueAssertion(testPrincipal, testAudience, time.Minute); !errors.Is(err, ErrOwnAudience) {
		t.Fatalf("gatehouse's own audience: %v", err)
	}
	if _, err := s.IssueAssertion(testPrincipal, "", time.Minute); err == nil {
		t.Fatal("an empty audience is accepted")
	}
	if _, err := s.IssueAssertion(testPrincipal, "https://app", 500*time.Millisecond); err == nil {
		t.Fatal("a lifetime under a second is accepted")
	}
	unsorted := testPrincipal
	unsorted.Groups = []string{"b", "a"}
	if _, err := s.IssueAssertion(unsorted, "https://app", time.Minute); err == nil {
		t.Fatal("unsorted groups are accepted")
	}
	if _, err := s.IssueAssertion(gatehouse.Principal{UserID: "u", Role: "root"}, "https://app", time.Minute); err == nil {
		t.Fatal("an invalid role is accepted")
	}
}
