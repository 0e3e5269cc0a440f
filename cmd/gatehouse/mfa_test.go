package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TestServeWithSecondFactor runs the real server: an admin enrols an authenticator app, and the
// next login needs a code; the TOTP secret is in the database only sealed, under a factor key
// made at first start and readable by the server's user only.
func TestServeWithSecondFactor(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	dir := t.TempDir()
	addr, stop := startServe(t, "--data", dir, "--webauthn-rp-id", "localhost", "--webauthn-origins", "http://localhost:8080")
	base := "http://" + addr
	client := checkedClient(t)
	post := func(path, token string, body any) map[string]any {
		t.Helper()
		raw, _ := json.Marshal(body)
		req, _ := http.NewRequest("POST", base+path, bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		var m map[string]any
		_ = json.Unmarshal(out, &m)
		if resp.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, resp.StatusCode, out)
		}
		return m
	}
	login := map[string]string{"username": "admin", "password": "the first admin password"}
	access := post("/api/login", "", login)["access_token"].(string)
	secret := post("/api/me/mfa/totp", access, nil)["secret"].(string)
	code := func() string {
		c, err := totp.GenerateCodeCustom(secret, time.Now(), totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	codes := post("/api/me/mfa/totp/confirm", access, map[string]string{"code": code()})["recovery_codes"].([]any)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	p := post("/api/login", "", login)
	if p["mfa_required"] != true || p["access_token"] != nil {
		t.Fatalf("login with a factor answered %v", p)
	}
	// The confirming code is used; a recovery code completes the login.
	done := post("/api/login/mfa", "", map[string]any{"mfa_token": p["mfa_token"], "method": "recovery_code", "code": codes[0]})
	if done["access_token"] == nil {
		t.Fatalf("second step answered %v", done)
	}
	st, err := os.Stat(filepath.Join(dir, factorKeyName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("factor key file: %v %v", st, err)
	}
	logs := stop()
	for _, name := range []string{"gatehouse.db", "gatehouse.db-wal"} {
		raw, _ := os.ReadFile(filepath.Join(dir, name))
		if bytes.Contains(raw, []byte(secret)) {
			t.Fatalf("%s holds the TOTP secret in clear", name)
		}
	}
	if strings.Contains(logs, secret) || strings.Contains(logs, codes[0].(string)) {
		t.Fatal("a secret reached the logs")
	}
	if !strings.Contains(logs, "second factors on") {
		t.Fatalf("logs: %s", logs)
	}
}

func TestBadSecondFactorConfigurationRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data", dir, "--webauthn-rp-id", "example.com"},
		{"serve", "--data", dir, "--webauthn-origins", "https://example.com"},
		{"serve", "--data", dir, "--webauthn-rp-id", "example.com", "--webauthn-origins", "http://example.com"},
		{"serve", "--data", dir, "--webauthn-rp-id", "example.com", "--webauthn-origins", "https://evil.test"},
		{"serve", "--data", dir, "--mfa=false", "--factor-key-file", "x"},
		{"serve", "--data", dir, "--totp-issuer", "a:b"},
		{"serve", "--data", dir, "--factor-key-file", filepath.Join(dir, "missing")},
	} {
		if _, _, err := run(t, "", append(args, fastHash...)...); err == nil {
			t.Errorf("%v started", args)
		}
	}
}
