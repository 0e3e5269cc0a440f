package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
)

// logoutRP is a relying party server with sessions of its own, ended by the logout tokens it
// receives on its back-channel logout URI after checking them against gatehouse's JWKS.
type logoutRP struct {
	t        *testing.T
	srv      *httptest.Server
	keys     *oidc.RemoteKeySet
	issuer   string
	clientID string
	mu       sync.Mutex
	sessions map[string]string // RP session id -> sub
	sids     map[string]string // RP session id -> gatehouse sid
	received int
	fail     int // answer 500 to this many deliveries first
}

func newLogoutRP(t *testing.T, base string) *logoutRP {
	rp := &logoutRP{t: t, issuer: base, sessions: map[string]string{}, sids: map[string]string{},
		keys: oidc.NewRemoteKeySet(context.Background(), base+"/.well-known/jwks.json")}
	rp.srv = httptest.NewServer(http.HandlerFunc(rp.backchannel))
	t.Cleanup(rp.srv.Close)
	return rp
}

// backchannel checks a logout token as the specification asks and ends the sessions it names.
func (rp *logoutRP) backchannel(w http.ResponseWriter, r *http.Request) {
	rp.mu.Lock()
	rp.received++
	if rp.fail > 0 {
		rp.fail--
		rp.mu.Unlock()
		http.Error(w, "try later", http.StatusInternalServerError)
		return
	}
	rp.mu.Unlock()
	raw := r.PostFormValue("logout_token")
	payload, err := rp.keys.VerifySignature(r.Context(), raw)
	hdr, _ := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	var h struct{ Typ string }
	var c struct {
		Iss, Aud, Sub, Sid, Nonce string
		Events                    map[string]any
		Iat                       int64
	}
	if err != nil || json.Unmarshal(hdr, &h) != nil || json.Unmarshal(payload, &c) != nil || h.Typ != "logout+jwt" ||
		c.Iss != rp.issuer || c.Aud != rp.clientID || c.Nonce != "" || c.Events["http://schemas.openid.net/event/backchannel-logout"] == nil || c.Iat == 0 {
		rp.t.Errorf("a bad logout token: %v %s %s", err, hdr, payload)
		http.Error(w, "bad logout token", http.StatusBadRequest)
		return
	}
	rp.mu.Lock()
	defer rp.mu.Unlock()
	for id, sub := range rp.sessions {
		if sub == c.Sub && (c.Sid == "" || rp.sids[id] == c.Sid) {
			delete(rp.sessions, id)
		}
	}
	w.WriteHeader(http.StatusOK)
}

func (rp *logoutRP) live() int {
	rp.mu.Lock()
	defer rp.mu.Unlock()
	return len(rp.sessions)
}

// waitFor polls cond for up to 10 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(10 * time.Second); time.Now().Before(end); time.Sleep(20 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// TestProviderLogout: RP-initiated logout ends the gatehouse session and redirects only to a
// registered post-logout URI; back-channel logout tokens reach a relying party server, which
// verifies them and ends its sessions, after a logout and after a sign-out everywhere; a
// failing delivery is retried.
func TestProviderLogout(t *testing.T) {
	a, base := startApp(t, "EdDSA")
	ctx := context.Background()
	lrp := newLogoutRP(t, base)
	c, secret, err := gatehouse.NewClient(gatehouse.ClientSpec{Name: "logout app", RedirectURIs: []string{rpRedirect},
		PostLogoutRedirectURIs: []string{"https://app.example/bye"}, BackchannelLogoutURI: lrp.srv.URL + "/bcl"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := a.clientStore().CreateClient(ctx, c); err != nil {
		t.Fatal(err)
	}
	lrp.clientID = c.ID
	p, err := oidc.NewProvider(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	var meta struct {
		EndSession string `json:"end_session_endpoint"`
		BCL        bool   `json:"backchannel_logout_supported"`
		BCLSession bool   `json:"backchannel_logout_session_supported"`
	}
	if err := p.Claims(&meta); err != nil || meta.EndSession != base+"/oidc/end-session" || !meta.BCL || !meta.BCLSession {
		t.Fatalf("discovery: %+v %v", meta, err)
	}
	conf := oauth2.Config{ClientID: c.ID, ClientSecret: secret, Endpoint: p.Endpoint(), RedirectURL: "http://127.0.0.1:4711/callback",
		Scopes: []string{oidc.ScopeOpenID}}
	// signIn runs a code flow in b and opens an RP session for it; it returns the ID token.
	signIn := func(b *http.Client) string {
		t.Helper()
		v := oauth2.GenerateVerifier()
		loc, status := authorize(t, b, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), "admin", interopAdminPassword)
		if loc == nil {
			t.Fatalf("no code: %d", status)
		}
		tok, err := conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		idt, err := p.Verifier(&oidc.Config{ClientID: c.ID}).Verify(ctx, raw)
		if err != nil {
			t.Fatal(err)
		}
		var cl struct{ Sid string }
		idt.Claims(&cl)
		lrp.mu.Lock()
		id := gatehouse.NewSecret()
		lrp.sessions[id], lrp.sids[id] = idt.Subject, cl.Sid
		lrp.mu.Unlock()
		return raw
	}
	endSession := func(b *http.Client, q url.Values) *http.Response {
		t.Helper()
		resp, err := b.Get(base + "/oidc/end-session?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	signedIn := func(b *http.Client) bool {
		resp, err := b.Get(base + "/api/me")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}

	t.Run("OpenRedirectRefused", func(t *testing.T) {
		b := browser(t)
		hint := signIn(b)
		for _, uri := range []string{"https://app.example/bye/", "https://app.example/bye?x=1", "https://app.example.evil/bye",
			"https://evil.example/", "https://APP.example/bye", "//evil.example/bye", "https://app.example/bye#f"} {
			resp := endSession(b, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {uri}})
			if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Location") != "" {
				t.Errorf("post_logout_redirect_uri %s: %d to %q", uri, resp.StatusCode, resp.Header.Get("Location"))
			}
		}
		// With a client_id of a client that did not register the URI, neither.
		other := newRP(t, a, base, false)
		if resp := endSession(b, url.Values{"client_id": {other.client.ID}, "post_logout_redirect_uri": {"https://app.example/bye"}}); resp.StatusCode != http.StatusBadRequest {
			t.Errorf("another client's post-logout URI: %d", resp.StatusCode)
		}
		if !signedIn(b) {
			t.Fatal("a refused end-session signed the browser out")
		}
	})
	t.Run("EndSessionAndBackchannel", func(t *testing.T) {
		b := browser(t)
		other := browser(t)
		hint := signIn(b)
		signIn(other) // another session of the same user, which must survive
		if lrp.live() < 2 {
			t.Fatalf("RP sessions: %d", lrp.live())
		}
		before := lrp.live()
		resp := endSession(b, url.Values{"id_token_hint": {hint}, "post_logout_redirect_uri": {"https://app.example/bye"}, "state": {"s1"}})
		loc, _ := resp.Location()
		if resp.StatusCode != http.StatusFound || loc == nil || loc.Host != "app.example" || loc.Path != "/bye" || loc.Query().Get("state") != "s1" {
			t.Fatalf("end-session answered %d to %v", resp.StatusCode, loc)
		}
		if signedIn(b) {
			t.Fatal("the gatehouse session survived the end-session")
		}
		if !signedIn(other) {
			t.Fatal("the end-session of one browser signed another out")
		}
		waitFor(t, "the back-channel logout of one session", func() bool { return lrp.live() == before-1 })
	})
	t.Run("SignOutEverywhereAndRetry", func(t *testing.T) {
		b := browser(t)
		signIn(b)
		lrp.mu.Lock()
		lrp.fail, lrp.received = 2, 0
		lrp.mu.Unlock()
		resp, err := b.Post(base+"/api/logout-all", "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		waitFor(t, "every RP session ended by a sign-out everywhere", func() bool { return lrp.live() == 0 })
		lrp.mu.Lock()
		defer lrp.mu.Unlock()
		if lrp.received != 3 {
			t.Fatalf("deliveries %d, want 3 (two failures, then success)", lrp.received)
		}
	})
}
