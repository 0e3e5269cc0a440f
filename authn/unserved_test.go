package authn_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/memory"
)

// TestLoginRefusesAFactorThisServerCannotCheck: with second factors kept in the store but no
// service to check them (no factor key), a user who has a confirmed authenticator app or a
// security key is refused after a correct password, with nothing issued; a pending enrolment
// or no factor signs in as before; a wrong password is still just a wrong password.
func TestLoginRefusesAFactorThisServerCannotCheck(t *testing.T) {
	ctx := context.Background()
	factors := memory.NewFactorStore()
	f := newFixtureWith(t, func(d *authn.Deps) { d.UnservedFactors = factors })
	totpUser, keyUser, pendingUser, plain := f.user(t, "tess"), f.user(t, "kim"), f.user(t, "pat"), f.user(t, "noor")

	for _, u := range []*gatehouse.User{totpUser, pendingUser} {
		if err := factors.PutPendingTOTP(ctx, &gatehouse.TOTPFactor{ID: "e-" + u.ID, UserID: u.ID, Sealed: []byte("sealed"), CreatedAt: f.clock.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if ok, err := factors.ConfirmTOTP(ctx, totpUser.ID, "e-"+totpUser.ID, 1, f.clock.Now()); err != nil || !ok {
		t.Fatalf("confirm: %v %v", ok, err)
	}
	if err := factors.CreateWebAuthnCredential(ctx, &gatehouse.WebAuthnCredential{ID: []byte("key-1"), UserID: keyUser.ID, Name: "key", CreatedAt: f.clock.Now()}); err != nil {
		t.Fatal(err)
	}

	for _, u := range []*gatehouse.User{totpUser, keyUser} {
		for _, mode := range []string{gatehouse.AuthSession, gatehouse.AuthToken} {
			res, err := f.svc.Login(ctx, authn.LoginInput{Username: u.Username, Password: goodPassword, Mode: mode, Client: client})
			if !errors.Is(err, authn.ErrSecondFactorUnavailable) || gatehouse.ErrorCode(err) != gatehouse.EUNAVAILABLE {
				t.Fatalf("%s (%s): %v, want the second factor unavailable", u.Username, mode, err)
			}
			if res.Session != nil || res.Tokens != nil {
				t.Fatalf("%s (%s): a credential was issued: %+v", u.Username, mode, res)
			}
		}
		_, err := f.svc.Login(ctx, authn.LoginInput{Username: u.Username, Password: "not the password at all", Mode: gatehouse.AuthSession, Client: client})
		if !errors.Is(err, gatehouse.ErrInvalidCredentials) {
			t.Fatalf("%s with a wrong password: %v", u.Username, err)
		}
	}
	for _, u := range []*gatehouse.User{pendingUser, plain} {
		f.login(t, u.Username, goodPassword, gatehouse.AuthSession)
	}
}
