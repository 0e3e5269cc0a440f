package mfa_test

import (
	"bytes"
	"context"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/webauthntest"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

// TestPendingSecondStepAsksAgain: a second step that is still waiting gives back the same
// assertion request (challenge, relying party, allowed keys), and an answer to it passes; a
// used, unknown or other-purpose token gives nothing.
func TestPendingSecondStepAsksAgain(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("pat")
	a := webauthntest.New(testOrigin)
	cred, _ := register(t, s, a, u, "key")
	p, err := s.StartSecondStep(ctx, u.ID, gatehouse.AuthSession, []string{gatehouse.AMRPassword})
	if err != nil {
		t.Fatal(err)
	}
	again, err := e.instance().PendingSecondStep(ctx, p.Token)
	if err != nil {
		t.Fatal(err)
	}
	first, second := p.WebAuthn.Response, again.WebAuthn.Response
	if !bytes.Equal(first.Challenge, second.Challenge) || second.RelyingPartyID != testRPID ||
		second.UserVerification != first.UserVerification || len(second.AllowedCredentials) != 1 ||
		!bytes.Equal(second.AllowedCredentials[0].CredentialID, cred.ID) || second.Timeout <= 0 {
		t.Fatalf("asked again: %+v, first: %+v", second, first)
	}
	if len(again.Methods) != len(p.Methods) || again.Token != p.Token {
		t.Fatalf("methods %v, want %v", again.Methods, p.Methods)
	}
	answer, err := a.Get(mustJSON(t, again.WebAuthn))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: gatehouse.FactorWebAuthn, WebAuthn: answer}); err != nil {
		t.Fatalf("the answer to the request asked again: %v", err)
	}
	_, err = s.PendingSecondStep(ctx, p.Token)
	wantErr(t, err, mfa.ErrInvalidChallenge)
	_, err = s.PendingSecondStep(ctx, "not a token")
	wantErr(t, err, mfa.ErrInvalidChallenge)
	passkey, err := s.BeginPasskeyLogin(ctx, gatehouse.AuthSession)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.PendingSecondStep(ctx, passkey.Token)
	wantErr(t, err, mfa.ErrInvalidChallenge)
}
