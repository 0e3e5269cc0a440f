package mfa_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

var pwd = []string{gatehouse.AMRPassword}

func TestSecondStepNotNeededWithoutFactor(t *testing.T) {
	s := newEnv(t).instance()
	_, err := s.StartSecondStep(context.Background(), newUser("plain").ID, "session", pwd)
	wantErr(t, err, mfa.ErrNoFactor)
}

func TestSecondStepWithTOTP(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("tina")
	secret, _ := enrolTOTP(t, e, s, u)
	p, err := s.StartSecondStep(ctx, u.ID, "token", pwd)
	if err != nil {
		t.Fatal(err)
	}
	if !gatehouse.ValidSecret(p.Token) || !slices.Equal(p.Methods, []string{"totp", "recovery_code"}) || p.WebAuthn != nil {
		t.Fatalf("pending = %+v", p)
	}
	// The store keeps only the token's hash.
	if _, found, _ := e.challenges.FindChallenge(ctx, gatehouse.HashSecret(p.Token), e.clock.Now()); !found {
		t.Fatal("no challenge under the token's hash")
	}
	// A wrong code leaves the token alive; the right one passes.
	c := code(t, secret, e.clock.Now())
	wrong := "000000"
	if c == wrong {
		wrong = "111111"
	}
	_, err = s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "totp", Code: wrong})
	wantErr(t, err, mfa.ErrInvalidCode)
	passed, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "totp", Code: c})
	if err != nil {
		t.Fatal(err)
	}
	if passed.UserID != u.ID || passed.Mode != "token" || !slices.Equal(passed.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("passed = %+v", passed)
	}
	// Single use, on every instance.
	e.clock.Advance(30 * time.Second)
	for _, inst := range []*mfa.Service{s, e.instance()} {
		_, err = inst.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "totp", Code: code(t, secret, e.clock.Now())})
		wantErr(t, err, mfa.ErrInvalidChallenge)
	}
}

func TestSecondStepWithRecoveryCode(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("rick")
	_, codes := enrolTOTP(t, e, s, u)
	p, err := s.StartSecondStep(ctx, u.ID, "session", pwd)
	if err != nil {
		t.Fatal(err)
	}
	passed, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "recovery_code", Code: codes[4]})
	if err != nil || passed.Mode != "session" || !slices.Equal(passed.AMR, []string{"pwd", "otp", "mfa"}) {
		t.Fatalf("passed = %+v, %v", passed, err)
	}
	p2, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	_, err = s.FinishSecondStep(ctx, p2.Token, mfa.Proof{Method: "recovery_code", Code: codes[4]})
	wantErr(t, err, mfa.ErrInvalidCode)
}

func TestSecondStepTokenExpires(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("exp")
	_, codes := enrolTOTP(t, e, s, u)
	p, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	e.clock.Advance(mfa.DefaultChallengeTTL - time.Second)
	late, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	if _, err := s.FinishSecondStep(ctx, late.Token, mfa.Proof{Method: "recovery_code", Code: codes[0]}); err != nil {
		t.Fatalf("a fresh token: %v", err)
	}
	e.clock.Advance(time.Second)
	_, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "recovery_code", Code: codes[1]})
	wantErr(t, err, mfa.ErrInvalidChallenge)
	// The expired attempt did not use the code up.
	if err := s.UseRecoveryCode(ctx, u.ID, codes[1]); err != nil {
		t.Fatalf("the code of an expired attempt: %v", err)
	}
}

func TestSecondStepRefusesOtherTokensAndMethods(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("tom")
	secret, codes := enrolTOTP(t, e, s, u)
	c := code(t, secret, e.clock.Now())
	reg, err := s.BeginWebAuthnRegistration(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	passkey, _ := s.BeginPasskeyLogin(ctx, "session")
	for _, tok := range []string{"", "x", gatehouse.NewSecret(), reg.Token, passkey.Token, gatehouse.NewSecret() + "A"} {
		_, err := s.FinishSecondStep(ctx, tok, mfa.Proof{Method: "totp", Code: c})
		wantErr(t, err, mfa.ErrInvalidChallenge)
	}
	p, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	for _, m := range []string{"webauthn", "password", "", "TOTP"} {
		_, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: m, Code: codes[0]})
		wantErr(t, err, mfa.ErrMethodUnavailable)
	}
	// The refused attempts neither used the code nor the token.
	if _, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "totp", Code: c}); err != nil {
		t.Fatal(err)
	}
}

// TestSecondStepAfterFactorRemoved: a token started while the user had TOTP does not pass once
// the factor is gone.
func TestSecondStepAfterFactorRemoved(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("gone")
	secret, codes := enrolTOTP(t, e, s, u)
	p, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	if err := s.RemoveAll(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	_, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "totp", Code: code(t, secret, e.clock.Now())})
	wantErr(t, err, mfa.ErrMethodUnavailable)
	_, err = s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "recovery_code", Code: codes[0]})
	wantErr(t, err, mfa.ErrMethodUnavailable)
}
