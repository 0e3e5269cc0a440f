package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/cookiejar"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/gatehouse-auth/gatehouse"
)

// clusterIssuer is the issuer of the test cluster: the name of its load balancer.
const clusterIssuer = "http://gatehouse.test"

// balancer is a load balancer in the shape of an http.RoundTripper: it sends each request for
// clusterIssuer's host to the next instance in turn (strict round robin, no stickiness) and
// counts what each served.
type balancer struct {
	mu     sync.Mutex
	next   int
	bases  []string
	served []int
}

func (lb *balancer) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.URL.Host != strings.TrimPrefix(clusterIssuer, "http://") {
		return http.DefaultTransport.RoundTrip(req)
	}
	lb.mu.Lock()
	i := lb.next
	lb.next = (lb.next + 1) % len(lb.bases)
	lb.served[i]++
	lb.mu.Unlock()
	out := req.Clone(req.Context())
	out.URL.Host = strings.TrimPrefix(lb.bases[i], "http://")
	out.Host = req.URL.Host
	return http.DefaultTransport.RoundTrip(out)
}

// TestProviderClusterFlow: with two instances behind a round-robin balancer, every step of a
// sign-in (authorization request, sign-in, code, exchange, userinfo) lands on the other
// instance than the step before, and the flow completes; a replayed code is refused by the
// other instance too, and revokes there what the first exchange issued.
func TestProviderClusterFlow(t *testing.T) {
	b := newBackends(t, testRedis)
	one := startInstance(t, b, "--issuer", clusterIssuer)
	two := startInstance(t, b, "--issuer", clusterIssuer)
	out, _, err := run(t, "", append([]string{"client", "add", "--data", t.TempDir(), "--user-store", "postgres",
		"--postgres-url", b.pgURL, "--name", "Cluster app", "--redirect-uri", rpRedirect}, fastHash...)...)
	if err != nil {
		t.Fatal(err)
	}
	id := regexp.MustCompile(`client_id: (\S+)`).FindStringSubmatch(out)
	secret := regexp.MustCompile(`client_secret \(shown only this once\): (\S+)`).FindStringSubmatch(out)
	if id == nil || secret == nil {
		t.Fatalf("client add said %q", out)
	}
	lb := &balancer{bases: []string{one.base, two.base}, served: make([]int, 2)}
	ctx := oidc.ClientContext(context.Background(), &http.Client{Transport: lb, Timeout: 10 * time.Second})
	provider, err := oidc.NewProvider(ctx, clusterIssuer)
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	conf := oauth2.Config{ClientID: id[1], ClientSecret: secret[1], Endpoint: provider.Endpoint(),
		RedirectURL: "http://127.0.0.1:4711/callback", Scopes: []string{oidc.ScopeOpenID, "profile"}}
	jar, _ := cookiejar.New(nil)
	br := browser(t)
	br.Jar, br.Transport = jar, lb
	verifier, nonce := oauth2.GenerateVerifier(), gatehouse.NewSecret()
	loc, status := authorize(t, br, conf.AuthCodeURL("st", oauth2.S256ChallengeOption(verifier), oidc.Nonce(nonce)), "admin", clusterAdminPassword)
	if loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("the flow ended at %v (status %d)", loc, status)
	}
	code := loc.Query().Get("code")
	tok, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier))
	if err != nil {
		t.Fatalf("exchange: %v", err)
	}
	raw, _ := tok.Extra("id_token").(string)
	idt, err := provider.Verifier(&oidc.Config{ClientID: conf.ClientID}).Verify(ctx, raw)
	if err != nil || idt.Nonce != nonce {
		t.Fatalf("ID token: %v (nonce %q)", err, idt.Nonce)
	}
	checkClientAccessToken(t, tok.AccessToken, conf.ClientID, "openid profile")
	for range 2 { // one call on each instance
		if ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil || ui.Subject != idt.Subject {
			t.Fatalf("userinfo: %+v, %v", ui, err)
		}
	}
	if _, err := conf.Exchange(ctx, code, oauth2.VerifierOption(verifier)); err == nil {
		t.Fatal("a replayed code was accepted by the other instance")
	}
	for range 2 {
		if ui, err := provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err == nil {
			t.Fatalf("userinfo with the token of a replayed code: %+v", ui)
		}
	}
	if lb.served[0] < 4 || lb.served[1] < 4 {
		t.Fatalf("the instances served %v requests: the flow did not alternate", lb.served)
	}
}

// checkClientAccessToken checks that an access token issued to a client names it as aud and
// client_id and carries the granted scope, and is not typed as one of gatehouse's own access
// tokens (at+jwt), which its API would then accept.
func checkClientAccessToken(t *testing.T, raw, clientID, scope string) {
	t.Helper()
	parts := strings.Split(raw, ".")
	if len(parts) != 3 {
		t.Fatalf("the access token is not a JWT: %d parts", len(parts))
	}
	var header struct {
		Typ string `json:"typ"`
	}
	var claims struct {
		Aud      []string `json:"aud"`
		ClientID string   `json:"client_id"`
		Scope    string   `json:"scope"`
		JTI      string   `json:"jti"`
	}
	for i, v := range []any{&header, &claims} {
		b, err := base64.RawURLEncoding.DecodeString(parts[i])
		if err != nil || json.Unmarshal(b, v) != nil {
			t.Fatalf("access token part %d: %v", i, err)
		}
	}
	if !slices.Contains(claims.Aud, clientID) || claims.ClientID != clientID || claims.Scope != scope || claims.JTI == "" {
		t.Fatalf("access token claims %+v, want aud and client_id %s, scope %q", claims, clientID, scope)
	}
	if strings.EqualFold(header.Typ, "at+jwt") {
		t.Fatalf("the access token is typed %q, like gatehouse's own", header.Typ)
	}
}
