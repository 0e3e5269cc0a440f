package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
)

// The local services of every development and CI machine.
const (
	testPostgres = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
	testRedis    = "127.0.0.1:6379"
)

const clusterAdminPassword = "the cluster admin password"

// backends are the shared stores of a test cluster: a PostgreSQL schema and a Redis key prefix
// of the test's own.
type backends struct {
	pgURL    string // with search_path set to the schema
	schema   string
	redisURL string
	prefix   string
	keys     string // the shared signing key file
}

// skipOrFail skips the test when a local service is unreachable and CI is unset.
func skipOrFail(t testing.TB, what string, err error) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is unreachable (CI is set, so this fails): %v", what, err)
	}
	t.Skipf("%s is unreachable, skipping (set CI to make this fail): %v", what, err)
}

// newBackends creates the schema (dropped at the end) and picks a prefix, on the local
// PostgreSQL and on redisAddr.
func newBackends(t testing.TB, redisAddr string) *backends {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, testPostgres)
	if err != nil {
		skipOrFail(t, "PostgreSQL", err)
	}
	id := gatehouse.NewID(time.Now())
	b := &backends{schema: "gh_cmd_" + id, prefix: "gatehouse-test:" + id + ":", keys: filepath.Join(t.TempDir(), "keys.json")}
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+b.schema); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		admin.Exec(context.Background(), "DROP SCHEMA "+b.schema+" CASCADE")
		admin.Close(context.Background())
	})
	b.pgURL = testPostgres + "&search_path=" + b.schema + "&application_name=" + b.schema
	b.redisURL = "redis://" + redisAddr + "/0"
	if c, err := netDial(redisAddr); err != nil {
		skipOrFail(t, "Redis at "+redisAddr, err)
	} else {
		c.Close()
	}
	return b
}

// instance is one gatehouse server of a test cluster, run in-process through serve() on a
// free 127.0.0.1 port.
type instance struct {
	t      testing.TB
	base   string
	cancel context.CancelFunc
	done   chan error
	logs   *syncWriter
}

// startInstance runs "gatehouse serve" on the backends with extra flags.
func startInstance(t testing.TB, b *backends, extra ...string) *instance {
	t.Helper()
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", clusterAdminPassword)
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	args := append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--keys-file", b.keys,
		"--user-store", "postgres", "--postgres-url", b.pgURL, "--session-store", "redis",
		"--redis-url", b.redisURL, "--redis-prefix", b.prefix, "--log-format", "json",
		// Generous bounds: the race detector on a busy machine is slow. The fault tests set
		// the production defaults again.
		"--postgres-timeout", "5s", "--redis-timeout", "2s"}, fastHash...)
	if err := fs.Parse(append(args, extra...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validateServe(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{t: t, cancel: cancel, done: make(chan error, 1), logs: &syncWriter{w: &bytes.Buffer{}}}
	ready := make(chan string, 1)
	go func() { in.done <- serve(ctx, cfg, in.logs, ready) }()
	select {
	case addr := <-ready:
		in.base = "http://" + addr
	case err := <-in.done:
		t.Fatalf("serve: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("instance did not start")
	}
	t.Cleanup(in.stop)
	return in
}

func (in *instance) stop() {
	if in.cancel == nil {
		return
	}
	in.cancel()
	in.cancel = nil
	select {
	case <-in.done:
	case <-time.After(20 * time.Second):
		in.t.Error("instance did not stop")
	}
}

// answer is a decoded HTTP answer.
type answer struct {
	status int
	header http.Header
	body   map[string]any
	raw    string
	took   time.Duration
}

func (a answer) str(k string) string { s, _ := a.body[k].(string); return s }

// client has no cookie jar and does not reuse answers: each call says what it sends.
var client = &http.Client{Timeout: 10 * time.Second}

// do sends a request to the instance; body is JSON-encoded unless nil; hdr are name, value pairs.
func (in *instance) do(method, path string, body any, hdr ...string) answer {
	in.t.Helper()
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, in.base+path, rd)
	if err != nil {
		in.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	start := time.Now()
	resp, err := checkedClient(in.t).Do(req)
	if err != nil {
		in.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	a := answer{status: resp.StatusCode, header: resp.Header, raw: string(raw), took: time.Since(start)}
	_ = json.Unmarshal(raw, &a.body)
	return a
}

func expectStatus(t testing.TB, what string, a answer, status int, code string) {
	t.Helper()
	if a.status != status || code != "" && a.str("error") != code {
		t.Fatalf("%s: %d %s; want %d %s", what, a.status, strings.TrimSpace(a.raw), status, code)
	}
}

// loginSession logs in with mode session and returns the Cookie header value.
func (in *instance) loginSession(user, pw string) string {
	in.t.Helper()
	a := in.do("POST", "/api/login", map[string]string{"username": user, "password": pw, "mode": "session"})
	expectStatus(in.t, "session login", a, 200, "")
	for _, c := range (&http.Response{Header: a.header}).Cookies() {
		if c.Name == "gatehouse_session" {
			return c.Name + "=" + c.Value
		}
	}
	in.t.Fatalf("no session cookie: %v", a.header)
	return ""
}

// loginToken logs in with mode token and returns the access and refresh tokens.
func (in *instance) loginToken(user, pw string) (string, string) {
	in.t.Helper()
	a := in.do("POST", "/api/login", map[string]string{"username": user, "password": pw, "mode": "token"})
	expectStatus(in.t, "token login", a, 200, "")
	return a.str("access_token"), a.str("refresh_token")
}

func cookieHdr(c string) []string   { return []string{"Cookie", c} }
func bearerHdr(tok string) []string { return []string{"Authorization", "Bearer " + tok} }

// createUser makes a user through the admin API of in, with the admin's token.
func (in *instance) createUser(adminToken, name string, role gatehouse.Role) string {
	in.t.Helper()
	a := in.do("POST", "/api/admin/users", map[string]string{"username": name, "password": testUserPassword, "role": string(role)}, bearerHdr(adminToken)...)
	expectStatus(in.t, "create user", a, 201, "")
	u, _ := a.body["user"].(map[string]any)
	id, _ := u["id"].(string)
	if id == "" {
		in.t.Fatalf("create user: no id in %s", a.raw)
	}
	return id
}

func netDial(addr string) (net.Conn, error) { return net.DialTimeout("tcp", addr, time.Second) }

const testUserPassword = "a user password long enough"

// logText returns what the instance has logged so far.
func (in *instance) logText() string {
	in.logs.mu.Lock()
	defer in.logs.mu.Unlock()
	return in.logs.w.(*bytes.Buffer).String()
}
