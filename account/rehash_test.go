package account_test

import (
	"context"
	"encoding/base64"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
)

func storedParams(t *testing.T, store gatehouse.UserStore, id string) (argon2.Params, string) {
	t.Helper()
	u, err := store.UserByID(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	p, _, _, err := argon2.Decode(u.PasswordHash)
	if err != nil {
		t.Fatal(err)
	}
	return p, u.PasswordHash
}

func TestLoginRehashesOnNewParams(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	a := newService(t, store, small, account.Policy{})
	u := mustCreate(t, a, account.NewUser{Username: "leo", Password: goodPassword})

	// Same params: nothing changes.
	if _, err := a.Login(ctx, "leo", goodPassword); err != nil {
		t.Fatal(err)
	}
	if _, hash := storedParams(t, store, u.ID); hash != u.PasswordHash {
		t.Fatal("login with unchanged params rewrote the hash")
	}

	// A wrong password never rehashes.
	b := newService(t, store, bigger, account.Policy{})
	if _, err := b.Login(ctx, "leo", "a wrong password!"); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Fatal(err)
	}
	if p, _ := storedParams(t, store, u.ID); p != small {
		t.Fatalf("a failed login changed the stored params to %+v", p)
	}

	got, err := b.Login(ctx, "leo", goodPassword)
	if err != nil {
		t.Fatal(err)
	}
	p, hash := storedParams(t, store, u.ID)
	if p != bigger {
		t.Fatalf("after login with new params, stored params = %+v, want %+v", p, bigger)
	}
	if got.PasswordHash != hash {
		t.Fatal("Login returned the user with its old hash")
	}
	if _, err := b.Login(ctx, "leo", goodPassword); err != nil {
		t.Fatalf("login after rehash: %v", err)
	}
	if _, again := storedParams(t, store, u.ID); again != hash {
		t.Fatal("second login with the same params rehashed again")
	}
}

// failingUpdates is the real store with UpdateUser broken.
type failingUpdates struct{ gatehouse.UserStore }

func (failingUpdates) UpdateUser(context.Context, string, gatehouse.UserUpdate) (*gatehouse.User, error) {
	return nil, gatehouse.Unavailable("test", errors.New("disk on fire"))
}

func TestLoginRehashFailureIsNotFatal(t *testing.T) {
	store := openStore(t)
	u := mustCreate(t, newService(t, store, small, account.Policy{}), account.NewUser{Username: "mallory", Password: goodPassword})
	b := newService(t, failingUpdates{store}, bigger, account.Policy{})
	got, err := b.Login(context.Background(), "mallory", goodPassword)
	if err != nil || got.ID != u.ID {
		t.Fatalf("Login with a failing rehash = %v, %v; want the user", got, err)
	}
	if p, _ := storedParams(t, store, u.ID); p != small {
		t.Fatalf("stored params = %+v, want the old ones", p)
	}
}

// racingPasswordChange changes the password (as an admin would) just when Login re-reads the
// user before storing the rehash.
type racingPasswordChange struct {
	gatehouse.UserStore
	newHash string
}

func (r *racingPasswordChange) UserByID(ctx context.Context, id string) (*gatehouse.User, error) {
	if r.newHash != "" {
		if _, err := r.UserStore.UpdateUser(ctx, id, gatehouse.UserUpdate{PasswordHash: &r.newHash}); err != nil {
			return nil, err
		}
	}
	return r.UserStore.UserByID(ctx, id)
}

func TestLoginRehashKeepsAConcurrentPasswordChange(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	u := mustCreate(t, newService(t, store, small, account.Policy{}), account.NewUser{Username: "niaj", Password: goodPassword})
	newHash, err := argon2.New(argon2.Options{Params: small}).Hash(ctx, "the admin's new password")
	if err != nil {
		t.Fatal(err)
	}
	b := newService(t, &racingPasswordChange{UserStore: store, newHash: newHash}, bigger, account.Policy{})
	if _, err := b.Login(ctx, "niaj", goodPassword); err != nil {
		t.Fatal(err)
	}
	if _, hash := storedParams(t, store, u.ID); hash != newHash {
		t.Fatal("the rehash of the old password overwrote a password change")
	}
}

func TestBootstrapGenerated(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := newService(t, store, small, account.Policy{})
	created, generated, err := s.Bootstrap(ctx, "")
	if err != nil || !created {
		t.Fatalf("Bootstrap(\"\") = %v, %q, %v", created, generated, err)
	}
	if raw, err := base64.RawURLEncoding.DecodeString(generated); len(generated) < 20 || err != nil || len(raw) < 15 {
		t.Fatalf("generated password %q: want at least 20 base64url characters (%v)", generated, err)
	}
	u, err := s.Login(ctx, account.BootstrapUsername, generated)
	if err != nil || u.Role != gatehouse.RoleAdmin || u.Username != "admin" {
		t.Fatalf("login as the bootstrap admin = %+v, %v", u, err)
	}

	// Idempotent: a second start does nothing, whatever the password.
	for _, pw := range []string{"", "another admin password"} {
		created, again, err := s.Bootstrap(ctx, pw)
		if err != nil || created || again != "" {
			t.Fatalf("second Bootstrap(%q) = %v, %q, %v; want false, \"\", nil", pw, created, again, err)
		}
	}
	if n, _ := store.CountUsers(ctx); n != 1 {
		t.Fatalf("CountUsers = %d, want 1", n)
	}
	if _, err := s.Login(ctx, "admin", generated); err != nil {
		t.Fatalf("the first password stopped working: %v", err)
	}

	// Two generated passwords differ.
	other := newService(t, openStore(t), small, account.Policy{})
	if _, second, _ := other.Bootstrap(ctx, ""); second == generated || second == "" {
		t.Fatalf("second generated password %q", second)
	}
}

func TestBootstrapGivenPassword(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := newService(t, store, small, account.Policy{})

	created, generated, err := s.Bootstrap(ctx, "short")
	wantBadRequest(t, "Bootstrap(short)", err, "password")
	if created || generated != "" {
		t.Fatalf("Bootstrap(short) = %v, %q", created, generated)
	}
	if n, _ := store.CountUsers(ctx); n != 0 {
		t.Fatalf("a refused bootstrap stored %d users", n)
	}

	created, generated, err = s.Bootstrap(ctx, "ｔｈｅ ｆｉｒｓｔ ａｄｍｉｎ ｐａｓｓｗｏｒｄ")
	if err != nil || !created || generated != "" {
		t.Fatalf("Bootstrap(given) = %v, %q, %v; want true, \"\", nil", created, generated, err)
	}
	if u, err := s.Login(ctx, "ADMIN", "ｔｈｅ ｆｉｒｓｔ ａｄｍｉｎ ｐａｓｓｗｏｒｄ"); err != nil || u.Role != gatehouse.RoleAdmin {
		t.Fatalf("login = %+v, %v", u, err)
	}
}

func TestBootstrapWithUsers(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	s := newService(t, store, small, account.Policy{})
	mustCreate(t, s, account.NewUser{Username: "pat", Password: goodPassword})
	created, generated, err := s.Bootstrap(ctx, "")
	if err != nil || created || generated != "" {
		t.Fatalf("Bootstrap with a user present = %v, %q, %v; want nothing done", created, generated, err)
	}
	if _, err := store.UserByUsername(ctx, "admin"); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("admin exists: %v", err)
	}
}

func TestBootstrapLongPolicy(t *testing.T) {
	s := newService(t, openStore(t), small, account.Policy{MinPasswordLength: 50})
	created, generated, err := s.Bootstrap(context.Background(), "")
	if err != nil || !created || len(generated) < 50 {
		t.Fatalf("Bootstrap under a 50-character policy = %v, %d characters, %v", created, len(generated), err)
	}
}

// staleCount answers CountUsers as it was before another instance created the admin.
type staleCount struct{ gatehouse.UserStore }

func (staleCount) CountUsers(context.Context) (int, error) { return 0, nil }

func TestBootstrapRaceLost(t *testing.T) {
	ctx := context.Background()
	store := openStore(t)
	if created, _, err := newService(t, store, small, account.Policy{}).Bootstrap(ctx, ""); err != nil || !created {
		t.Fatalf("first instance: %v, %v", created, err)
	}
	created, generated, err := newService(t, staleCount{store}, small, account.Policy{}).Bootstrap(ctx, "")
	if err != nil || created || generated != "" {
		t.Fatalf("instance that lost the race = %v, %q, %v; want false, \"\", nil", created, generated, err)
	}
}
