package main

// End-to-end tests of the OpenID Provider with a relying party nobody here wrote:
// github.com/coreos/go-oidc with golang.org/x/oauth2 does discovery, the authorization code flow
// with PKCE, ID token verification and userinfo, against the real wiring of "gatehouse serve".
// The browser is a plain http.Client with a cookie jar that signs in through the real form.

import (
	"context"
	"errors"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
)

// rp is a relying party registered with a gatehouse under test.
type rp struct {
	t        *testing.T
	base     string
	provider *oidc.Provider
	conf     oauth2.Config
	client   *gatehouse.Client
}

const rpRedirect = "http://127.0.0.1/callback"

func newRP(t *testing.T, a *app, base string, public bool) *rp {
	t.Helper()
	c, secret, err := gatehouse.NewClient(gatehouse.ClientSpec{Name: "test app", Public: public,
		RedirectURIs: []string{rpRedirect, "https://app.example/cb?x=1"}}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.clientStore().CreateClient(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	p, err := oidc.NewProvider(context.Background(), base)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	return &rp{t: t, base: base, provider: p, client: c, conf: oauth2.Config{ClientID: c.ID, ClientSecret: secret,
		Endpoint: p.Endpoint(), RedirectURL: "http://127.0.0.1:4711/callback",
		Scopes: []string{oidc.ScopeOpenID, "profile", "email"}}}
}

// browser is a cookie-keeping client that stops at the relying party's redirect URI.
func browser(t *testing.T) *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(req *http.Request, via []*http.Request) error {
		if req.URL.Host != via[0].URL.Host || len(via) > 10 {
			return http.ErrUseLastResponse
		}
		return nil
	}}
}

// authorize follows authURL in b, signing in through the form when the sign-in page shows;
// it returns the final response's Location (the redirect to the relying party), or the status
// of a page that did not redirect.
func authorize(t *testing.T, b *http.Client, authURL, user, password string) (*url.URL, int) {
	t.Helper()
	resp, err := b.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusOK && resp.Request.URL.Path == "/" {
		form := url.Values{"username": {user}, "password": {password}, "next": {resp.Request.URL.Query().Get("next")}}
		resp, err = b.PostForm(resp.Request.URL.Scheme+"://"+resp.Request.URL.Host+"/", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	loc, err := resp.Location()
	if err != nil {
		return nil, resp.StatusCode
	}
	return loc, resp.StatusCode
}

func TestProviderCodeFlowWithGoOIDC(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	var meta struct {
		ResponseTypes []string `json:"response_types_supported"`
		PKCE          []string `json:"code_challenge_methods_supported"`
		Grants        []string `json:"grant_types_supported"`
		Authorization string   `json:"authorization_endpoint"`
	}
	if err := newRP(t, a, base, false).provider.Claims(&meta); err != nil || !slices.Equal(meta.ResponseTypes, []string{"code"}) ||
		!slices.Equal(meta.PKCE, []string{"S256"}) || !slices.Contains(meta.Grants, "authorization_code") || meta.Authorization != base+"/oidc/authorize" {
		t.Fatalf("discovery: %+v, %v", meta, err)
	}
	for _, c := range []struct {
		public bool
		style  oauth2.AuthStyle
	}{{false, oauth2.AuthStyleInHeader}, {false, oauth2.AuthStyleInParams}, {true, oauth2.AuthStyleInParams}} {
		public := c.public
		r := newRP(t, a, base, public)
		r.conf.Endpoint.AuthStyle = c.style
		verifier := oauth2.GenerateVerifier()
		state, nonce := gatehouse.NewSecret(), gatehouse.NewSecret()
		b := browser(t)
		loc, status := authorize(t, b, r.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), "admin", interopAdminPassword)
		if loc == nil || loc.Host != "127.0.0.1:4711" || loc.Path != "/callback" {
			t.Fatalf("public=%v: the flow ended at %v (status %d), not the redirect URI", public, loc, status)
		}
		if got := loc.Query().Get("state"); got != state {
			t.Fatalf("state echoed as %q, want %q", got, state)
		}
		code := loc.Query().Get("code")
		tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
		if err != nil {
			t.Fatalf("public=%v: exchange: %v", public, err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := r.provider.Verifier(&oidc.Config{ClientID: r.client.ID}).Verify(ctx, raw)
		if err != nil {
			t.Fatalf("ID token: %v", err)
		}
		var claims struct {
			Nonce    string `json:"nonce"`
			AuthTime int64  `json:"auth_time"`
			SID      string `json:"sid"`
		}
		if err := idt.Claims(&claims); err != nil || idt.Nonce != nonce || claims.AuthTime == 0 || !gatehouse.ValidID(claims.SID) || idt.Issuer != base {
			t.Fatalf("ID token claims %+v, nonce %q, iss %q: %v", claims, idt.Nonce, idt.Issuer, err)
		}
		ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok))
		if err != nil || ui.Subject != idt.Subject {
			t.Fatalf("userinfo: %+v, %v", ui, err)
		}
		// The code is single-use.
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
			t.Fatal("a code was exchanged twice")
		}
	}
}

// TestProviderAttacks covers what a relying party or an attacker may get wrong.
func TestProviderAttacks(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	r := newRP(t, a, base, false)
	b := browser(t)
	codeFor := func(t *testing.T, extra ...oauth2.AuthCodeOption) (string, string) {
		t.Helper()
		verifier := oauth2.GenerateVerifier()
		loc, status := authorize(t, b, r.conf.AuthCodeURL("st", append(extra, oauth2.S256ChallengeOption(verifier))...), "admin", interopAdminPassword)
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("no code: %v %d", loc, status)
		}
		return loc.Query().Get("code"), verifier
	}

	t.Run("WrongVerifier", func(t *testing.T) {
		code, _ := codeFor(t)
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
			t.Fatal("a code was exchanged with the wrong PKCE verifier")
		}
	})
	t.Run("MissingVerifier", func(t *testing.T) {
		code, _ := codeFor(t)
		if _, err := r.conf.Exchange(ctx, code); err == nil {
			t.Fatal("a code was exchanged without its PKCE verifier")
		}
	})
	t.Run("Replay", func(t *testing.T) {
		code, v := codeFor(t)
		tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("userinfo before the replay: %v", err)
		}
		if _, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("replayed code accepted")
		}
		// The replay revoked what the first exchange issued.
		if ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatalf("userinfo with the token of a replayed code: %+v", ui)
		}
	})
	t.Run("OtherClient", func(t *testing.T) {
		code, v := codeFor(t)
		other := newRP(t, a, base, false)
		if _, err := other.conf.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("a code was exchanged by another client")
		}
	})
	t.Run("WrongSecret", func(t *testing.T) {
		code, v := codeFor(t)
		bad := r.conf
		bad.ClientSecret = gatehouse.NewSecret()
		if _, err := bad.Exchange(ctx, code, oauth2.VerifierOption(v)); err == nil {
			t.Fatal("a wrong client secret was accepted")
		}
	})
	t.Run("RedirectURIMismatch", func(t *testing.T) {
		for _, uri := range []string{
			"https://app.example/cb",           // query dropped
			"https://app.example/cb?x=1&y=2",   // query added
			"https://app.example/cb?x=1#f",     // fragment
			"https://app.example/cb/x?x=1",     // path
			"https://app.example/CB?x=1",       // case
			"https://app.example.evil/cb?x=1",  // host prefix
			"https://evil.example/cb",          // elsewhere
			"http://127.0.0.1:4711/callback/x", // loopback, other path
			"http://localhost:4711/callback",   // not the registered loopback host
		} {
			conf := r.conf
			conf.RedirectURL = uri
			loc, status := authorize(t, b, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "admin", interopAdminPassword)
			// An error page, never a redirect: not even an error may go to an unregistered URI.
			if loc != nil || status != http.StatusBadRequest {
				t.Errorf("redirect_uri %s: status %d, redirected to %v", uri, status, loc)
			}
		}
	})
	t.Run("UnknownClient", func(t *testing.T) {
		conf := r.conf
		conf.ClientID = gatehouse.NewID(time.Now())
		if loc, status := authorize(t, b, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "admin", interopAdminPassword); loc != nil || status != http.StatusBadRequest {
			t.Fatalf("unknown client: status %d, redirected to %v", status, loc)
		}
	})
	t.Run("PublicClientNeedsPKCE", func(t *testing.T) {
		pub := newRP(t, a, base, true)
		loc, _ := authorize(t, b, pub.conf.AuthCodeURL("st"), "admin", interopAdminPassword)
		if loc == nil || loc.Query().Get("code") != "" || loc.Query().Get("error") != "invalid_request" {
			t.Fatalf("a public client without PKCE: %v", loc)
		}
	})
	t.Run("PlainPKCERefused", func(t *testing.T) {
		loc, _ := authorize(t, b, r.conf.AuthCodeURL("st", oauth2.SetAuthURLParam("code_challenge", strings.Repeat("a", 43)),
			oauth2.SetAuthURLParam("code_challenge_method", "plain")), "admin", interopAdminPassword)
		if loc == nil || loc.Query().Get("code") != "" {
			t.Fatalf("plain PKCE: %v", loc)
		}
	})
	t.Run("ResponseTypeNotCode", func(t *testing.T) {
		for _, rt := range []string{"token", "id_token", "code id_token"} {
			loc, _ := authorize(t, b, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()),
				oauth2.SetAuthURLParam("response_type", rt), oauth2.SetAuthURLParam("nonce", "n")), "admin", interopAdminPassword)
			if loc == nil {
				t.Fatalf("response_type %q: no redirect", rt)
			}
			// The library answers in the query or, for response types that imply it, the fragment.
			answer := loc.Query()
			if loc.Fragment != "" {
				answer, _ = url.ParseQuery(loc.Fragment)
			}
			if answer.Get("code") != "" || answer.Get("id_token") != "" || answer.Get("access_token") != "" ||
				answer.Get("error") != "unauthorized_client" || answer.Get("state") != "st" {
				t.Errorf("response_type %q: %v", rt, loc)
			}
		}
	})
	t.Run("SignedOutEverywhere", func(t *testing.T) {
		code, v := codeFor(t)
		tok, err := r.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		checkClientAccessToken(t, tok.AccessToken, r.client.ID, "openid profile email")
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("userinfo: %v", err)
		}
		resp, err := b.Post(base+"/api/logout-all", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode >= 300 {
			t.Fatalf("logout-all: %d", resp.StatusCode)
		}
		if ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatalf("userinfo after a sign-out everywhere: %+v", ui)
		}
	})
	t.Run("DisabledUser", func(t *testing.T) {
		before, v0 := codeFor(t)
		tok, err := r.conf.Exchange(ctx, before, oauth2.VerifierOption(v0))
		if err != nil {
			t.Fatal(err)
		}
		code, v := codeFor(t)
		admin, err := a.users.UserByUsername(ctx, "admin")
		if err != nil {
			t.Fatal(err)
		}
		disabled := true
		if _, err := a.users.UpdateUser(ctx, admin.ID, gatehouse.UserUpdate{Disabled: &disabled}); err != nil {
			t.Fatal(err)
		}
		_, err = r.conf.Exchange(ctx, code, oauth2.VerifierOption(v))
		var re *oauth2.RetrieveError
		if !errors.As(err, &re) || re.ErrorCode != "invalid_grant" {
			t.Fatalf("exchange for a disabled user: %v", err)
		}
		if ui, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatalf("userinfo of a disabled user: %+v", ui)
		}
	})
}
