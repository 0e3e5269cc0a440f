package mfa_test

import (
	"bytes"
	"context"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

func TestTOTPEnrolmentCountsOnlyOnceConfirmed(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("alice")
	en, err := s.BeginTOTP(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	link, err := url.Parse(en.URL)
	if err != nil || link.Scheme != "otpauth" || link.Host != "totp" || link.Query().Get("secret") != en.Secret ||
		link.Query().Get("issuer") != mfa.DefaultIssuer || link.Path != "/"+mfa.DefaultIssuer+":alice" {
		t.Fatalf("otpauth URL %q (%v)", en.URL, err)
	}
	if len(en.Secret) != 32 { // 20 bytes in base32
		t.Fatalf("secret %q: want 160 bits", en.Secret)
	}
	stored, _, _ := e.factors.TOTP(ctx, u.ID)
	if bytes.Contains(stored.Sealed, []byte(en.Secret)) {
		t.Fatal("the store holds the TOTP secret in clear")
	}
	// Pending: no factor yet, and its codes sign nobody in.
	if m, err := s.Methods(ctx, u.ID); err != nil || len(m) != 0 {
		t.Fatalf("methods of a pending enrolment = %v, %v; want none", m, err)
	}
	wantErr(t, s.VerifyTOTP(ctx, u.ID, code(t, en.Secret, e.clock.Now())), mfa.ErrNoFactor)
	_, err = s.ConfirmTOTP(ctx, u.ID, "000000")
	if code(t, en.Secret, e.clock.Now()) != "000000" {
		wantErr(t, err, mfa.ErrInvalidCode)
	}
	codes, err := s.ConfirmTOTP(ctx, u.ID, code(t, en.Secret, e.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	if len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("confirmation gave %d recovery codes, want %d", len(codes), mfa.RecoveryCodeCount)
	}
	if m, _ := s.Methods(ctx, u.ID); !slices.Equal(m, []string{gatehouse.FactorTOTP, gatehouse.FactorRecoveryCode}) {
		t.Fatalf("methods = %v", m)
	}
	// The confirming code is used: it cannot sign in.
	wantErr(t, s.VerifyTOTP(ctx, u.ID, code(t, en.Secret, e.clock.Now())), mfa.ErrCodeUsed)
	_, err = s.ConfirmTOTP(ctx, u.ID, code(t, en.Secret, e.clock.Now()))
	wantErr(t, err, mfa.ErrEnrolled)
	_, err = s.BeginTOTP(ctx, u)
	wantErr(t, err, mfa.ErrEnrolled)
}

func TestTOTPConfirmWithoutEnrolment(t *testing.T) {
	s := newEnv(t).instance()
	_, err := s.ConfirmTOTP(context.Background(), newUser("nobody").ID, "123456")
	wantErr(t, err, mfa.ErrNoEnrolment)
}

func TestTOTPNewEnrolmentReplacesPending(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("rita")
	first, _ := s.BeginTOTP(ctx, u)
	second, err := s.BeginTOTP(ctx, u)
	if err != nil || first.Secret == second.Secret {
		t.Fatalf("second enrolment: %v (same secret: %v)", err, first.Secret == second.Secret)
	}
	if c1, c2 := code(t, first.Secret, e.clock.Now()), code(t, second.Secret, e.clock.Now()); c1 != c2 {
		_, err = s.ConfirmTOTP(ctx, u.ID, c1)
		wantErr(t, err, mfa.ErrInvalidCode)
	}
	if _, err := s.ConfirmTOTP(ctx, u.ID, code(t, second.Secret, e.clock.Now())); err != nil {
		t.Fatal(err)
	}
}

func TestTOTPSkewIsOneStep(t *testing.T) {
	ctx := context.Background()
	for _, c := range []struct {
		name   string
		offset time.Duration
		ok     bool
	}{
		{"previous step", -30 * time.Second, true},
		{"current step", 0, true},
		{"next step", 30 * time.Second, true},
		{"two steps back", -60 * time.Second, false},
		{"two steps ahead", 60 * time.Second, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			s := e.instance()
			u := newUser("sam")
			secret, _ := enrolTOTP(t, e, s, u)
			e.clock.Advance(10 * time.Minute) // far from the confirming code's step
			err := s.VerifyTOTP(ctx, u.ID, code(t, secret, e.clock.Now().Add(c.offset)))
			if c.ok && err != nil {
				t.Fatalf("a code %v away: %v", c.offset, err)
			}
			if !c.ok {
				wantErr(t, err, mfa.ErrInvalidCode)
			}
		})
	}
}

func TestTOTPReplayRefusedOnEveryInstance(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	one, two := e.instance(), e.instance()
	u := newUser("rex")
	secret, _ := enrolTOTP(t, e, one, u)
	c := code(t, secret, e.clock.Now())
	if err := one.VerifyTOTP(ctx, u.ID, c); err != nil {
		t.Fatal(err)
	}
	wantErr(t, one.VerifyTOTP(ctx, u.ID, c), mfa.ErrCodeUsed)
	wantErr(t, two.VerifyTOTP(ctx, u.ID, c), mfa.ErrCodeUsed)
	// Still refused later in the code's window (it stays valid for one more step).
	e.clock.Advance(30 * time.Second)
	wantErr(t, two.VerifyTOTP(ctx, u.ID, c), mfa.ErrCodeUsed)
	// The previous step's code is refused once a later one was used, too.
	next := code(t, secret, e.clock.Now())
	if err := two.VerifyTOTP(ctx, u.ID, next); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(30 * time.Second)
	wantErr(t, one.VerifyTOTP(ctx, u.ID, next), mfa.ErrCodeUsed)
	if err := one.VerifyTOTP(ctx, u.ID, code(t, secret, e.clock.Now())); err != nil {
		t.Fatalf("the next step's code: %v", err)
	}
}

func TestTOTPConcurrentUseOneWins(t *testing.T) {
	e := newEnv(t)
	instances := []*mfa.Service{e.instance(), e.instance(), e.instance()}
	u := newUser("cora")
	secret, _ := enrolTOTP(t, e, instances[0], u)
	c := code(t, secret, e.clock.Now())
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 12 {
		wg.Go(func() {
			if instances[i%3].VerifyTOTP(context.Background(), u.ID, c) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one code passed, want exactly 1", wins.Load())
	}
}

func TestTOTPMalformedCodes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("mal")
	secret, _ := enrolTOTP(t, e, s, u)
	good := code(t, secret, e.clock.Now())
	for _, bad := range []string{"", "12345", "1234567", "abcdef", " " + good[:5], good + " ", "١٢٣٤٥٦", "12345\x00"} {
		wantErr(t, s.VerifyTOTP(ctx, u.ID, bad), mfa.ErrInvalidCode)
	}
	if err := s.VerifyTOTP(ctx, u.ID, good); err != nil {
		t.Fatalf("a good code after malformed ones: %v", err)
	}
}

func TestTOTPRemoveDropsRecoveryCodesWithTheLastFactor(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("remy")
	secret, codes := enrolTOTP(t, e, s, u)
	if err := s.RemoveTOTP(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.RemoveTOTP(ctx, u.ID), mfa.ErrNoFactor)
	if m, _ := s.Methods(ctx, u.ID); len(m) != 0 {
		t.Fatalf("methods after removal = %v", m)
	}
	wantErr(t, s.VerifyTOTP(ctx, u.ID, code(t, secret, e.clock.Now())), mfa.ErrNoFactor)
	wantErr(t, s.UseRecoveryCode(ctx, u.ID, codes[0]), mfa.ErrInvalidCode)
}
