package mfa_test

import (
	"context"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gatehouse-auth/gatehouse/mfa"
)

var codeShape = regexp.MustCompile(`^[0-9a-hjkmnp-tv-z]{4}(-[0-9a-hjkmnp-tv-z]{4}){3}$`)

func TestRecoveryCodesSingleUse(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("rory")
	_, codes := enrolTOTP(t, e, s, u)
	seen := map[string]bool{}
	for _, c := range codes {
		if !codeShape.MatchString(c) || seen[c] {
			t.Fatalf("recovery code %q: bad shape or repeated", c)
		}
		seen[c] = true
	}
	if err := s.UseRecoveryCode(ctx, u.ID, codes[0]); err != nil {
		t.Fatal(err)
	}
	wantErr(t, s.UseRecoveryCode(ctx, u.ID, codes[0]), mfa.ErrInvalidCode)
	wantErr(t, e.instance().UseRecoveryCode(ctx, u.ID, codes[0]), mfa.ErrInvalidCode)
	// As a user may type it: upper case, without dashes, O for 0 and I or L for 1.
	typed := strings.ToUpper(strings.ReplaceAll(codes[1], "-", " "))
	typed = strings.NewReplacer("0", "O", "1", "I").Replace(typed)
	if err := s.UseRecoveryCode(ctx, u.ID, typed); err != nil {
		t.Fatalf("code typed as %q: %v", typed, err)
	}
	if n, _ := s.RecoveryCodesLeft(ctx, u.ID); n != 8 {
		t.Fatalf("%d codes left, want 8", n)
	}
	// Another user's code is no code of this user's.
	other := newUser("olga")
	_, theirs := enrolTOTP(t, e, s, other)
	wantErr(t, s.UseRecoveryCode(ctx, u.ID, theirs[0]), mfa.ErrInvalidCode)
	for _, bad := range []string{"", "x", codes[2] + "0", codes[2][:18], strings.Repeat("a", 100), "uuuu-uuuu-uuuu-uuuu", "ääää-ääää-ääää-ääää"} {
		wantErr(t, s.UseRecoveryCode(ctx, u.ID, bad), mfa.ErrInvalidCode)
	}
}

func TestRecoveryCodesRegenerateVoidsOld(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("reg")
	_, old := enrolTOTP(t, e, s, u)
	fresh, err := s.RegenerateRecoveryCodes(ctx, u.ID)
	if err != nil || len(fresh) != mfa.RecoveryCodeCount {
		t.Fatalf("RegenerateRecoveryCodes = %d codes, %v", len(fresh), err)
	}
	for _, c := range old {
		wantErr(t, s.UseRecoveryCode(ctx, u.ID, c), mfa.ErrInvalidCode)
	}
	if err := s.UseRecoveryCode(ctx, u.ID, fresh[9]); err != nil {
		t.Fatal(err)
	}
	_, err = s.RegenerateRecoveryCodes(ctx, newUser("none").ID)
	wantErr(t, err, mfa.ErrNoFactor)
}

func TestRecoveryCodeConcurrentUseOneWins(t *testing.T) {
	e := newEnv(t)
	instances := []*mfa.Service{e.instance(), e.instance()}
	u := newUser("cody")
	_, codes := enrolTOTP(t, e, instances[0], u)
	var wins atomic.Int32
	var wg sync.WaitGroup
	for i := range 10 {
		wg.Go(func() {
			if instances[i%2].UseRecoveryCode(context.Background(), u.ID, codes[3]) == nil {
				wins.Add(1)
			}
		})
	}
	wg.Wait()
	if wins.Load() != 1 {
		t.Fatalf("%d concurrent uses of one recovery code passed, want exactly 1", wins.Load())
	}
}
