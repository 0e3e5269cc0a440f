package mfa_test

import (
	"context"
	"encoding/json"
	"slices"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/webauthntest"
	"github.com/gatehouse-auth/gatehouse/mfa"
)

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// register registers a credential of a with u and returns it.
func register(t *testing.T, s *mfa.Service, a *webauthntest.Authenticator, u *gatehouse.User, name string) (*gatehouse.WebAuthnCredential, []string) {
	t.Helper()
	ctx := context.Background()
	reg, err := s.BeginWebAuthnRegistration(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := a.Create(mustJSON(t, reg.Options))
	if err != nil {
		t.Fatal(err)
	}
	cred, codes, err := s.FinishWebAuthnRegistration(ctx, u.ID, reg.Token, name, resp)
	if err != nil {
		t.Fatalf("FinishWebAuthnRegistration: %v", err)
	}
	return cred, codes
}

func TestWebAuthnRegisterAndSecondStep(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("wendy")
	a := webauthntest.New(testOrigin)
	cred, codes := register(t, s, a, u, "  work laptop ")
	if cred.Name != "work laptop" || !cred.Discoverable || !cred.UserVerified || cred.BackupEligible || len(codes) != mfa.RecoveryCodeCount {
		t.Fatalf("credential %+v, %d codes", cred, len(codes))
	}
	// A second key: no new recovery codes, and the first key is excluded.
	reg, _ := s.BeginWebAuthnRegistration(ctx, u)
	if _, err := a.Create(mustJSON(t, reg.Options)); err == nil {
		t.Fatal("the same authenticator registered twice: its credential was not excluded")
	}
	second := webauthntest.New(testOrigin)
	second.BackupEligible = true
	cred2, codes2 := register(t, s, second, u, "")
	if cred2.Name != "Security key" || !cred2.BackupEligible || codes2 != nil {
		t.Fatalf("second credential %+v, codes %v", cred2, codes2)
	}
	p, err := s.StartSecondStep(ctx, u.ID, "session", pwd)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(p.Methods, []string{"webauthn", "recovery_code"}) || p.WebAuthn == nil || len(p.WebAuthn.Response.AllowedCredentials) != 2 {
		t.Fatalf("pending = %+v", p)
	}
	resp, err := a.Get(mustJSON(t, p.WebAuthn))
	if err != nil {
		t.Fatal(err)
	}
	passed, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "webauthn", WebAuthn: resp})
	if err != nil {
		t.Fatal(err)
	}
	if passed.UserID != u.ID || !slices.Equal(passed.AMR, []string{"pwd", "hwk", "mfa"}) || string(passed.Credential) != string(cred.ID) {
		t.Fatalf("passed = %+v", passed)
	}
	stored, _, _ := e.factors.WebAuthnCredentialByID(ctx, cred.ID)
	if stored.SignCount != 1 || stored.LastUsedAt.IsZero() {
		t.Fatalf("use not recorded: %+v", stored)
	}
	// A synced passkey is "swk".
	p2, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	resp2, _ := second.Get(mustJSON(t, p2.WebAuthn))
	passed2, err := s.FinishSecondStep(ctx, p2.Token, mfa.Proof{Method: "webauthn", WebAuthn: resp2})
	if err != nil || !slices.Equal(passed2.AMR, []string{"pwd", "swk", "mfa"}) {
		t.Fatalf("passed = %+v, %v", passed2, err)
	}
	// The answer replayed, with its token or another one, passes no more.
	_, err = s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "webauthn", WebAuthn: resp})
	wantErr(t, err, mfa.ErrInvalidChallenge)
	p3, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	_, err = s.FinishSecondStep(ctx, p3.Token, mfa.Proof{Method: "webauthn", WebAuthn: resp})
	wantErr(t, err, mfa.ErrWebAuthnFailed)
}

// TestWebAuthnOriginAndRPIDChecked: answers made for another origin or relying party, as a
// phishing site would relay them, are refused at registration and at sign-in.
func TestWebAuthnOriginAndRPIDChecked(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("phil")
	for _, tamper := range []func(a *webauthntest.Authenticator){
		func(a *webauthntest.Authenticator) { a.Origin = "https://login.example.test.evil.test" },
		func(a *webauthntest.Authenticator) { a.Origin = "http://login.example.test" },
		func(a *webauthntest.Authenticator) { a.Origin = "https://other.example.test" },
		func(a *webauthntest.Authenticator) { a.RPIDOverride = "evil.test" },
	} {
		a := webauthntest.New(testOrigin)
		tamper(a)
		reg, _ := s.BeginWebAuthnRegistration(ctx, u)
		resp, err := a.Create(mustJSON(t, reg.Options))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = s.FinishWebAuthnRegistration(ctx, u.ID, reg.Token, "", resp)
		wantErr(t, err, mfa.ErrWebAuthnFailed)
	}
	if list, _ := e.factors.WebAuthnCredentials(ctx, u.ID); len(list) != 0 {
		t.Fatalf("%d credentials registered from the wrong origin", len(list))
	}
	a := webauthntest.New(testOrigin)
	register(t, s, a, u, "key")
	for _, origin := range []string{"https://evil.test", "https://login.example.test:8443"} {
		a.Origin = origin
		p, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
		resp, _ := a.Get(mustJSON(t, p.WebAuthn))
		_, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "webauthn", WebAuthn: resp})
		wantErr(t, err, mfa.ErrWebAuthnFailed)
	}
}

func TestWebAuthnClonedAuthenticatorRefused(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("clem")
	a := webauthntest.New(testOrigin)
	register(t, s, a, u, "key")
	for range 3 {
		p, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
		resp, _ := a.Get(mustJSON(t, p.WebAuthn))
		if _, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "webauthn", WebAuthn: resp}); err != nil {
			t.Fatal(err)
		}
	}
	a.Creds[0].SignCount = 1 // a copy of the key made after its first use
	p, _ := s.StartSecondStep(ctx, u.ID, "session", pwd)
	resp, _ := a.Get(mustJSON(t, p.WebAuthn))
	_, err := s.FinishSecondStep(ctx, p.Token, mfa.Proof{Method: "webauthn", WebAuthn: resp})
	wantErr(t, err, mfa.ErrWebAuthnFailed)
}

func TestWebAuthnRegistrationTokenBoundToUser(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	alice, mallory := newUser("alice"), newUser("mallory")
	reg, _ := s.BeginWebAuthnRegistration(ctx, alice)
	resp, _ := webauthntest.New(testOrigin).Create(mustJSON(t, reg.Options))
	_, _, err := s.FinishWebAuthnRegistration(ctx, mallory.ID, reg.Token, "", resp)
	wantErr(t, err, mfa.ErrInvalidChallenge)
	// Bad names change nothing and keep the token.
	for _, name := range []string{"a\nb", string(make([]byte, 65)), "\xff"} {
		_, _, err := s.FinishWebAuthnRegistration(ctx, alice.ID, reg.Token, name, resp)
		if gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
			t.Fatalf("name %q: %v, want bad_request", name, err)
		}
	}
	for _, bad := range [][]byte{nil, []byte("{}"), []byte(`{"id":"x","type":"public-key"}`), []byte("not json")} {
		reg, _ := s.BeginWebAuthnRegistration(ctx, alice)
		_, _, err := s.FinishWebAuthnRegistration(ctx, alice.ID, reg.Token, "", bad)
		wantErr(t, err, mfa.ErrWebAuthnFailed)
	}
	if list, _ := e.factors.WebAuthnCredentials(ctx, alice.ID); len(list) != 0 {
		t.Fatalf("%d credentials from refused registrations", len(list))
	}
}

func TestPasskeySignIn(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	u := newUser("pia")
	a := webauthntest.New(testOrigin)
	cred, _ := register(t, s, a, u, "phone")
	req, err := s.BeginPasskeyLogin(ctx, "token")
	if err != nil {
		t.Fatal(err)
	}
	if len(req.Options.Response.AllowedCredentials) != 0 || req.Options.Response.UserVerification != "required" {
		t.Fatalf("passkey options %+v: want no allow list and user verification required", req.Options.Response)
	}
	resp, err := a.Get(mustJSON(t, req.Options))
	if err != nil {
		t.Fatal(err)
	}
	passed, err := e.instance().FinishPasskeyLogin(ctx, req.Token, resp)
	if err != nil {
		t.Fatal(err)
	}
	if passed.UserID != u.ID || passed.Mode != "token" || !slices.Equal(passed.AMR, []string{"hwk", "mfa"}) || string(passed.Credential) != string(cred.ID) {
		t.Fatalf("passed = %+v", passed)
	}
	_, err = s.FinishPasskeyLogin(ctx, req.Token, resp)
	wantErr(t, err, mfa.ErrInvalidChallenge)
	// Without user verification a passkey is one factor: refused.
	a.UserVerified = false
	req2, _ := s.BeginPasskeyLogin(ctx, "session")
	resp2, _ := a.Get(mustJSON(t, req2.Options))
	_, err = s.FinishPasskeyLogin(ctx, req2.Token, resp2)
	wantErr(t, err, mfa.ErrWebAuthnFailed)
	// A removed credential signs nobody in.
	a.UserVerified = true
	if err := s.RemoveWebAuthnCredential(ctx, u.ID, cred.ID); err != nil {
		t.Fatal(err)
	}
	req3, _ := s.BeginPasskeyLogin(ctx, "session")
	resp3, _ := a.Get(mustJSON(t, req3.Options))
	_, err = s.FinishPasskeyLogin(ctx, req3.Token, resp3)
	wantErr(t, err, mfa.ErrWebAuthnFailed)
}

// TestPasskeyUserHandleMustMatch: an authenticator that names another user than the one who
// registered the credential is refused.
func TestPasskeyUserHandleMustMatch(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	victim, attacker := newUser("vic"), newUser("att")
	a := webauthntest.New(testOrigin)
	register(t, s, a, attacker, "mine")
	register(t, s, webauthntest.New(testOrigin), victim, "theirs")
	a.Creds[0].UserHandle = victimHandle(t, s, victim)
	req, _ := s.BeginPasskeyLogin(ctx, "session")
	resp, _ := a.Get(mustJSON(t, req.Options))
	_, err := s.FinishPasskeyLogin(ctx, req.Token, resp)
	wantErr(t, err, mfa.ErrWebAuthnFailed)
}

// victimHandle reads the user handle the server gives u from a registration's options.
func victimHandle(t *testing.T, s *mfa.Service, u *gatehouse.User) []byte {
	t.Helper()
	reg, err := s.BeginWebAuthnRegistration(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	var o struct {
		PublicKey struct {
			User struct {
				ID string `json:"id"`
			} `json:"user"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(mustJSON(t, reg.Options), &o); err != nil {
		t.Fatal(err)
	}
	b, ok := gatehouse.IDBytes(u.ID)
	if !ok {
		t.Fatal("test user id is not a NewID id")
	}
	return b[:]
}

func TestWebAuthnCredentialsOwnerOnly(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t)
	s := e.instance()
	owner, other := newUser("own"), newUser("oth")
	cred, _ := register(t, s, webauthntest.New(testOrigin), owner, "key")
	if err := s.RenameWebAuthnCredential(ctx, other.ID, cred.ID, "stolen"); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Fatalf("rename by another user = %v, want not_found", err)
	}
	if err := s.RemoveWebAuthnCredential(ctx, other.ID, cred.ID); gatehouse.ErrorCode(err) != gatehouse.ENOTFOUND {
		t.Fatalf("remove by another user = %v, want not_found", err)
	}
	if err := s.RenameWebAuthnCredential(ctx, owner.ID, cred.ID, "yubikey"); err != nil {
		t.Fatal(err)
	}
	sum, _ := s.Factors(ctx, owner.ID)
	if len(sum.WebAuthn) != 1 || sum.WebAuthn[0].Name != "yubikey" || sum.RecoveryCodes != 10 {
		t.Fatalf("summary = %+v", sum)
	}
	if err := s.RemoveWebAuthnCredential(ctx, owner.ID, cred.ID); err != nil {
		t.Fatal(err)
	}
	if sum, _ := s.Factors(ctx, owner.ID); len(sum.WebAuthn) != 0 || sum.RecoveryCodes != 0 {
		t.Fatalf("after removing the last factor: %+v", sum)
	}
}

func TestWebAuthnConfigChecked(t *testing.T) {
	sealer, _ := mfa.NewSealer(newKey())
	e := newEnv(t)
	for _, wc := range []mfa.WebAuthnConfig{
		{RPID: "example.test"},
		{Origins: []string{"https://example.test"}},
		{RPID: "example.test", Origins: []string{"http://example.test"}},
		{RPID: "example.test", Origins: []string{"https://example.test.evil.test"}},
		{RPID: "example.test", Origins: []string{"https://example.test/login"}},
		{RPID: "example.test", Origins: []string{"example.test"}},
		{RPID: "https://example.test", Origins: []string{"https://example.test"}},
	} {
		if _, err := mfa.New(mfa.Config{Factors: e.factors, Challenges: e.challenges, Sealer: sealer, WebAuthn: &wc}); err == nil {
			t.Errorf("config %+v accepted", wc)
		}
	}
	for _, wc := range []mfa.WebAuthnConfig{
		{RPID: "example.test", Origins: []string{"https://example.test", "https://login.example.test:8443"}},
		{RPID: "localhost", Origins: []string{"http://localhost:8080"}},
	} {
		if _, err := mfa.New(mfa.Config{Factors: e.factors, Challenges: e.challenges, Sealer: sealer, WebAuthn: &wc}); err != nil {
			t.Errorf("config %+v refused: %v", wc, err)
		}
	}
	s, _ := mfa.New(mfa.Config{Factors: e.factors, Challenges: e.challenges, Sealer: sealer})
	_, err := s.BeginWebAuthnRegistration(context.Background(), newUser("x"))
	wantErr(t, err, mfa.ErrWebAuthnDisabled)
	_, err = s.BeginPasskeyLogin(context.Background(), "session")
	wantErr(t, err, mfa.ErrWebAuthnDisabled)
}
