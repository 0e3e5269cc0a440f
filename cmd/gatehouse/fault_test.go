package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runServe runs "gatehouse serve" with args for at most a few seconds: a configuration that
// should be refused returns its error at once; one that starts is stopped and returns nil.
func runServe(t *testing.T, args ...string) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	var out, errb bytes.Buffer
	cmd := newRootCmd(strings.NewReader(""), &out, &errb)
	cmd.SetArgs(append(append([]string{"serve", "--addr", "127.0.0.1:0"}, fastHash...), args...))
	return cmd.ExecuteContext(ctx)
}

// firstStart creates a data directory with a database, an admin and keys, and returns it.
func firstStart(t *testing.T) string {
	t.Helper()
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	dir := t.TempDir()
	_, stop := startServe(t, "--data", dir)
	stop()
	return dir
}

// TestRefusesToStartWithBadKeys: a missing, unreadable, corrupt, too open or too short key or
// secret stops the server with a message that names the problem, and the key file is never
// replaced by a throwaway one.
func TestRefusesToStartWithBadKeys(t *testing.T) {
	dir := firstStart(t)
	keys := filepath.Join(dir, "keys.json")
	orig, err := os.ReadFile(keys)
	if err != nil {
		t.Fatal(err)
	}
	restore := func() {
		os.RemoveAll(keys)
		if err := os.WriteFile(keys, orig, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name  string
		setup func()
		args  []string
		want  string
	}{
		{"missing over existing data", func() { os.Remove(keys) }, nil, "keys.json is missing, but the data directory already holds 1 accounts"},
		{"no key over existing data", func() { os.WriteFile(keys, []byte(`{"version":1,"keys":[]}`), 0o600) }, nil, "keys.json holds no key, but the data directory already holds 1 accounts"},
		{"not a file", func() { os.Remove(keys); os.Mkdir(keys, 0o700) }, nil, "not a regular file"},
		{"corrupt", func() { os.WriteFile(keys, []byte(`{"version":1,"keys":[{`), 0o600) }, nil, "keys.json is corrupt"},
		{"empty", func() { os.WriteFile(keys, nil, 0o600) }, nil, "keys.json is corrupt"},
		{"readable by others", func() { os.Chmod(keys, 0o644) }, nil, "must not be accessible by group or others"},
		{"short HS256 secret", nil, []string{"--signing-alg", "HS256", "--hmac-secret", "too short"}, "HS256 secret must be at least 32 bytes"},
		{"missing TLS key", nil, []string{"--tls-cert", filepath.Join(dir, "nope.pem"), "--tls-key", filepath.Join(dir, "nope.key")}, "TLS"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			restore()
			if tc.setup != nil {
				tc.setup()
			}
			before, _ := os.ReadFile(keys)
			err := runServe(t, append([]string{"--data", dir}, tc.args...)...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("serve: %v; want an error containing %q", err, tc.want)
			}
			t.Logf("refused: %v", err)
			after, _ := os.ReadFile(keys)
			if !bytes.Equal(before, after) {
				t.Fatal("the key file was changed by a refused start")
			}
		})
	}
	// Creating new keys on purpose is one command away; then the server starts.
	os.RemoveAll(keys)
	if _, _, err := run(t, "", "keys", "rotate", "--data", dir); err != nil {
		t.Fatal(err)
	}
	if err := runServe(t, "--data", dir); err != nil {
		t.Fatalf("serve after keys rotate: %v", err)
	}
}

// TestSQLiteBusyAnswers503: while another connection holds the write lock, requests that must
// write wait --sqlite-busy-timeout and then answer 503 with Retry-After (never hang, never
// 500); reads go on; once the lock is released everything works again.
func TestSQLiteBusyAnswers503(t *testing.T) {
	dir := firstStart(t)
	addr, _ := startServe(t, "--data", dir, "--sqlite-busy-timeout", "200ms")
	base := "http://" + addr
	access := loginToken(t, base)

	other, err := sql.Open("sqlite", "file:"+filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	ctx := context.Background()
	conn, err := other.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "BEGIN EXCLUSIVE"); err != nil {
		t.Fatal(err)
	}
	for _, mode := range []string{"token", "session"} {
		start := time.Now()
		resp := post(t, base+"/api/login", `{"username":"admin","password":"the first admin password","mode":"`+mode+`"}`)
		took := time.Since(start)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 503 || !strings.Contains(string(body), `"unavailable"`) || resp.Header.Get("Retry-After") == "" {
			t.Fatalf("login (%s) under a held lock: %d %s", mode, resp.StatusCode, body)
		}
		if took > 3*time.Second {
			t.Fatalf("login (%s) waited %v for a 200ms busy timeout", mode, took)
		}
		t.Logf("login (%s) under a held lock: 503 after %v", mode, took.Round(time.Millisecond))
	}
	req, _ := http.NewRequest("GET", base+"/api/protected", nil)
	req.Header.Set("Authorization", "Bearer "+access)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a read under a held write lock: %v %v", resp, err)
	}
	if _, err := conn.ExecContext(ctx, "ROLLBACK"); err != nil {
		t.Fatal(err)
	}
	loginToken(t, base)
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	return resp
}

func loginToken(t *testing.T, base string) string {
	t.Helper()
	resp := post(t, base+"/api/login", `{"username":"admin","password":"the first admin password"}`)
	defer resp.Body.Close()
	var v struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&v)
	if resp.StatusCode != 200 || v.Token == "" {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	return v.Token
}
