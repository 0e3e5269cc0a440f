package main

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
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

// TestTokenVerifyIntrospect: "token verify" says that it did not check revocation, and with
// --introspect asks the server, with the client credential or an admin's token: a live token is
// reported active, a revoked one fails the command, and a wrong credential is an error, never
// a token reported unrevoked.
func TestTokenVerifyIntrospect(t *testing.T) {
	const secret = "the resource servers' secret, long enough"
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	dir := t.TempDir()
	addr, _ := startServe(t, "--data", dir, "--introspection-secret", secret)
	base := "http://" + addr
	login := func() (string, string) {
		resp, err := checkedClient(t).Post(base+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password","mode":"token"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			AccessToken  string `json:"access_token"`
			RefreshToken string `json:"refresh_token"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.AccessToken == "" {
			t.Fatalf("login: %d %v", resp.StatusCode, err)
		}
		return body.AccessToken, body.RefreshToken
	}
	tok, _ := login()
	admin, _ := login()
	verifyArgs := []string{"token", "verify", "--data", dir, "--issuer", "http://127.0.0.1:0"} // serve --addr 127.0.0.1:0 names no issuer
	out, _, err := run(t, "", append(verifyArgs, tok)...)
	if err != nil || !strings.Contains(out, `"revocation": "not checked`) {
		t.Fatalf("offline verify does not say revocation was not checked: %q %v", out, err)
	}
	introspect := append(verifyArgs, "--introspect", base+"/oauth2/introspect")
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte(secret+"\n"), 0o600)
	out, _, err = run(t, "", append(introspect, "--introspection-secret-file", secretFile, tok)...)
	if err != nil || !strings.Contains(out, `: active"`) || !strings.Contains(out, `"valid": true`) {
		t.Fatalf("introspected live token: %q %v", out, err)
	}
	tokenFile := filepath.Join(t.TempDir(), "admin-token")
	os.WriteFile(tokenFile, []byte(admin), 0o600)
	if out, _, err = run(t, "", append(introspect, "--introspection-token-file", tokenFile, tok)...); err != nil || !strings.Contains(out, `: active"`) {
		t.Fatalf("introspected with an admin's token: %q %v", out, err)
	}
	// Revoked (logout): the signature still verifies, the server says no.
	req, _ := http.NewRequest("POST", base+"/api/logout", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	if resp, err := checkedClient(t).Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout: %v %v", resp, err)
	}
	out, _, err = run(t, "", append(introspect, "--introspection-secret-file", secretFile, tok)...)
	if err == nil || !strings.Contains(err.Error(), "revoked") || !strings.Contains(out, `"valid": false`) {
		t.Fatalf("introspected revoked token: %q %v", out, err)
	}
	// A wrong credential, or none: an error that says revocation was not checked.
	wrong := filepath.Join(t.TempDir(), "wrong")
	os.WriteFile(wrong, []byte("not the secret, but as long as it"), 0o600)
	for _, extra := range [][]string{{"--introspection-secret-file", wrong}, {}} {
		_, _, err := run(t, "", append(append(append([]string{}, introspect...), extra...), admin)...)
		if err == nil {
			t.Fatalf("introspection with %v succeeded", extra)
		}
	}
}
