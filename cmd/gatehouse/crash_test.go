package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// buildBinary builds the gatehouse command into a temporary directory.
func buildBinary(t *testing.T) string {
	t.Helper()
	testkit.Slow(t, "builds the gatehouse binary")
	bin := filepath.Join(t.TempDir(), "gatehouse")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// child is a gatehouse server running as a child process.
type child struct {
	cmd  *exec.Cmd
	base string
}

// startChild runs "bin serve" on a free 127.0.0.1 port and waits until it listens.
func startChild(t *testing.T, bin string, args ...string) *child {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"serve", "--addr", "127.0.0.1:0", "--log-format", "json"}, args...)...)
	cmd.Env = append(os.Environ(), "GATEHOUSE_ADMIN_PASSWORD=the first admin password")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			var rec struct{ Msg, Addr string }
			if json.Unmarshal(sc.Bytes(), &rec) == nil && rec.Msg == "gatehouse listening" {
				addr <- rec.Addr
			}
		}
	}()
	select {
	case a := <-addr:
		return &child{cmd: cmd, base: "http://" + a}
	case <-time.After(30 * time.Second):
		t.Fatal("the child server did not start")
	}
	return nil
}

func postJSON(client *http.Client, url string, body any) (int, map[string]any, error) {
	raw, _ := json.Marshal(body)
	resp, err := client.Post(url, "application/json", strings.NewReader(string(raw)))
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var v map[string]any
	b, _ := io.ReadAll(resp.Body)
	json.Unmarshal(b, &v)
	return resp.StatusCode, v, nil
}

// TestSIGKILLDuringBurst kills the server with SIGKILL in the middle of a burst of
// registrations and refresh-token rotations, then checks the database and restarts on it: the
// integrity check passes, every acknowledged registration is there and no user is half
// created, no refresh family has two live tokens, and the restarted server answers.
func TestSIGKILLDuringBurst(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	args := append([]string{"--data", dir, "--allow-registration", "--login-throttle=false"}, fastHash...)
	srv := startChild(t, bin, args...)

	client := &http.Client{Timeout: 5 * time.Second}
	var registered sync.Map // username -> true, for each 201
	var regOK, refreshOK atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-u%d", w, i)
				code, _, err := postJSON(client, srv.base+"/api/register", map[string]string{"username": name, "password": "a long enough password " + name})
				if err == nil && code == 201 {
					registered.Store(name, true)
					regOK.Add(1)
				}
			}
		}()
	}
	for w := 0; w < 3; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, v, err := postJSON(client, srv.base+"/api/login", map[string]string{"username": "admin", "password": "the first admin password"})
			if err != nil || v["refresh_token"] == nil {
				return
			}
			rt := v["refresh_token"].(string)
			for {
				select {
				case <-stop:
					return
				default:
				}
				code, v, err := postJSON(client, srv.base+"/api/token/refresh", map[string]string{"refresh_token": rt})
				if err != nil || code != 200 {
					return
				}
				rt = v["refresh_token"].(string)
				refreshOK.Add(1)
			}
		}()
	}
	// Let the burst run until both kinds have made progress, then kill without warning.
	deadline := time.Now().Add(20 * time.Second)
	for (regOK.Load() < 50 || refreshOK.Load() < 50) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if err := srv.cmd.Process.Signal(os.Kill); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	close(stop)
	wg.Wait()
	t.Logf("killed after %d registrations and %d refreshes were acknowledged", regOK.Load(), refreshOK.Load())
	if regOK.Load() < 50 || refreshOK.Load() < 50 {
		t.Fatalf("the burst made too little progress: %d registrations, %d refreshes", regOK.Load(), refreshOK.Load())
	}

	checkDatabase(t, filepath.Join(dir, "gatehouse.db"), &registered)

	// The server starts again on the same data and serves.
	srv = startChild(t, bin, args...)
	code, _, err := postJSON(client, srv.base+"/api/login", map[string]string{"username": "admin", "password": "the first admin password"})
	if err != nil || code != 200 {
		t.Fatalf("login after restart: %d %v", code, err)
	}
	n := 0
	registered.Range(func(k, _ any) bool {
		name := k.(string)
		code, _, err := postJSON(client, srv.base+"/api/login", map[string]string{"username": name, "password": "a long enough password " + name})
		if err != nil || code != 200 {
			t.Errorf("acknowledged user %s cannot log in after the restart: %d %v", name, code, err)
		}
		n++
		return n < 5
	})
}

func checkDatabase(t *testing.T, path string, registered *sync.Map) {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	q := db.SQL()
	var integrity string
	if err := q.QueryRow("PRAGMA integrity_check").Scan(&integrity); err != nil || integrity != "ok" {
		t.Fatalf("integrity_check = %q, %v", integrity, err)
	}
	if rows, err := q.Query("PRAGMA foreign_key_check"); err != nil || rows.Next() {
		t.Fatalf("foreign_key_check found violations (%v)", err)
	} else {
		rows.Close()
	}
	// No half-created user: every row is complete and its hash decodes.
	rows, err := q.Query("SELECT id, username, username_norm, role, password_hash FROM users")
	if err != nil {
		t.Fatal(err)
	}
	found := map[string]bool{}
	for rows.Next() {
		var id, name, norm, role, hash string
		if err := rows.Scan(&id, &name, &norm, &role, &hash); err != nil {
			t.Fatal(err)
		}
		if _, _, _, err := argon2.Decode(hash); err != nil || !gatehouse.ValidID(id) || norm != strings.ToLower(name) || !gatehouse.Role(role).Valid() {
			t.Errorf("incomplete user row %q (%v)", name, err)
		}
		found[name] = true
	}
	rows.Close()
	registered.Range(func(k, _ any) bool {
		if !found[k.(string)] {
			t.Errorf("acknowledged registration of %s is lost", k)
		}
		return true
	})
	// Every refresh family has exactly one live token.
	var bad int
	if err := q.QueryRow(`SELECT count(*) FROM refresh_families f
		WHERE (SELECT count(*) FROM refresh_tokens t WHERE t.family_id = f.id AND t.current = 1) != 1`).Scan(&bad); err != nil || bad != 0 {
		t.Fatalf("%d refresh families without exactly one live token (%v)", bad, err)
	}
	var fams int
	q.QueryRow("SELECT count(*) FROM refresh_families").Scan(&fams)
	t.Logf("after the kill: %d users, %d refresh families, integrity ok", len(found), fams)
}
