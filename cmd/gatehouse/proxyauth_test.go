package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/forwardauth"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/token"
)

// TestProxyAuthGroups: the forward-auth identity of a session and of an access token holds
// the user's groups (so that group: rules can let the user through), and a change of groups
// revokes both, so that no stale list is ever used.
func TestProxyAuthGroups(t *testing.T) {
	ctx := context.Background()
	clock := testkit.NewSteppingClock(time.Millisecond)
	users := memory.NewUserStore()
	hasher := argon2.New(argon2.Options{Params: argon2.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, MaxConcurrent: 2})
	acct := account.New(users, hasher, account.Policy{}, clock.Now)
	keys, err := token.LoadKeySet(filepath.Join(t.TempDir(), "keys.json"), token.KeyOptions{Alg: "EdDSA", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := token.NewService(keys, token.Config{Issuer: "http://gatehouse.test", Audience: "gatehouse", Now: clock.Now})
	if err != nil {
		t.Fatal(err)
	}
	revs := memory.NewRevocationStore()
	svc := authn.New(authn.Deps{
		Accounts: acct, Users: users, Tokens: tokens, Revocations: revs,
		Sessions: session.NewManager(memory.NewSessionStore(), revs, session.Options{Now: clock.Now}),
		Refresh:  refresh.NewRefresher(memory.NewRefreshStore(), 0, clock.Now),
	}, authn.Config{Now: clock.Now, Logger: slog.New(slog.DiscardHandler)})
	const password = "a long enough password for ann"
	u, err := acct.Create(ctx, account.NewUser{Username: "ann", Password: password, Role: gatehouse.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	groups := []string{"finance", "ops"}
	if _, _, err := svc.UpdateUser(ctx, "", u.ID, authn.UserChange{Groups: &groups}, authn.Client{}); err != nil {
		t.Fatal(err)
	}
	login := func(mode string) forwardauth.Credential {
		res, err := svc.Login(ctx, authn.LoginInput{Username: "ann", Password: password, Mode: mode})
		if err != nil {
			t.Fatal(err)
		}
		if mode == gatehouse.AuthSession {
			return forwardauth.Credential{Session: res.Session.Secret}
		}
		return forwardauth.Credential{Bearer: res.Tokens.AccessToken}
	}
	a := authnAuthenticator{svc}
	creds := map[string]forwardauth.Credential{"session": login(gatehouse.AuthSession), "token": login(gatehouse.AuthToken)}
	for name, c := range creds {
		id, err := a.Authenticate(ctx, c)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if id.UserID != u.ID || !slices.Equal(id.Groups, groups) {
			t.Fatalf("%s: identity %+v, want groups %q", name, id, groups)
		}
	}
	fewer := []string{"ops"}
	if _, _, err := svc.UpdateUser(ctx, "", u.ID, authn.UserChange{Groups: &fewer}, authn.Client{}); err != nil {
		t.Fatal(err)
	}
	for name, c := range creds {
		_, err := a.Authenticate(ctx, c)
		if code := gatehouse.ErrorCode(err); code != gatehouse.ESESSIONEXPIRED && code != gatehouse.EINVALIDTOKEN && code != gatehouse.ETOKENEXPIRED {
			t.Fatalf("%s after a change of groups: err = %v, want the credential refused", name, err)
		}
	}
	id, err := a.Authenticate(ctx, login(gatehouse.AuthSession))
	if err != nil || !slices.Equal(id.Groups, fewer) {
		t.Fatalf("new session: %+v, %v", id, err)
	}
}
