package main

// The mix-up defence (RFC 9207) and the state and nonce of authorization requests, seen by
// coreos/go-oidc and golang.org/x/oauth2 and by a plain browser (openid-client's view is in
// provider_node_test.go).

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
)

// answerOf is the parameters of an authorization response: the query, or the fragment when
// the library answered in it.
func answerOf(loc *url.URL) url.Values {
	if loc.Fragment != "" {
		q, _ := url.ParseQuery(loc.Fragment)
		return q
	}
	return loc.Query()
}

// TestProviderIssuerInResponses: the discovery document says that authorization responses
// carry iss, and every one does, codes and errors alike; an ID token of another gatehouse is
// refused by a relying party configured for this one.
func TestProviderIssuerInResponses(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	r := newRP(t, a, base, false)
	var meta struct {
		Iss bool `json:"authorization_response_iss_parameter_supported"`
	}
	if err := r.provider.Claims(&meta); err != nil || !meta.Iss {
		t.Fatalf("authorization_response_iss_parameter_supported: %v %v", meta.Iss, err)
	}
	// The document with the provider on, checked against the API contract.
	resp, err := checkedClient(t).Get(base + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	b := browser(t)
	pkce := oauth2.S256ChallengeOption(oauth2.GenerateVerifier())
	check := func(what string, loc *url.URL, status int, want url.Values) {
		t.Helper()
		if loc == nil {
			t.Fatalf("%s: no redirect (status %d)", what, status)
		}
		got := answerOf(loc)
		if got.Get("iss") != base || len(got["iss"]) != 1 {
			t.Errorf("%s: %s carries iss %q, want %q", what, loc, got["iss"], base)
		}
		for k := range want {
			if got.Get(k) != want.Get(k) {
				t.Errorf("%s: %s has %s=%q, want %q", what, loc, k, got.Get(k), want.Get(k))
			}
		}
	}

	loc, status := authorize(t, b, r.conf.AuthCodeURL("st1", pkce), "admin", interopAdminPassword)
	check("a code", loc, status, url.Values{"state": {"st1"}})
	if loc.Query().Get("code") == "" {
		t.Fatalf("no code in %s", loc)
	}
	// A registered redirect URI with a query keeps it, and gets iss beside it.
	withQuery := r.conf
	withQuery.RedirectURL = "https://app.example/cb?x=1"
	loc, status = authorize(t, b, withQuery.AuthCodeURL("st2", pkce), "admin", interopAdminPassword)
	check("a code to a redirect URI with a query", loc, status, url.Values{"state": {"st2"}, "x": {"1"}})

	denied := newRP(t, a, base, false)
	loc, status = authorizeDeciding(t, b, denied.conf.AuthCodeURL("st3", pkce), "admin", interopAdminPassword, "deny")
	check("a denial at the consent page", loc, status, url.Values{"state": {"st3"}, "error": {"access_denied"}})

	loc, status = authorize(t, browser(t), r.conf.AuthCodeURL("st4", pkce, oauth2.SetAuthURLParam("prompt", "none")), "admin", interopAdminPassword)
	check("prompt=none without a session", loc, status, url.Values{"state": {"st4"}, "error": {"login_required"}})

	pub := newRP(t, a, base, true)
	loc, status = authorize(t, b, pub.conf.AuthCodeURL("st5"), "admin", interopAdminPassword)
	check("a public client without PKCE", loc, status, url.Values{"state": {"st5"}, "error": {"invalid_request"}})

	for _, rt := range []string{"token", "code id_token"} {
		loc, status = authorize(t, b, r.conf.AuthCodeURL("st6", pkce, oauth2.SetAuthURLParam("response_type", rt), oauth2.SetAuthURLParam("nonce", "n")), "admin", interopAdminPassword)
		check("response_type "+rt, loc, status, url.Values{"state": {"st6"}, "error": {"unauthorized_client"}})
	}

	// Another gatehouse, with the same client registered: its ID token names its own issuer,
	// which a relying party of this gatehouse refuses, though the client id matches.
	other, otherBase := startApp(t, "EdDSA")
	if err := other.clientStore().CreateClient(ctx, r.client); err != nil {
		t.Fatal(err)
	}
	op, err := oidc.NewProvider(ctx, otherBase)
	if err != nil {
		t.Fatal(err)
	}
	oconf := r.conf
	oconf.Endpoint = op.Endpoint()
	v := oauth2.GenerateVerifier()
	loc, status = authorize(t, browser(t), oconf.AuthCodeURL("st7", oauth2.S256ChallengeOption(v)), "admin", interopAdminPassword)
	if loc == nil || answerOf(loc).Get("iss") != otherBase {
		t.Fatalf("the other gatehouse's answer: %v (status %d)", loc, status)
	}
	tok, err := oconf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if _, err := op.Verifier(&oidc.Config{ClientID: r.client.ID}).Verify(ctx, raw); err != nil {
		t.Fatalf("the other gatehouse's ID token at its own relying party: %v", err)
	}
	if _, err := r.provider.Verifier(&oidc.Config{ClientID: r.client.ID}).Verify(ctx, raw); err == nil {
		t.Fatal("an ID token of another gatehouse was accepted")
	}
	// Its signature is of keys this gatehouse does not publish; but even with the signature
	// left aside (as if the two shared keys), the issuer alone refuses it.
	unsigned := r.provider.Verifier(&oidc.Config{ClientID: r.client.ID, InsecureSkipSignatureCheck: true})
	if _, err := unsigned.Verify(ctx, raw); err == nil || !strings.Contains(err.Error(), "issued by a different provider") {
		t.Fatalf("an ID token of another issuer: %v", err)
	}
}

// idTokenClaims decodes the payload of a compact JWT, unverified (the callers verified it).
func idTokenClaims(t *testing.T, raw string) map[string]any {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("not a JWT: %q", raw)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	if err != nil || json.Unmarshal(b, &m) != nil {
		t.Fatalf("JWT payload: %v", err)
	}
	return m
}

// TestProviderStateAndNonce: state comes back byte for byte, whatever it holds, up to its
// bound; past it, not UTF-8 or given twice, the request gets an error page. The ID token
// carries exactly the nonce of the request, none when the request had none, and a refresh's
// ID token none.
func TestProviderStateAndNonce(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	r := newRP(t, a, base, false)
	b := browser(t)
	long := strings.Repeat("state-0123456789 +/=&?#%ü", 200)[:4096-4] + "end!"
	for _, state := range []string{"plain", `a b+c/d?e=f&g#h%20;,'"<>\` + "`{}|^~", "ü日本🔑", "tab\tnew\nline", "%41%zz", long} {
		loc, status := authorize(t, b, r.conf.AuthCodeURL(state, oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "admin", interopAdminPassword)
		if loc == nil || loc.Query().Get("code") == "" {
			t.Fatalf("state %.40q: no code (status %d)", state, status)
		}
		if got := loc.Query()["state"]; len(got) != 1 || got[0] != state {
			t.Errorf("state %.40q (%d bytes) came back as %.40q", state, len(state), got)
		}
	}
	// Without a state, none comes back.
	loc, _ := authorize(t, b, r.conf.AuthCodeURL("", oauth2.S256ChallengeOption(oauth2.GenerateVerifier())), "admin", interopAdminPassword)
	if _, has := loc.Query()["state"]; has || loc.Query().Get("code") == "" {
		t.Errorf("a request without state: %s", loc)
	}

	// Past the bounds or not UTF-8: an error page, by GET and by POST, and no redirect.
	refused := func(what string, extra url.Values, want string) {
		t.Helper()
		q := mustURL(t, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(oauth2.GenerateVerifier()))).Query()
		for k, v := range extra {
			q[k] = v
		}
		for _, post := range []bool{false, true} {
			var resp *http.Response
			var err error
			if post {
				resp, err = b.PostForm(base+"/oidc/authorize", q)
			} else {
				resp, err = b.Get(base + "/oidc/authorize?" + q.Encode())
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" || !strings.Contains(string(body), want) {
				t.Errorf("%s (POST %v): %d %q, Location %q", what, post, resp.StatusCode, body, resp.Header.Get("Location"))
			}
		}
	}
	refused("a state of 4097 bytes", url.Values{"state": {long + "x"}}, "the state is longer than 4096 bytes")
	refused("a nonce of 4097 bytes", url.Values{"nonce": {long + "x"}}, "the nonce is longer than 4096 bytes")
	refused("a state that is not UTF-8", url.Values{"state": {"ab\xff"}}, "the state is not valid UTF-8")
	refused("a nonce that is not UTF-8", url.Values{"nonce": {"\xc3("}}, "the nonce is not valid UTF-8")
	refused("a state given twice", url.Values{"state": {"st", long + "x"}}, "the state is given more than once")

	// The nonce: exactly the request's, none without one, none after a refresh.
	off := newRP(t, a, base, false)
	off.conf.Scopes = append(off.conf.Scopes, oidc.ScopeOfflineAccess)
	verifier := off.provider.Verifier(&oidc.Config{ClientID: off.client.ID})
	for _, nonce := range []string{"n-" + gatehouse.NewSecret(), `odd nonce: ü+/=&"<>` + "\t", long, ""} {
		v := oauth2.GenerateVerifier()
		opts := []oauth2.AuthCodeOption{oauth2.S256ChallengeOption(v)}
		if nonce != "" {
			opts = append(opts, oidc.Nonce(nonce))
		}
		loc, status := authorize(t, b, off.conf.AuthCodeURL("st", opts...), "admin", interopAdminPassword)
		if loc == nil {
			t.Fatalf("nonce %.40q: no code (status %d)", nonce, status)
		}
		tok, err := off.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := verifier.Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		got, has := idTokenClaims(t, raw)["nonce"]
		if idt.Nonce != nonce || nonce == "" && has {
			t.Errorf("nonce %.40q: the ID token carries %.40q (present %v)", nonce, got, has)
		}
		refreshed, err := off.refreshWith(tok.RefreshToken)
		if err != nil {
			t.Fatal(err)
		}
		rraw, _ := refreshed.Extra("id_token").(string)
		ridt, err := verifier.Verify(ctx, rraw)
		if err != nil {
			t.Fatalf("refreshed ID token: %v", err)
		}
		rc, first := idTokenClaims(t, rraw), idTokenClaims(t, raw)
		if _, has := rc["nonce"]; has || ridt.Subject != idt.Subject || rc["sid"] != first["sid"] || rc["acr"] != first["acr"] || rc["auth_time"] != first["auth_time"] {
			t.Errorf("refreshed ID token %v, first %v", rc, first)
		}
	}
}
