package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
)

// offlineRP is a relying party that asks for offline_access, and its first token pair.
func offlineRP(t *testing.T, a *app, base string, b *http.Client) (*rp, *oauth2.Token) {
	t.Helper()
	r := newRP(t, a, base, false)
	r.conf.Scopes = []string{oidc.ScopeOpenID, "profile", oidc.ScopeOfflineAccess}
	verifier := oauth2.GenerateVerifier()
	loc, status := authorize(t, b, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier)), "admin", interopAdminPassword)
	if loc == nil || loc.Query().Get("code") == "" {
		t.Fatalf("no code: %v %d", loc, status)
	}
	tok, err := r.conf.Exchange(context.Background(), loc.Query().Get("code"), oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(tok.RefreshToken, "ghc.") {
		t.Fatalf("no client refresh token with offline_access: %q", tok.RefreshToken)
	}
	return r, tok
}

// refreshWith presents a refresh token as r's client.
func (r *rp) refreshWith(raw string) (*oauth2.Token, error) {
	return r.conf.TokenSource(context.Background(), &oauth2.Token{RefreshToken: raw}).Token()
}

func wantInvalidGrant(t *testing.T, what string, err error) {
	t.Helper()
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
		t.Fatalf("%s: %v, want invalid_grant", what, err)
	}
}

// TestProviderRefresh: the refresh_token grant for clients, through coreos/go-oidc and
// golang.org/x/oauth2: rotation, a new ID token and a working access token at each refresh,
// and the cases that must end the family.
func TestProviderRefresh(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	b := browser(t)

	t.Run("NoOfflineAccessNoRefreshToken", func(t *testing.T) {
		r := newRP(t, a, base, false)
		v := oauth2.GenerateVerifier()
		loc, _ := authorize(t, b, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), "admin", interopAdminPassword)
		tok, err := r.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil || tok.RefreshToken != "" {
			t.Fatalf("without offline_access: refresh token %q, %v", tok.RefreshToken, err)
		}
	})
	t.Run("RotateAndReplay", func(t *testing.T) {
		r, first := offlineRP(t, a, base, b)
		second, err := r.refreshWith(first.RefreshToken)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if second.RefreshToken == first.RefreshToken || second.AccessToken == first.AccessToken {
			t.Fatal("the refresh did not rotate")
		}
		raw, _ := second.Extra("id_token").(string)
		idt, err := r.provider.Verifier(&oidc.Config{ClientID: r.client.ID}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("ID token of a refresh: %v", err)
		}
		checkClientAccessToken(t, second.AccessToken, r.client.ID, "openid profile offline_access")
		if ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(second)); err != nil || ui.Subject != idt.Subject {
			t.Fatalf("userinfo with a refreshed token: %+v %v", ui, err)
		}
		// Narrowing the scope is allowed; widening it is not.
		if _, err := r.conf.TokenSource(ctx, &oauth2.Token{RefreshToken: second.RefreshToken}).Token(); err != nil {
			t.Fatal(err)
		}
		_, err = r.refreshWith(first.RefreshToken) // a rotated token: reuse
		wantInvalidGrant(t, "a replayed refresh token", err)
	})
	t.Run("ReplayEndsFamily", func(t *testing.T) {
		r, first := offlineRP(t, a, base, b)
		second, err := r.refreshWith(first.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		_, err = r.refreshWith(first.RefreshToken)
		wantInvalidGrant(t, "a replayed refresh token", err)
		_, err = r.refreshWith(second.RefreshToken)
		wantInvalidGrant(t, "the current token of a family revoked for reuse", err)
	})
	t.Run("OtherClient", func(t *testing.T) {
		_, tok := offlineRP(t, a, base, b)
		other, _ := offlineRP(t, a, base, b)
		_, err := other.refreshWith(tok.RefreshToken)
		wantInvalidGrant(t, "another client's refresh token", err)
	})
	t.Run("NotGatehouseOwnRefresh", func(t *testing.T) {
		_, tok := offlineRP(t, a, base, b)
		// Without client authentication the token endpoint still knows the token for a
		// client's, and the client's own grant refuses it: it never becomes one of
		// gatehouse's own access tokens.
		resp, err := http.PostForm(base+"/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok.RefreshToken}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("a client's refresh token was refreshed without the client")
		}
		resp, err = http.Post(base+"/api/token/refresh", "application/json", strings.NewReader(`{"refresh_token":"`+tok.RefreshToken+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK {
			t.Fatal("a client's refresh token became one of gatehouse's own token pairs")
		}
	})
	t.Run("RevokedGrant", func(t *testing.T) {
		r, tok := offlineRP(t, a, base, b)
		admin, err := a.users.UserByUsername(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		if found, err := a.grantStore().DeleteGrant(ctx, admin.ID, r.client.ID); !found || err != nil {
			t.Fatalf("DeleteGrant: %v %v", found, err)
		}
		_, err = r.refreshWith(tok.RefreshToken)
		wantInvalidGrant(t, "a refresh after the grant was revoked", err)
		// Granting again (a new sign-in) does not revive the old family.
		r2v := oauth2.GenerateVerifier()
		loc, _ := authorize(t, b, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(r2v)), "admin", interopAdminPassword)
		if _, err := r.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(r2v)); err != nil {
			t.Fatal(err)
		}
		_, err = r.refreshWith(tok.RefreshToken)
		wantInvalidGrant(t, "a family of a revoked grant after a new grant", err)
	})
	t.Run("SignedOutEverywhere", func(t *testing.T) {
		r, tok := offlineRP(t, a, base, b)
		resp, err := b.Post(base+"/api/logout-all", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		_, err = r.refreshWith(tok.RefreshToken)
		wantInvalidGrant(t, "a refresh after a sign-out everywhere", err)
	})
	t.Run("DisabledUser", func(t *testing.T) {
		r, tok := offlineRP(t, a, base, b)
		admin, err := a.users.UserByUsername(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		disabled := true
		if _, err := a.users.UpdateUser(ctx, admin.ID, gatehouse.UserUpdate{Disabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		_, err = r.refreshWith(tok.RefreshToken)
		wantInvalidGrant(t, "a refresh of a disabled user", err)
	})
}
