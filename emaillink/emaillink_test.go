package emaillink_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/emaillink"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func stores(t *testing.T) map[string]gatehouse.EmailLinkStore {
	db, err := sqlite.Open(context.Background(), t.TempDir()+"/g.db", 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return map[string]gatehouse.EmailLinkStore{"memory": memory.NewEmailLinkStore(), "sqlite": sqlite.NewEmailLinkStore(db)}
}

func TestIssueAndRedeemOnce(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := testkit.NewClock()
			links := emaillink.New(st, emaillink.Config{Now: clock.Now})
			secret, l, err := links.Issue(ctx, "u1", gatehouse.LinkVerify, "a@example.test")
			if err != nil {
				t.Fatal(err)
			}
			if !emaillink.WellFormed(secret) || l.Hash != gatehouse.HashSecret(secret) || !l.ExpiresAt.Equal(l.CreatedAt.Add(24*time.Hour)) {
				t.Fatalf("secret %q, link %+v", secret, l)
			}
			got, err := links.Redeem(ctx, secret, gatehouse.LinkVerify)
			if err != nil || got.UserID != "u1" || got.Email != "a@example.test" {
				t.Fatalf("Redeem = %+v, %v", got, err)
			}
			if _, err := links.Redeem(ctx, secret, gatehouse.LinkVerify); !errors.Is(err, emaillink.ErrInvalidLink) {
				t.Fatalf("second Redeem = %v, want ErrInvalidLink", err)
			}
		})
	}
}

// Expiry is checked against the injected clock, to the nanosecond, without sleeping.
func TestExpiryWithAnInjectedClock(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			clock := testkit.NewClock()
			links := emaillink.New(st, emaillink.Config{Now: clock.Now, ResetTTL: 10 * time.Minute})
			late, _, err := links.Issue(ctx, "u1", gatehouse.LinkReset, "a@example.test")
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(10 * time.Minute)
			if _, err := links.Redeem(ctx, late, gatehouse.LinkReset); !errors.Is(err, emaillink.ErrInvalidLink) {
				t.Fatalf("Redeem at expiry = %v, want ErrInvalidLink", err)
			}
			inTime, _, err := links.Issue(ctx, "u2", gatehouse.LinkReset, "b@example.test")
			if err != nil {
				t.Fatal(err)
			}
			clock.Advance(10*time.Minute - time.Nanosecond)
			if _, err := links.Redeem(ctx, inTime, gatehouse.LinkReset); err != nil {
				t.Fatalf("Redeem just before expiry = %v", err)
			}
		})
	}
}

func TestNewestResetVoidsOlder(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			links := emaillink.New(st, emaillink.Config{})
			first, _, _ := links.Issue(ctx, "u1", gatehouse.LinkReset, "a@example.test")
			second, _, err := links.Issue(ctx, "u1", gatehouse.LinkReset, "a@example.test")
			if err != nil || first == second {
				t.Fatalf("second issue: %v (same secret: %v)", err, first == second)
			}
			if _, err := links.Redeem(ctx, first, gatehouse.LinkReset); !errors.Is(err, emaillink.ErrInvalidLink) {
				t.Fatalf("older link = %v, want ErrInvalidLink", err)
			}
			if _, err := links.Redeem(ctx, second, gatehouse.LinkReset); err != nil {
				t.Fatalf("newest link = %v", err)
			}
		})
	}
}

func TestPurposeIsChecked(t *testing.T) {
	ctx := context.Background()
	links := emaillink.New(memory.NewEmailLinkStore(), emaillink.Config{})
	secret, _, _ := links.Issue(ctx, "u1", gatehouse.LinkVerify, "a@example.test")
	if _, err := links.Redeem(ctx, secret, gatehouse.LinkReset); !errors.Is(err, emaillink.ErrInvalidLink) {
		t.Fatalf("a verification link resets a password: %v", err)
	}
	if _, err := links.Redeem(ctx, secret, gatehouse.LinkVerify); err != nil {
		t.Fatalf("the verification link was spent by the wrong use: %v", err)
	}
	if _, _, err := links.Issue(ctx, "u1", "login", "a@example.test"); err == nil {
		t.Fatal("issued a link of an unknown purpose")
	}
}

func TestMalformedSecretsAreInvalid(t *testing.T) {
	ctx := context.Background()
	links := emaillink.New(memory.NewEmailLinkStore(), emaillink.Config{})
	secret, _, _ := links.Issue(ctx, "u1", gatehouse.LinkReset, "a@example.test")
	for _, bad := range []string{"", "x", secret[:42], secret + "A", strings.ToUpper(secret[:1]) + "+" + secret[2:],
		secret[:42] + "=", strings.Repeat("A", 43) + "\x00", "' OR 1=1 --", strings.Repeat("a", 10000)} {
		if _, err := links.Redeem(ctx, bad, gatehouse.LinkReset); !errors.Is(err, emaillink.ErrInvalidLink) {
			t.Errorf("Redeem(%.50q) = %v, want ErrInvalidLink", bad, err)
		}
	}
	if _, err := links.Redeem(ctx, secret, gatehouse.LinkReset); err != nil {
		t.Fatalf("the real secret after the malformed ones: %v", err)
	}
}

func TestConcurrentRedemptionsOneWins(t *testing.T) {
	for name, st := range stores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			links := emaillink.New(st, emaillink.Config{})
			secret, _, _ := links.Issue(ctx, "u1", gatehouse.LinkReset, "a@example.test")
			var wg sync.WaitGroup
			results := make(chan error, 10)
			for range 10 {
				wg.Go(func() { _, err := links.Redeem(ctx, secret, gatehouse.LinkReset); results <- err })
			}
			wg.Wait()
			close(results)
			wins := 0
			for err := range results {
				switch {
				case err == nil:
					wins++
				case !errors.Is(err, emaillink.ErrInvalidLink):
					t.Errorf("Redeem: %v", err)
				}
			}
			if wins != 1 {
				t.Fatalf("%d of 10 concurrent redemptions won, want 1", wins)
			}
		})
	}
}

func TestRevoke(t *testing.T) {
	ctx := context.Background()
	links := emaillink.New(memory.NewEmailLinkStore(), emaillink.Config{})
	r, _, _ := links.Issue(ctx, "u1", gatehouse.LinkReset, "a@example.test")
	v, _, _ := links.Issue(ctx, "u1", gatehouse.LinkVerify, "a@example.test")
	if err := links.Revoke(ctx, "u1", ""); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		s string
		p gatehouse.LinkPurpose
	}{{r, gatehouse.LinkReset}, {v, gatehouse.LinkVerify}} {
		if _, err := links.Redeem(ctx, c.s, c.p); !errors.Is(err, emaillink.ErrInvalidLink) {
			t.Errorf("%s link after Revoke: %v", c.p, err)
		}
	}
}
