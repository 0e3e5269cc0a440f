package mfa_test

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

const (
	testRPID   = "login.example.test"
	testOrigin = "https://login.example.test"
)

// env is one deployment: stores that several instances (services) share, and a clock.
type env struct {
	t          *testing.T
	clock      *testkit.Clock
	factors    *memory.FactorStore
	challenges *memory.ChallengeStore
	key        []byte
}

func newEnv(t *testing.T) *env {
	t.Helper()
	key := make([]byte, mfa.KeySize)
	_, _ = rand.Read(key)
	return &env{t: t, clock: testkit.NewClock(), factors: memory.NewFactorStore(),
		challenges: memory.NewChallengeStore(), key: key}
}

// instance returns a service on the env's stores, as one more server instance would be.
func (e *env) instance() *mfa.Service {
	e.t.Helper()
	sealer, err := mfa.NewSealer(e.key)
	if err != nil {
		e.t.Fatal(err)
	}
	s, err := mfa.New(mfa.Config{Factors: e.factors, Challenges: e.challenges, Sealer: sealer, Now: e.clock.Now,
		WebAuthn: &mfa.WebAuthnConfig{RPID: testRPID, Origins: []string{testOrigin}}})
	if err != nil {
		e.t.Fatal(err)
	}
	return s
}

func newUser(name string) *gatehouse.User {
	return storetest.NewTestUser(name, time.Now().UTC())
}

// code returns the TOTP code of secret at t.
func code(t *testing.T, secret string, at time.Time) string {
	t.Helper()
	c, err := totp.GenerateCodeCustom(secret, at, totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// enrolTOTP enrols and confirms TOTP for u and returns the secret and the recovery codes. The
// clock is moved to the next step, so that the confirming code is not the next one's.
func enrolTOTP(t *testing.T, e *env, s *mfa.Service, u *gatehouse.User) (string, []string) {
	t.Helper()
	ctx := context.Background()
	en, err := s.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	codes, err := s.ConfirmTOTP(ctx, u.ID, code(t, en.Secret, e.clock.Now()))
	if err != nil {
		t.Fatalf("ConfirmTOTP: %v", err)
	}
	e.clock.Advance(30 * time.Second)
	return en.Secret, codes
}

func wantErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
}

func errorsIs(err, target error) bool { return errors.Is(err, target) }
