package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// jwtHeader decodes the header of a compact JWT.
func jwtHeader(t *testing.T, raw string) (h struct{ Alg, Kid string }) {
	t.Helper()
	b, err := base64.RawURLEncoding.DecodeString(strings.Split(raw, ".")[0])
	if err != nil || json.Unmarshal(b, &h) != nil {
		t.Fatalf("JWT header: %v", err)
	}
	return h
}

// TestProviderIDTokenAlgs: with --rs256-key the discovery document offers RS256 beside the
// signing algorithm; a client's id_token_signed_response_alg picks the ID token's algorithm,
// and go-oidc verifies both; tokens whose alg was switched (HS256 keyed with the public key,
// none) are refused by the relying party, as the document never offers those.
func TestProviderIDTokenAlgs(t *testing.T) {
	a, base := startApp(t, "ES256", "--rs256-key")
	ctx := context.Background()
	b := browser(t)
	var meta struct {
		Algs []string `json:"id_token_signing_alg_values_supported"`
	}
	def := newRP(t, a, base, false)
	if err := def.provider.Claims(&meta); err != nil || !slices.Equal(meta.Algs, []string{"ES256", "RS256"}) {
		t.Fatalf("id_token_signing_alg_values_supported %v, %v", meta.Algs, err)
	}
	rsa := newRP(t, a, base, false)
	rsa.client.IDTokenAlg = "RS256"
	if err := a.clientStore().UpdateClient(ctx, rsa.client); err != nil {
		t.Fatal(err)
	}
	idTokens := map[string]string{}
	for want, r := range map[string]*rp{"ES256": def, "RS256": rsa} {
		v := oauth2.GenerateVerifier()
		loc, status := authorize(t, b, r.conf.AuthCodeURL("st", oauth2.S256ChallengeOption(v)), "admin", interopAdminPassword)
		if loc == nil {
			t.Fatalf("no code: %d", status)
		}
		tok, err := r.conf.Exchange(ctx, loc.Query().Get("code"), oauth2.VerifierOption(v))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := tok.Extra("id_token").(string)
		if h := jwtHeader(t, raw); h.Alg != want {
			t.Fatalf("ID token alg %s, want %s", h.Alg, want)
		}
		if _, err := r.provider.Verifier(&oidc.Config{ClientID: r.client.ID}).Verify(ctx, raw); err != nil {
			t.Fatalf("%s ID token: %v", want, err)
		}
		if _, err := r.provider.UserInfo(ctx, oauth2.StaticTokenSource(tok)); err != nil {
			t.Fatalf("userinfo with the %s client's access token: %v", want, err)
		}
		idTokens[want] = raw
	}
	// A relying party pinned to RS256 refuses the ES256 token.
	pinned := rsa.provider.Verifier(&oidc.Config{ClientID: def.client.ID, SupportedSigningAlgs: []string{"RS256"}})
	if _, err := pinned.Verify(ctx, idTokens["ES256"]); err == nil {
		t.Fatal("an RS256-only verifier accepted an ES256 ID token")
	}
	// alg confusion: the RS256 token re-signed with HS256 keyed by the RSA public key, or with none.
	parts := strings.Split(idTokens["RS256"], ".")
	var jwks struct {
		Keys []map[string]string `json:"keys"`
	}
	resp, err := b.Get(base + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&jwks)
	resp.Body.Close()
	kid := jwtHeader(t, idTokens["RS256"]).Kid
	var n string
	for _, k := range jwks.Keys {
		if k["kid"] == kid && k["kty"] == "RSA" {
			n = k["n"]
		}
	}
	if n == "" {
		t.Fatal("the RS256 key is not in the JWKS")
	}
	for _, alg := range []string{"HS256", "none"} {
		hdr := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"` + alg + `","kid":"` + kid + `"}`))
		sig := ""
		if alg == "HS256" {
			m := hmac.New(sha256.New, []byte(n))
			m.Write([]byte(hdr + "." + parts[1]))
			sig = base64.RawURLEncoding.EncodeToString(m.Sum(nil))
		}
		if _, err := rsa.provider.Verifier(&oidc.Config{ClientID: rsa.client.ID}).Verify(ctx, hdr+"."+parts[1]+"."+sig); err == nil {
			t.Fatalf("an ID token switched to alg %s was accepted", alg)
		}
	}
	// Without --rs256-key, RS256 is not offered.
	_, plain := startApp(t, "EdDSA")
	p, err := oidc.NewProvider(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Claims(&meta); err != nil || slices.Contains(meta.Algs, "RS256") {
		t.Fatalf("RS256 advertised without its key: %v", meta.Algs)
	}
}
