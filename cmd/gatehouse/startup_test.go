package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

// serveConfig parses and validates serve flags as "gatehouse serve" would, without serving.
func serveConfig(t *testing.T, args ...string) (*config, error) {
	t.Helper()
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	if err := fs.Parse(append(append([]string{"--addr", "127.0.0.1:0"}, fastHash...), args...)); err != nil {
		t.Fatal(err)
	}
	return cfg, cfg.validateServe()
}

// wireApp builds the server of args (as serve does before it listens) and closes it.
func wireApp(t *testing.T, args ...string) error {
	t.Helper()
	cfg, err := serveConfig(t, args...)
	if err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err == nil {
		a.Close()
	}
	return err
}

// TestIssuerRecordedInTheUserStore: the first start records its issuer; a start with another
// issuer on the same store is refused with both named, until "gatehouse issuer set" moves it.
func TestIssuerRecordedInTheUserStore(t *testing.T) {
	check := func(t *testing.T, store []string, serveOnly ...string) {
		set := append([]string{"issuer", "set", "https://b.example"}, store...)
		store = append(store, serveOnly...)
		if err := wireApp(t, append(store, "--issuer", "https://a.example")...); err != nil {
			t.Fatal(err)
		}
		err := wireApp(t, append(store, "--issuer", "https://b.example")...)
		if err == nil || !strings.Contains(err.Error(), `"https://a.example"`) || !strings.Contains(err.Error(), `"https://b.example"`) {
			t.Fatalf("another issuer on the same store: %v", err)
		}
		if err := wireApp(t, store...); err == nil || !strings.Contains(err.Error(), "without --issuer it defaults to http://127.0.0.1:0") {
			t.Fatalf("the default issuer on the same store: %v", err)
		}
		if _, _, err := run(t, "", set...); err != nil {
			t.Fatal(err)
		}
		if err := wireApp(t, append(store, "--issuer", "https://b.example")...); err != nil {
			t.Fatalf("after issuer set: %v", err)
		}
		if err := wireApp(t, append(store, "--issuer", "https://a.example")...); err == nil {
			t.Fatal("the old issuer started after issuer set")
		}
	}
	t.Run("SQLite", func(t *testing.T) { check(t, []string{"--data", t.TempDir()}) })
	t.Run("PostgreSQL", func(t *testing.T) {
		b := newBackends(t, testRedis)
		check(t, []string{"--data", t.TempDir(), "--user-store", "postgres", "--postgres-url", b.pgURL}, "--keys-file", b.keys)
	})
}

func TestNonLoopbackAddressNeedsIssuer(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:8080", ":8080", "192.0.2.10:8080", "[::]:8080", "auth.example.com:8080"} {
		if _, err := serveConfig(t, "--addr", addr); err == nil || !strings.Contains(err.Error(), "--issuer") {
			t.Errorf("--addr %s without --issuer: %v", addr, err)
		}
		if _, err := serveConfig(t, "--addr", addr, "--issuer", "https://auth.example.com"); err != nil {
			t.Errorf("--addr %s with --issuer: %v", addr, err)
		}
	}
	for _, addr := range []string{"127.0.0.1:8080", "localhost:8080", "[::1]:8080", "127.0.0.2:0"} {
		if _, err := serveConfig(t, "--addr", addr); err != nil {
			t.Errorf("loopback --addr %s: %v", addr, err)
		}
	}
}

func TestCookieWarning(t *testing.T) {
	for _, c := range []struct {
		args []string
		warn bool
	}{
		{[]string{"--addr", "0.0.0.0:8080", "--issuer", "http://auth.example.com"}, true},
		{[]string{"--addr", "0.0.0.0:8080", "--issuer", "https://auth.example.com", "--secure-cookies"}, false},
		{[]string{"--addr", "127.0.0.1:8080"}, false},
	} {
		cfg, err := serveConfig(t, c.args...)
		if err != nil {
			t.Fatal(err)
		}
		if got := cfg.cookieWarning() != ""; got != c.warn {
			t.Errorf("%v: warning %v, want %v", c.args, got, c.warn)
		}
	}
}

func TestUnknownEnvironmentVariable(t *testing.T) {
	root := newRootCmd(strings.NewReader(""), io.Discard, io.Discard)
	for env, want := range map[string]string{
		"GATEHOUSE_SESION_STORE=redis": "did you mean GATEHOUSE_SESSION_STORE (--session-store)?",
		"GATEHOUSE_ACESS_TTL=5m":       "did you mean GATEHOUSE_ACCESS_TTL (--access-ttl)?",
		"GATEHOUSE_ADMIN_PASWORD=x":    "did you mean GATEHOUSE_ADMIN_PASSWORD?",
		"GATEHOUSE_XYZZY_PLUGH=1":      `"gatehouse help serve" lists the flags`,
	} {
		err := checkEnv(root, []string{"PATH=/bin", env})
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", env, err, want)
		}
	}
	// Variables of any command's flags, and the documented others, are accepted.
	if err := checkEnv(root, []string{"GATEHOUSE_SESSION_STORE=redis", "GATEHOUSE_JWKS=http://x", "GATEHOUSE_USERNAME=u",
		"GATEHOUSE_ADMIN_PASSWORD=x", "OTHER_THING=1"}); err != nil {
		t.Fatal(err)
	}
	// The command refuses to run at all, before it opens anything.
	t.Setenv("GATEHOUSE_SESION_STORE", "redis")
	if _, _, err := run(t, "", "serve", "--data", t.TempDir()); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_SESSION_STORE") {
		t.Fatalf("serve with a misspelt variable: %v", err)
	}
}

// TestTokenOfAnotherIssuerIsLogged: an instance sharing the keys but not the issuer refuses
// the other's tokens; its log says why, the client is told only that the token is invalid.
func TestTokenOfAnotherIssuerIsLogged(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	keys := t.TempDir() + "/keys.json"
	a, _ := startServe(t, "--keys-file", keys, "--issuer", "http://a.test")
	b, stopB := startServe(t, "--keys-file", keys, "--issuer", "http://b.test")
	resp, err := http.Post("http://"+a+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest("GET", "http://"+b+"/api/protected", nil)
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 401 || bytes.Contains(body, []byte("a.test")) {
		t.Fatalf("B answered %d %s", resp.StatusCode, body)
	}
	logs := stopB()
	if !strings.Contains(logs, "access token refused") || !strings.Contains(logs, `http://a.test`) || !strings.Contains(logs, "http://b.test") {
		t.Fatalf("B's log does not say why:\n%s", logs)
	}
	if strings.Contains(logs, tok.Token) {
		t.Fatal("the token reached the log")
	}
}
