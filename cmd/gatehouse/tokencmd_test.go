package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/token"
)

func TestTokenVerify(t *testing.T) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		t.Run(alg, func(t *testing.T) {
			dir := t.TempDir()
			keys, err := token.LoadKeySet(filepath.Join(dir, "keys.json"), token.KeyOptions{Alg: alg})
			if err != nil {
				t.Fatal(err)
			}
			svc, err := token.NewService(keys, token.Config{Issuer: "http://127.0.0.1:8080", Audience: "gatehouse"})
			if err != nil {
				t.Fatal(err)
			}
			tok, _, err := svc.Issue(gatehouse.Principal{UserID: "u1", Username: "alice", Role: gatehouse.RoleUser}, "", gatehouse.Now())
			if err != nil {
				t.Fatal(err)
			}
			out, _, err := run(t, "", "token", "verify", "--data", dir, tok)
			if err != nil || !strings.Contains(out, `"username": "alice"`) || !strings.Contains(out, `"valid": true`) {
				t.Fatalf("offline verify: %q %v", out, err)
			}
			jwks := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(keys.JWKS()) }))
			defer jwks.Close()
			out, _, err = run(t, "", "token", "verify", "--jwks", jwks.URL, tok)
			if err != nil || !strings.Contains(out, `"sub": "u1"`) {
				t.Fatalf("JWKS verify: %q %v", out, err)
			}
			tampered := tok[:len(tok)-4] + "AAAA"
			if _, _, err := run(t, "", "token", "verify", "--jwks", jwks.URL, tampered); err == nil {
				t.Fatal("tampered token verified")
			}
			if _, _, err := run(t, "", "token", "verify", "--data", dir, "--audience", "other", tok); err == nil {
				t.Fatal("wrong audience verified")
			}
			if _, _, err := run(t, "", "token", "verify", "--data", t.TempDir(), tok); err == nil {
				t.Fatal("verify without a key file succeeded")
			}
		})
	}
}
