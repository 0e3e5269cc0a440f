package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// run executes the command line with args.
func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	cmd := newRootCmd(&out, &errb)
	cmd.SetArgs(args)
	err := cmd.ExecuteContext(context.Background())
	return out.String() + errb.String(), err
}

// newDataDir makes a data directory as "gatehouse serve" leaves it after its first start: a
// SQLite database holding the first admin.
func newDataDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	p := argon2.DefaultParams
	p.Memory, p.Time = 64, 1
	accounts := account.New(sqlite.NewUserStore(db), argon2.New(argon2.Options{Params: p}), account.Policy{}, time.Now)
	if created, _, err := accounts.Bootstrap(ctx, "the first admin password"); err != nil || !created {
		t.Fatalf("bootstrap: %v %v", created, err)
	}
	return dir
}

// TestFillSQLite writes sessions into a stopped server's database; the session manager on the
// same database accepts every one of them.
func TestFillSQLite(t *testing.T) {
	dir := newDataDir(t)
	ctx := context.Background()
	secrets, err := fillSQLite(ctx, dir, 20)
	if err != nil {
		t.Fatal(err)
	}
	if len(secrets) != 20 {
		t.Fatalf("%d secrets", len(secrets))
	}
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	m := session.NewManager(sqlite.NewSessionStore(db), sqlite.NewRevocationStore(db), session.Options{})
	for _, s := range secrets {
		sess, err := m.Authenticate(ctx, s)
		if err != nil || sess.User.Username != "admin" {
			t.Fatalf("a filled session: %v", err)
		}
	}
	if _, err := fillSQLite(ctx, t.TempDir(), 1); err == nil {
		t.Fatal("filling a database without the admin user worked")
	}
}

func TestRefusesBadInput(t *testing.T) {
	server := filepath.Join(t.TempDir(), "gatehouse")
	if err := os.WriteFile(server, []byte("#!/bin/sh\nexit 1\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"floor", "--addr", "0.0.0.0:0"}, "loopback"},
		{[]string{"floor", "--addr", "example.com:80"}, "loopback"},
		{[]string{"--gatehouse", server, "--modes", "session-carrier-pigeon", "--out", t.TempDir()}, "unknown mode"},
		{[]string{"--gatehouse", filepath.Join(t.TempDir(), "missing"), "--out", t.TempDir()}, "--gatehouse"},
		{[]string{"--peer", "auto"}, "unknown flag"},
	} {
		if _, err := run(t, c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}

// TestFindServer: --gatehouse wins; without it, a gatehouse binary on the PATH is found, and
// without any, the error says how to build one.
func TestFindServer(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "gatehouse")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if got, err := findServer(exe); err != nil || got != exe {
		t.Fatalf("--gatehouse %s: %q %v", exe, got, err)
	}
	t.Setenv("PATH", dir)
	if got, err := findServer(""); err != nil || got != exe {
		t.Fatalf("on the PATH: %q %v", got, err)
	}
	t.Setenv("PATH", t.TempDir())
	if _, err := findServer(""); err == nil || !strings.Contains(err.Error(), "go build -o bin/ ./cmd/gatehouse ./cmd/gatehouse-bench") {
		t.Fatalf("no binary: %v", err)
	}
}

func TestStoreAvailable(t *testing.T) {
	for _, s := range []string{"memory", "sqlite"} {
		if !storeAvailable(s) {
			t.Errorf("%s unavailable", s)
		}
	}
}

func TestParseUsedMemory(t *testing.T) {
	info := "# Memory\r\nused_memory:1048576\r\nused_memory_human:1.00M\r\nused_memory_rss:9000000\r\n"
	if n, err := parseUsedMemory(info); err != nil || n != 1048576 {
		t.Fatalf("parseUsedMemory = %d, %v", n, err)
	}
	if _, err := parseUsedMemory("# Memory\r\nused_memory_rss:9\r\n"); err == nil {
		t.Fatal("no used_memory line: want an error")
	}
}

// TestRedisUsedMemory reads the local Redis, the one the Redis modes use.
func TestRedisUsedMemory(t *testing.T) {
	if !storeAvailable("redis") {
		if os.Getenv("CI") != "" {
			t.Fatalf("no Redis at %s (CI is set)", redisAddr)
		}
		t.Skipf("no Redis at %s", redisAddr)
	}
	n, err := redisUsedMemory(t.Context())
	if err != nil || n <= 0 {
		t.Fatalf("redisUsedMemory = %d, %v", n, err)
	}
}
