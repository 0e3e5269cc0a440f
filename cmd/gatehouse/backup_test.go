package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// span is when a request was sent and when its answer came back (monotonic clock).
type span struct{ start, end time.Time }

// cred is a credential the burst made: a session cookie, an access token or a refresh token.
type cred struct {
	kind   string // "session", "access" or "refresh"
	user   string
	value  string
	family *family // the refresh family of an access or refresh token
	born   span    // the request that made it
	died   *span   // the request that ended it (logout, rotation, sign-out everywhere), if any
}

// family is a refresh family's credentials: its refresh tokens and the access tokens issued
// from it, which all die with it.
type family struct{ refresh, access []*cred }

// atSnapshot says what a credential must do on a server restored from a snapshot taken within
// the window w: "live" if it was made before the window and not ended before its end, "dead"
// if it was ended before the window began, or (a stored one) made after the window; "" when
// the window overlaps its making or its end, and either answer is right.
func (c *cred) atSnapshot(w span) string {
	switch {
	case c.born.end.Before(w.start) && (c.died == nil || c.died.start.After(w.end)):
		return "live"
	case c.born.end.Before(w.start) && c.died.end.Before(w.start):
		return "dead"
	case c.born.start.After(w.end) && c.kind != "access":
		return "dead" // never stored in the snapshot (an access token is stateless: not checked)
	}
	return ""
}

// burst drives logins, refreshes and revocations against a server, one worker per set of
// users so that each user's requests are sequential and every credential's life is known.
type burst struct {
	base  string
	users []string
	mu    sync.Mutex
	creds []*cred
	ops   int
	fails []string
}

var burstClient = &http.Client{Timeout: 10 * time.Second}

// call sends a JSON request and returns the status, the decoded body and the answer's cookies.
func call(base, method, path string, body any, hdr ...string) (int, map[string]any, []*http.Cookie, span, error) {
	var rd io.Reader
	if body != nil {
		raw, _ := json.Marshal(body)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		return 0, nil, nil, span{}, err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	sp := span{start: time.Now()}
	resp, err := burstClient.Do(req)
	if err != nil {
		return 0, nil, nil, sp, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	sp.end = time.Now()
	var m map[string]any
	_ = json.Unmarshal(raw, &m)
	return resp.StatusCode, m, resp.Cookies(), sp, nil
}

func (b *burst) record(c ...*cred) {
	b.mu.Lock()
	b.creds = append(b.creds, c...)
	b.ops++
	b.mu.Unlock()
}

func (b *burst) fail(format string, args ...any) {
	b.mu.Lock()
	b.fails = append(b.fails, fmt.Sprintf(format, args...))
	b.mu.Unlock()
}

func (b *burst) opCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ops
}

// worker runs random operations for its users until stop closes.
func (b *burst) worker(users []string, seed uint64, stop <-chan struct{}) {
	rng := rand.New(rand.NewPCG(seed, 1))
	var mine []*cred // this worker's credentials that may still be live
	for {
		select {
		case <-stop:
			return
		default:
		}
		user := users[rng.IntN(len(users))]
		switch op := rng.IntN(100); {
		case op < 25:
			mine = append(mine, b.login(user, "session")...)
		case op < 50:
			mine = append(mine, b.login(user, "token")...)
		case op < 75:
			mine = append(mine, b.refresh(pickLive(rng, mine, user, "refresh"))...)
		case op < 87:
			b.logout(pickLive(rng, mine, user, "session"), mine)
		case op < 97:
			b.logout(pickLive(rng, mine, user, "access"), mine)
		default:
			b.logoutAll(pickLive(rng, mine, user, "session"), mine)
		}
	}
}

func pickLive(rng *rand.Rand, creds []*cred, user, kind string) *cred {
	var live []*cred
	for _, c := range creds {
		if c.user == user && c.kind == kind && c.died == nil {
			live = append(live, c)
		}
	}
	if len(live) == 0 {
		return nil
	}
	return live[rng.IntN(len(live))]
}

func (b *burst) login(user, mode string) []*cred {
	status, body, cookies, sp, err := call(b.base, "POST", "/api/login", map[string]string{"username": user, "password": testUserPassword, "mode": mode})
	if err != nil || status != 200 {
		b.fail("%s login of %s: %d %v", mode, user, status, err)
		return nil
	}
	if mode == "session" {
		for _, c := range cookies {
			if c.Name == "gatehouse_session" {
				s := &cred{kind: "session", user: user, value: c.Value, born: sp}
				b.record(s)
				return []*cred{s}
			}
		}
		b.fail("session login of %s: no cookie", user)
		return nil
	}
	return b.tokens(user, body, &family{}, sp)
}

// tokens records the access and refresh token of an answer.
func (b *burst) tokens(user string, body map[string]any, f *family, sp span) []*cred {
	access, _ := body["access_token"].(string)
	refresh, _ := body["refresh_token"].(string)
	a := &cred{kind: "access", user: user, value: access, family: f, born: sp}
	r := &cred{kind: "refresh", user: user, value: refresh, family: f, born: sp}
	f.refresh = append(f.refresh, r)
	f.access = append(f.access, a)
	b.record(a, r)
	return []*cred{a, r}
}

func (b *burst) refresh(r *cred) []*cred {
	if r == nil {
		return nil
	}
	status, body, _, sp, err := call(b.base, "POST", "/api/token/refresh", map[string]string{"refresh_token": r.value})
	if err != nil || status != 200 {
		b.fail("refresh: %d %v", status, err)
		return nil
	}
	r.died = &sp
	return b.tokens(r.user, body, r.family, sp)
}

func (b *burst) logout(c *cred, mine []*cred) {
	if c == nil {
		return
	}
	status, _, _, sp, err := call(b.base, "POST", "/api/logout", nil, credHeader(c)...)
	if err != nil || status != 204 {
		b.fail("%s logout: %d %v", c.kind, status, err)
		return
	}
	c.died = &sp
	if c.kind == "access" { // the token's refresh family is revoked with it, and its access tokens
		for _, r := range append(c.family.refresh, c.family.access...) {
			if r.died == nil {
				r.died = &sp
			}
		}
	}
	b.record()
}

// logoutAll signs the user out everywhere: every credential of the user made before it dies.
func (b *burst) logoutAll(c *cred, mine []*cred) {
	if c == nil {
		return
	}
	status, _, _, sp, err := call(b.base, "POST", "/api/logout-all", nil, credHeader(c)...)
	if err != nil || status != 204 {
		b.fail("logout-all: %d %v", status, err)
		return
	}
	for _, o := range mine {
		if o.user == c.user && o.died == nil {
			o.died = &sp
		}
	}
	b.record()
}

func credHeader(c *cred) []string {
	if c.kind == "session" {
		return []string{"Cookie", "gatehouse_session=" + c.value}
	}
	return []string{"Authorization", "Bearer " + c.value}
}

// TestBackupUnderLoadRestores backs up a running server's data directory in the middle of a
// burst of logins (both modes), refreshes and revocations, restores the archive into a new
// directory and starts a server on it: every credential that was live at the snapshot works,
// every one revoked or rotated before it stays refused, what came after it does not exist,
// and the restored database passes the integrity check.
func TestBackupUnderLoadRestores(t *testing.T) {
	testkit.Slow(t, "bursts of requests against two servers")
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	dir := t.TempDir()
	addr, stop := startServe(t, "--data", dir, "--login-throttle=false")
	b := &burst{base: "http://" + addr}
	admin := &instance{t: t, base: b.base}
	adminToken, _ := admin.loginToken("admin", "the first admin password")
	for i := range 8 {
		b.users = append(b.users, fmt.Sprintf("user%d", i))
		admin.createUser(adminToken, b.users[i], "user")
	}

	halt := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() { defer wg.Done(); b.worker(b.users[w*2:w*2+2], uint64(w), halt) }()
	}
	waitOps(t, b, 120)
	out := filepath.Join(t.TempDir(), "gatehouse.tar.gz")
	window := span{start: time.Now()}
	stdout, _, err := run(t, "", "backup", "--data", dir, "--out", out)
	window.end = time.Now()
	if err != nil {
		close(halt)
		wg.Wait()
		t.Fatalf("backup: %v", err)
	}
	t.Logf("%s(%d operations before it, backup took %v)", stdout, b.opCount(), window.end.Sub(window.start))
	late := admin.createUser(adminToken, "late-user", "user")
	waitOps(t, b, b.opCount()+120)
	close(halt)
	wg.Wait()
	stop()
	if len(b.fails) > 0 {
		t.Fatalf("%d requests of the burst failed, first: %s", len(b.fails), b.fails[0])
	}
	checkPrivate(t, out)

	restored := filepath.Join(t.TempDir(), "restored")
	if _, _, err := run(t, "", "restore", "--from", out, "--data", restored); err != nil {
		t.Fatalf("restore: %v", err)
	}
	for _, name := range []string{"gatehouse.db", "keys.json"} {
		checkPrivate(t, filepath.Join(restored, name))
	}
	if _, err := sqlite.Check(context.Background(), filepath.Join(restored, "gatehouse.db")); err != nil {
		t.Fatal(err)
	}
	addr2, _ := startServe(t, "--data", restored, "--login-throttle=false")
	checkRestored(t, "http://"+addr2, b, window)
	// Users: those made before the backup are there, the one made after it is not.
	after := &instance{t: t, base: "http://" + addr2}
	after.loginToken(b.users[0], testUserPassword)
	if a := after.do("POST", "/api/login", map[string]string{"username": "late-user", "password": testUserPassword}); a.status != 401 {
		t.Fatalf("a user created after the backup (%s) logs in on the restored server: %d", late, a.status)
	}
}

func waitOps(t *testing.T, b *burst, n int) {
	t.Helper()
	testkit.Eventually(t, 60*time.Second, fmt.Sprintf("%d operations of the burst", n), func() bool { return b.opCount() >= n })
}

func checkPrivate(t *testing.T, path string) {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v %v; want mode 0600", path, st.Mode(), err)
	}
}

// checkRestored presents every credential of the burst to the restored server. Reads come
// first; then live refresh tokens are rotated, then dead ones presented (presenting a rotated
// token revokes its family).
func checkRestored(t *testing.T, base string, b *burst, w span) {
	t.Helper()
	counts := map[string]int{}
	for _, pass := range []string{"read", "refresh-live", "refresh-dead"} {
		for _, c := range b.creds {
			want := c.atSnapshot(w)
			if want == "" || (c.kind == "refresh") != strings.HasPrefix(pass, "refresh") ||
				c.kind == "refresh" && pass != "refresh-"+want {
				continue
			}
			var status int
			var err error
			if c.kind == "refresh" {
				status, _, _, _, err = call(base, "POST", "/api/token/refresh", map[string]string{"refresh_token": c.value})
			} else {
				status, _, _, _, err = call(base, "GET", "/api/protected", nil, credHeader(c)...)
			}
			if err != nil {
				t.Fatal(err)
			}
			if (want == "live") != (status == 200) {
				t.Errorf("%s of %s, made %v, ended %v: %d on the restored server, want %s (backup window %v)",
					c.kind, c.user, c.born.end.Sub(w.start), endedAt(c, w), status, want, w.end.Sub(w.start))
			}
			counts[c.kind+" "+want]++
		}
	}
	t.Logf("checked on the restored server: %v", counts)
	for _, k := range []string{"session live", "session dead", "access live", "access dead", "refresh live", "refresh dead"} {
		if counts[k] == 0 {
			t.Errorf("the burst made no %s credential to check", k)
		}
	}
}

func endedAt(c *cred, w span) any {
	if c.died == nil {
		return "never"
	}
	return c.died.start.Sub(w.start)
}

// TestRestoreRefuses: restore never writes into a directory a server runs on, one that holds
// anything, or over a key file; a damaged or foreign archive is refused whole and leaves the
// target as it was; backup never overwrites its output.
func TestRestoreRefuses(t *testing.T) {
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	live := t.TempDir()
	_, stop := startServe(t, "--data", live)
	out := filepath.Join(t.TempDir(), "b.tar.gz")
	if _, _, err := run(t, "", "backup", "--data", live, "--out", out); err != nil {
		t.Fatal(err)
	}
	if _, _, err := run(t, "", "backup", "--data", live, "--out", out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Fatalf("backup over an existing file: %v", err)
	}
	if _, _, err := run(t, "", "restore", "--from", out, "--data", live); err == nil || !strings.Contains(err.Error(), "server is running") {
		t.Fatalf("restore into a live directory: %v", err)
	}
	if err := runServe(t, "--data", live); err == nil || !strings.Contains(err.Error(), "server is running") {
		t.Fatalf("a second server on the same data directory: %v", err)
	}
	stop()
	for _, tc := range []struct{ name, want string }{
		{"non-empty", "not empty"}, {"keys", "key file"},
	} {
		dir := filepath.Join(t.TempDir(), "d")
		args := []string{"restore", "--from", out, "--data", dir}
		if tc.name == "non-empty" {
			os.MkdirAll(dir, 0o700)
			os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("mine"), 0o600)
		} else {
			args = append(args, "--keys-file", filepath.Join(live, "keys.json"))
		}
		if _, _, err := run(t, "", args...); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v", tc.name, err)
		}
	}

	good, _ := os.ReadFile(out)
	for name, archive := range map[string][]byte{
		"truncated":   good[:len(good)/2],
		"flipped":     flipByte(good, len(good)/2),
		"not gzip":    []byte("hello"),
		"foreign tar": tarOf(t, map[string]string{"../../etc/passwd": "x"}),
		"no keys":     tarOf(t, map[string]string{"manifest.json": `{"format":"gatehouse-backup","version":1,"files":[{"name":"gatehouse.db"}]}`}),
	} {
		path := filepath.Join(t.TempDir(), "bad.tar.gz")
		os.WriteFile(path, archive, 0o600)
		dir := filepath.Join(t.TempDir(), "target")
		if _, _, err := run(t, "", "restore", "--from", path, "--data", dir); err == nil {
			t.Errorf("%s archive restored", name)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			entries, _ := os.ReadDir(dir)
			t.Errorf("%s archive: the target was left behind: %v", name, entries)
		}
	}
	if _, _, err := run(t, "", "backup", "--data", t.TempDir(), "--out", filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("backup of a directory without a database: %v", err)
	}
}

func flipByte(b []byte, i int) []byte {
	c := bytes.Clone(b)
	c[i] ^= 0xff
	return c
}

// tarOf returns a gzip-compressed tar of the files.
func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for name, body := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0o600, Size: int64(len(body)), Typeflag: tar.TypeReg})
		tw.Write([]byte(body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}
