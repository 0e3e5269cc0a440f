package authn_test

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/token"
)

const goodPassword = "correct horse battery staple"

// journal records the order of the writes that matter to the revocation rule.
type journal struct {
	mu    sync.Mutex
	calls []string
}

func (j *journal) add(call string) {
	j.mu.Lock()
	j.calls = append(j.calls, call)
	j.mu.Unlock()
}

func (j *journal) list() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.calls...)
}

// recordingUsers and recordingRevocations are the memory stores with their writes journaled.
type recordingUsers struct {
	gatehouse.UserStore
	j *journal
}

func (u recordingUsers) UpdateUser(ctx context.Context, id string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	u.j.add("UpdateUser")
	return u.UserStore.UpdateUser(ctx, id, upd)
}

func (u recordingUsers) DeleteUser(ctx context.Context, id string) error {
	u.j.add("DeleteUser")
	return u.UserStore.DeleteUser(ctx, id)
}

type recordingRevocations struct {
	gatehouse.RevocationStore
	j *journal
}

func (r recordingRevocations) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	r.j.add("SetNotBefore")
	return r.RevocationStore.SetNotBefore(ctx, userID, t)
}

type fixture struct {
	svc   *authn.Service
	acct  *account.Service
	clock *testkit.Clock
	j     *journal
}

// listed is a password blocklist of a few entries.
type listed map[string]bool

func (l listed) Contains(p string) bool { return l[p] }

var client = authn.Client{IP: "192.0.2.1", UserAgent: "authn test"}

func newFixture(t *testing.T) *fixture { t.Helper(); return newFixtureWith(t, nil) }

// newFixtureWith is newFixture with edit applied to the dependencies before the service is made.
func newFixtureWith(t *testing.T, edit func(*authn.Deps)) *fixture {
	t.Helper()
	clock := testkit.NewSteppingClock(time.Millisecond)
	j := &journal{}
	users := recordingUsers{memory.NewUserStore(), j}
	hasher := argon2.New(argon2.Options{Params: argon2.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, MaxConcurrent: 2})
	acct := account.New(users, hasher, account.Policy{Blocklist: listed{"password12345678": true}}, clock.Now)
	keys, err := token.LoadKeySet(filepath.Join(t.TempDir(), "keys.json"), token.KeyOptions{Alg: "EdDSA", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewService(keys, token.Config{Issuer: "http://gatehouse.test", Audience: "gatehouse", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	revs := recordingRevocations{memory.NewRevocationStore(), j}
	deps := authn.Deps{
		Accounts: acct, Users: users, Tokens: tokens, Revocations: revs,
		Sessions: session.NewManager(memory.NewSessionStore(), revs, session.Options{Now: clock.Now}),
		Refresh:  refresh.NewRefresher(memory.NewRefreshStore(), 0, clock.Now),
		Throttle: memory.NewThrottle(memory.ThrottleOptions{Now: clock.Now}),
	}
	if edit != nil {
		edit(&deps)
	}
	svc := authn.New(deps, authn.Config{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	return &fixture{svc: svc, acct: acct, clock: clock, j: j}
}

func (f *fixture) user(t *testing.T, name string) *gatehouse.User {
	t.Helper()
	u, err := f.acct.Create(context.Background(), account.NewUser{Username: name, Password: goodPassword, Role: gatehouse.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (f *fixture) login(t *testing.T, name, password, mode string) authn.LoginResult {
	t.Helper()
	res, err := f.svc.Login(context.Background(), authn.LoginInput{Username: name, Password: password, Mode: mode, Client: client})
	if err != nil {
		t.Fatalf("Login(%s, %s): %v", name, mode, err)
	}
	if res.Step != authn.StepDone {
		t.Fatalf("Login step = %v, want StepDone", res.Step)
	}
	return res
}

func wantCode(t *testing.T, what string, err error, code string) {
	t.Helper()
	if gatehouse.ErrorCode(err) != code {
		t.Fatalf("%s: error %v, want code %s", what, err, code)
	}
}

// TestUpdateUserPassword: a new password is checked against the policy with the user's
// username, stored prepared, and the old one stops working.
func TestUpdateUserPassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user(t, "olivia")
	pw := "a brand new\u00a0passphrase"
	old, got, err := f.svc.UpdateUser(ctx, "", u.ID, authn.UserChange{Password: &pw}, client)
	if err != nil || got.ID != u.ID || got.PasswordHash == old.PasswordHash {
		t.Fatalf("UpdateUser(password) = %+v, %v", got, err)
	}
	if _, err := f.acct.Login(ctx, "olivia", "a brand new passphrase"); err != nil {
		t.Errorf("login with the new (prepared: no-break space as a space) password: %v", err)
	}
	if _, err := f.acct.Login(ctx, "olivia", goodPassword); !errors.Is(err, gatehouse.ErrInvalidCredentials) {
		t.Errorf("login with the old password: %v; want ErrInvalidCredentials", err)
	}
	for _, bad := range []string{"too short", "password12345678"} { // short; on the blocklist
		_, _, err = f.svc.UpdateUser(ctx, "", u.ID, authn.UserChange{Password: &bad}, client)
		wantCode(t, "UpdateUser("+bad+")", err, gatehouse.EBADREQUEST)
		if gatehouse.ErrorMessage(err)[:len("password:")] != "password:" {
			t.Errorf("UpdateUser(%q) names no field: %v", bad, err)
		}
	}
	if _, _, err := f.svc.UpdateUser(ctx, "", gatehouse.NewID(f.clock.Now()), authn.UserChange{Password: &pw}, client); !errors.Is(err, authn.ErrUserNotFound) {
		t.Errorf("UpdateUser(unknown id) = %v, want ErrUserNotFound", err)
	}
}

// TestUpdateUserRevokesFirst: every change a credential depends on moves the not-before time
// before the user is written, and kills the sessions and tokens issued before; a change that
// changes nothing revokes nothing.
func TestUpdateUserRevokesFirst(t *testing.T) {
	ctx := context.Background()
	admin, disabled, pw := gatehouse.RoleAdmin, true, "another long passphrase"
	for _, c := range []struct {
		name string
		ch   authn.UserChange
	}{
		{"role", authn.UserChange{Role: &admin}},
		{"disabled", authn.UserChange{Disabled: &disabled}},
		{"password", authn.UserChange{Password: &pw}},
	} {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t)
			u := f.user(t, "nina")
			sess := f.login(t, "nina", goodPassword, gatehouse.AuthSession)
			pair := f.login(t, "nina", goodPassword, gatehouse.AuthToken)
			if _, _, err := f.svc.UpdateUser(ctx, "", u.ID, c.ch, client); err != nil {
				t.Fatal(err)
			}
			calls := f.j.list()
			if len(calls) < 2 || calls[0] != "SetNotBefore" || calls[len(calls)-1] != "UpdateUser" {
				t.Fatalf("writes = %v, want SetNotBefore first and UpdateUser last", calls)
			}
			if _, err := f.svc.Authenticate(ctx, authn.Credential{SessionID: sess.Session.Secret}); err == nil {
				t.Error("the session from before the change still authenticates")
			}
			if _, err := f.svc.Authenticate(ctx, authn.Credential{AccessToken: pair.Tokens.AccessToken}); !errors.Is(err, authn.ErrTokenRevoked) {
				t.Errorf("the access token from before the change: %v, want ErrTokenRevoked", err)
			}
			if _, err := f.svc.Refresh(ctx, pair.Tokens.RefreshToken, client); err == nil {
				t.Error("the refresh token from before the change still refreshes")
			}
		})
	}
	t.Run("unchanged", func(t *testing.T) {
		f := newFixture(t)
		u := f.user(t, "nina")
		role := gatehouse.RoleUser
		if _, _, err := f.svc.UpdateUser(ctx, "", u.ID, authn.UserChange{Role: &role}, client); err != nil {
			t.Fatal(err)
		}
		if calls := f.j.list(); len(calls) != 1 || calls[0] != "UpdateUser" {
			t.Fatalf("writes = %v, want the update alone", calls)
		}
	})
}

// TestChangePassword: the current password is checked (and a wrong one named as such), every
// other credential ends, and the caller gets a new one of the kind it asked for.
func TestChangePassword(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "omar")
	other := f.login(t, "omar", goodPassword, gatehouse.AuthSession)
	who := other.User.Principal()
	next := "a completely different passphrase"
	if _, err := f.svc.ChangePassword(ctx, who, gatehouse.MethodPassword, "not the password at all", next, gatehouse.AuthToken, client); !errors.Is(err, authn.ErrWrongCurrentPassword) {
		t.Fatalf("wrong current password: %v, want ErrWrongCurrentPassword", err)
	}
	_, err := f.svc.ChangePassword(ctx, who, gatehouse.MethodPassword, goodPassword, "short", gatehouse.AuthToken, client)
	wantCode(t, "weak new password", err, gatehouse.EBADREQUEST)
	res, err := f.svc.ChangePassword(ctx, who, gatehouse.MethodPassword, goodPassword, next, gatehouse.AuthToken, client)
	if err != nil || res.Tokens == nil || res.Step != authn.StepDone {
		t.Fatalf("ChangePassword = %+v, %v", res, err)
	}
	if _, err := f.svc.Authenticate(ctx, authn.Credential{SessionID: other.Session.Secret}); err == nil {
		t.Error("the other session survived the password change")
	}
	if _, err := f.svc.Authenticate(ctx, authn.Credential{AccessToken: res.Tokens.AccessToken}); err != nil {
		t.Errorf("the new access token: %v", err)
	}
	f.login(t, "omar", next, gatehouse.AuthSession)
}

// TestLoginThrottled: once the account's free failures are used up, Login refuses without
// checking the password, with a wait the transports turn into Retry-After.
func TestLoginThrottled(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "pia")
	var err error
	for range 20 {
		_, err = f.svc.Login(ctx, authn.LoginInput{Username: "pia", Password: "wrong password here", Mode: gatehouse.AuthToken, Client: client})
		if _, ok := authn.RetryAfter(err); ok {
			break
		}
		if !errors.Is(err, gatehouse.ErrInvalidCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	wait, ok := authn.RetryAfter(err)
	if !ok || wait <= 0 {
		t.Fatalf("after 20 failures: %v, want a throttled error", err)
	}
	wantCode(t, "throttled login", err, gatehouse.ERATELIMITED)
	_, err = f.svc.Login(ctx, authn.LoginInput{Username: "pia", Password: goodPassword, Mode: gatehouse.AuthToken, Client: client})
	if _, ok := authn.RetryAfter(err); !ok {
		t.Fatalf("the right password while throttled: %v, want throttled", err)
	}
}

// TestRefreshOfDisabledUser: a family whose user was disabled dies at its next refresh.
func TestRefreshOfDisabledUser(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	u := f.user(t, "quinn")
	pair := f.login(t, "quinn", goodPassword, gatehouse.AuthToken)
	res, err := f.svc.Refresh(ctx, pair.Tokens.RefreshToken, client)
	if err != nil {
		t.Fatal(err)
	}
	disabled := true
	if _, _, err := f.svc.UpdateUser(ctx, "", u.ID, authn.UserChange{Disabled: &disabled}, client); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(ctx, res.RefreshToken, client); gatehouse.ErrorCode(err) != gatehouse.EINVALIDTOKEN {
		t.Fatalf("refresh after disabling: %v, want invalid_token", err)
	}
}

// TestIntrospectAndRevokeToken: an active token is described until it is revoked (RFC 7009),
// then inactive; a refresh token is never active.
func TestIntrospectAndRevokeToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	f.user(t, "rosa")
	pair := f.login(t, "rosa", goodPassword, gatehouse.AuthToken)
	if tok, active, err := f.svc.Introspect(ctx, pair.Tokens.AccessToken); err != nil || !active || tok.Username != "rosa" {
		t.Fatalf("Introspect(access) = %+v, %v, %v", tok, active, err)
	}
	if _, active, err := f.svc.Introspect(ctx, pair.Tokens.RefreshToken); err != nil || active {
		t.Fatalf("Introspect(refresh) = %v, %v; want inactive", active, err)
	}
	if err := f.svc.RevokeToken(ctx, pair.Tokens.AccessToken, client); err != nil {
		t.Fatal(err)
	}
	if _, active, err := f.svc.Introspect(ctx, pair.Tokens.AccessToken); err != nil || active {
		t.Fatalf("Introspect(revoked) = %v, %v; want inactive", active, err)
	}
	if _, err := f.svc.Refresh(ctx, pair.Tokens.RefreshToken, client); err == nil {
		t.Fatal("the revoked access token's refresh family still refreshes")
	}
	if err := f.svc.RevokeToken(ctx, "not a token", client); err != nil {
		t.Fatalf("RevokeToken(garbage) = %v, want nil (RFC 7009)", err)
	}
}
