package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
)

// run executes the gatehouse command line with args and returns its output.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd(strings.NewReader(stdin), &out, &errb)
	cmd.SetArgs(args)
	err = cmd.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

var fastHash = []string{"--argon2-memory", "64", "--argon2-time", "1"}

func TestHelpDocumentsEveryFlag(t *testing.T) {
	out, _, err := run(t, "", "help", "serve")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"--addr string", `(default "127.0.0.1:8080")`, "GATEHOUSE_ADDR", "--session-store", `(default "sqlite")`,
		"--default-mode", `(default "token")`, "--signing-alg", `(default "EdDSA")`, "--redis-url", "--postgres-url",
		"--tls-cert", "--tls-key", "--min-password-length", "(default 15)", "GATEHOUSE_ADMIN_PASSWORD",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("help serve lacks %q", want)
		}
	}
}

func TestEnvironmentAndFlagPrecedence(t *testing.T) {
	cmd := newServeCmd()
	fs := cmd.Flags()
	if err := fs.Parse([]string{"--addr", "127.0.0.1:9999"}); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"GATEHOUSE_ADDR": "127.0.0.1:1", "GATEHOUSE_SESSION_STORE": "memory", "GATEHOUSE_ACCESS_TTL": "5m"}
	if err := applyEnv(fs, func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	for flag, want := range map[string]string{"addr": "127.0.0.1:9999", "session-store": "memory", "access-ttl": "5m0s"} {
		if got := fs.Lookup(flag).Value.String(); got != want {
			t.Errorf("--%s = %q, want %q", flag, got, want)
		}
	}
	env["GATEHOUSE_ACCESS_TTL"] = "soon"
	if err := applyEnv(newServeCmd().Flags(), func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err == nil || !strings.Contains(err.Error(), "GATEHOUSE_ACCESS_TTL") {
		t.Fatalf("bad env value: err = %v", err)
	}
}

func TestBadConfigurationRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data", dir, "--session-store", "carrier-pigeon"},
		{"serve", "--data", dir, "--default-mode", "magic"},
		{"serve", "--data", dir, "--tls-cert", "x.pem"},
		{"serve", "--data", dir, "--signing-alg", "HS256", "--hmac-secret", "too short"},
		{"serve", "--data", dir, "--signing-alg", "none"},
		{"serve", "--data", dir, "--log-level", "loud"},
		{"serve", "--data", dir, "--user-store", "postgres"},
		{"serve", "--data", dir, "--user-store", "mongodb"},
		{"serve", "--data", dir, "--session-store", "redis", "--redis-url", "http://127.0.0.1:1"},
		{"serve", "--data", dir, "--session-store", "redis", "--redis-timeout", "0s"},
		{"serve", "--data", dir, "--session-store", "redis", "--redis-prefix", "gatehouse{}:"},
		{"serve", "--data", dir, "--session-store", "redis", "--redis-client-cache=maybe"},
		{"serve", "--data", dir, "--session-store", "redis", "--redis-session-format", "4"},
	} {
		if _, _, err := run(t, "", append(args, fastHash...)...); err == nil {
			t.Errorf("%v started", args)
		}
	}
}

func TestUserAddAndKeysRotate(t *testing.T) {
	dir := t.TempDir()
	out, _, err := run(t, "a long enough password\n", append([]string{"user", "add", "--data", dir, "--username", "alice", "--role", "admin", "--password-stdin"}, fastHash...)...)
	if err != nil || !strings.Contains(out, `created user "alice"`) || !strings.Contains(out, "role admin") {
		t.Fatalf("user add: %q %v", out, err)
	}
	if _, _, err := run(t, "x\n", append([]string{"user", "add", "--data", dir, "--username", "ALICE", "--password-stdin"}, fastHash...)...); err == nil {
		t.Fatal("duplicate username accepted")
	}
	// The password policy's context words come from --password-context-words.
	_, _, err = run(t, "acme industries pw\n", append([]string{"user", "add", "--data", dir, "--username", "carol", "--password-stdin",
		"--password-context-words", "acme industries"}, fastHash...)...)
	if err == nil || !strings.Contains(err.Error(), "besides the name of this service") {
		t.Fatalf("a password made of the context words: %v", err)
	}
	if _, _, err := run(t, "acme industries password\n", append([]string{"user", "add", "--data", dir, "--username", "carol", "--password-stdin",
		"--password-context-words", ""}, fastHash...)...); err != nil {
		t.Fatalf("no context words: %v", err)
	}
	out, _, err = run(t, "", append([]string{"user", "add", "--data", dir, "--username", "bob"}, fastHash...)...)
	if err != nil || !strings.Contains(out, "password (shown only this once): ") {
		t.Fatalf("generated password: %q %v", out, err)
	}
	out, _, err = run(t, "", "keys", "rotate", "--data", dir)
	if err != nil || !strings.Contains(out, "new EdDSA signing key") {
		t.Fatalf("keys rotate: %q %v", out, err)
	}
	st, err := os.Stat(filepath.Join(dir, "keys.json"))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("keys.json: %v %v", st, err)
	}
}

// startServe runs serve with args on a free port until the test ends; it returns the address
// and a function that stops the server and returns its logs.
func startServe(t *testing.T, args ...string) (addr string, stop func() string) {
	t.Helper()
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	if err := fs.Parse(append(append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir()}, fastHash...), args...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validateServe(); err != nil { // as "gatehouse serve" does before serving
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncWriter{w: &bytes.Buffer{}}
	go func() { done <- serve(ctx, cfg, logs, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("serve: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	stopped := false
	stop = func() string {
		if !stopped {
			stopped = true
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("serve returned %v", err)
				}
			case <-time.After(20 * time.Second):
				t.Error("server did not stop")
			}
		}
		logs.mu.Lock()
		defer logs.mu.Unlock()
		return logs.w.(*bytes.Buffer).String()
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}

// TestServe runs the real server on a free port: first-start admin, login, protected, graceful stop.
func TestServe(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	addr, stop := startServe(t, "--log-format", "json")
	base := "http://" + addr
	client := checkedClient(t)
	resp, err := client.Post(base+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	if resp.StatusCode != 200 || body.Token == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", base+"/api/protected", nil)
	req.Header.Set("Authorization", "Bearer "+body.Token)
	resp, err = client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(raw), "Welcome admin") {
		t.Fatalf("protected: %d %s", resp.StatusCode, raw)
	}
	logs := stop()
	if strings.Contains(logs, body.Token) || strings.Contains(logs, "the first admin password") {
		t.Fatal("a secret reached the logs")
	}
	if !strings.Contains(logs, "gatehouse listening") {
		t.Fatalf("logs: %s", logs)
	}
}

// TestServeTLS serves HTTPS with a self-signed certificate: session cookies are Secure and
// carry the __Host- prefix, and tokens name an https issuer.
func TestServeTLS(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	certFile, keyFile, pool := selfSigned(t)
	addr, _ := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := client.Post("https://"+addr+"/api/login", "application/json",
		strings.NewReader(`{"username":"admin","password":"the first admin password","mode":"session"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	sc := resp.Header.Get("Set-Cookie")
	if resp.StatusCode != 200 || !strings.HasPrefix(sc, "__Host-gatehouse_session=") || !strings.Contains(sc, "Secure") || !strings.Contains(sc, "HttpOnly") {
		t.Fatalf("login over TLS: %d, Set-Cookie %q", resp.StatusCode, sc)
	}
	if got := resp.Header.Get("Strict-Transport-Security"); got != "max-age=31536000" {
		t.Fatalf("Strict-Transport-Security %q over TLS, want max-age=31536000 (--hsts-max-age's default)", got)
	}
	// --hsts-max-age sets it; 0 turns it off.
	for _, c := range []struct{ flag, want string }{{"1h", "max-age=3600"}, {"0", ""}} {
		addr, _ := startServe(t, "--tls-cert", certFile, "--tls-key", keyFile, "--hsts-max-age", c.flag)
		resp, err := client.Get("https://" + addr + "/healthz")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("Strict-Transport-Security"); got != c.want {
			t.Fatalf("--hsts-max-age %s: Strict-Transport-Security %q, want %q", c.flag, got, c.want)
		}
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// syncWriter serialises writes from the server's goroutines.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(b)
}

func TestMetricsOfTheWiredServer(t *testing.T) {
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	if err := fs.Parse(append([]string{"--data", t.TempDir()}, fastHash...)); err != nil {
		t.Fatal(err)
	}
	a, err := buildApp(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	srv := httptest.NewServer(a.server)
	defer srv.Close()
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	if err := a.bootstrap(context.Background(), io.Discard); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		resp, err := http.Post(srv.URL+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password","mode":"session"}`))
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("login: %v %v", resp, err)
		}
		resp.Body.Close()
	}
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{"gatehouse_sessions_active 3", "gatehouse_password_hashes_in_flight 0", "gatehouse_password_hashes_waiting 0",
		`gatehouse_auth_decisions_total`, `gatehouse_http_requests_total{code="200",route="POST /api/login"} 3`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("metrics lack %q", want)
		}
	}
	// The periodic sweep runs without error and keeps live records.
	a.sweep(context.Background())
}
