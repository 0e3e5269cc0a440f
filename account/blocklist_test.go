package account_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
)

// listed is a small injected blocklist, so the account tests stay fast; the real list is tested
// in package blocklist and wired in cmd/gatehouse.
type listed map[string]bool

func (l listed) Contains(p string) bool { return l[strings.ToLower(p)] }

func TestBlockedPasswords(t *testing.T) {
	bl := listed{"password12345678": true, "ﬁnancial ﬁnancial": true}
	s := newService(t, openStore(t), small, account.Policy{MinPasswordLength: 8, Blocklist: bl})
	for _, pw := range []string{"password12345678", "PASSWORD12345678"} {
		_, err := s.ValidatePassword("", pw)
		wantBadRequest(t, pw, err, "password")
		if !strings.Contains(gatehouse.ErrorMessage(err), "common or breached") {
			t.Errorf("%q: message %q does not say why", pw, gatehouse.ErrorMessage(err))
		}
	}
	// The checker receives the prepared form (NFC; a no-break space becomes a space).
	if _, err := s.ValidatePassword("", "financial plans"); err != nil {
		t.Fatalf("unlisted password refused: %v", err)
	}
	bl["financial plans"] = true
	_, err := s.ValidatePassword("", "financial\u00a0plans")
	wantBadRequest(t, "no-break space", err, "password")
	// What is left without the username is checked too.
	bl["hunter2hunter3"] = true
	_, err = s.ValidatePassword("bob", "bobhunter2hunter3")
	wantBadRequest(t, "listed once the username is out", err, "password")
	// Create and HashPassword both apply it, before any hashing or storing (a password change
	// goes through HashPassword: see authn.Service.UpdateUser and its tests).
	_, err = s.Create(context.Background(), account.NewUser{Username: "bob", Password: "Password12345678"})
	wantBadRequest(t, "Create", err, "password")
	_, err = s.HashPassword(context.Background(), "bob", "password12345678")
	wantBadRequest(t, "HashPassword", err, "password")
	// No composition rules: a long password of lowercase letters and spaces is fine.
	if _, err := s.Create(context.Background(), account.NewUser{Username: "carol", Password: "lowercase words only"}); err != nil {
		t.Fatal(err)
	}
}

func TestPasswordIsNotTheUsername(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{MinPasswordLength: 8})
	_, err := s.Create(context.Background(), account.NewUser{Username: "Alice.Liddell@example", Password: "alice.liddell@EXAMPLE"})
	wantBadRequest(t, "password = username", err, "password")
}
