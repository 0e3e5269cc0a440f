package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// adminBase returns the URL of the admin listener, from its log line.
func (s *drainingServer) adminBase(t *testing.T) string {
	t.Helper()
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	m := regexp.MustCompile(`"msg":"admin listener","addr":"([^"]+)"`).FindStringSubmatch(s.logs.w.(*bytes.Buffer).String())
	if m == nil {
		t.Fatal("no admin listener in the log")
	}
	return "http://" + m[1]
}

func fetch(t *testing.T, method, url, token string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// TestAdminListener runs serve with an admin listener that alone serves the metrics and the
// administration API; the drain turns /readyz on both and stops both.
func TestAdminListener(t *testing.T) {
	s := startDraining(t, append([]string{"--admin-addr", "127.0.0.1:0", "--admin-api-on-admin-addr", "--drain-delay", "5m"}, fastHash...)...)
	admin := s.adminBase(t)
	resp, err := http.Post(s.base+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password"}`))
	if err != nil {
		t.Fatal(err)
	}
	var body struct {
		AccessToken string `json:"access_token"`
	}
	json.NewDecoder(resp.Body).Decode(&body)
	resp.Body.Close()
	for _, tc := range []struct {
		url  string
		want int
	}{
		{s.base + "/api/admin/users", 404}, {s.base + "/metrics", 404}, {s.base + "/readyz", 200}, {s.base + "/api/me", 200},
		{admin + "/api/admin/users", 200}, {admin + "/metrics", 200}, {admin + "/readyz", 200}, {admin + "/healthz", 200},
		{admin + "/api/me", 404},
	} {
		if code, _ := fetch(t, "GET", tc.url, body.AccessToken); code != tc.want {
			t.Errorf("GET %s: %d, want %d", tc.url, code, tc.want)
		}
	}
	_, metrics := fetch(t, "GET", admin+"/metrics", "")
	for _, want := range []string{`gatehouse_http_request_duration_seconds_count{auth="bearer",route="GET /api/admin/users"} 1`,
		`gatehouse_login_duration_seconds_count{outcome="ok"} 1`, "gatehouse_build_info{"} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}

	s.cancel() // what SIGTERM does to serve's context
	testkit.Eventually(t, 10*time.Second, "/readyz answers 503 on both listeners", func() bool {
		a, _ := fetch(t, "GET", admin+"/readyz", "")
		p, _ := fetch(t, "GET", s.base+"/readyz", "")
		return a == 503 && p == 503
	})
	if code, _ := fetch(t, "GET", admin+"/metrics", ""); code != 200 {
		t.Errorf("metrics while draining: %d", code)
	}
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil { // ends the delay
		t.Fatal(err)
	}
	logs := s.wait(t)
	for _, base := range []string{s.base, admin} {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			t.Errorf("%s still answers after the drain", base)
		}
	}
	if strings.Contains(logs, body.AccessToken) {
		t.Error("the access token reached the log")
	}
	if !strings.Contains(logs, `"msg":"request","method":"GET","route":"GET /api/admin/users","path":"/api/admin/users","status":200`) {
		t.Errorf("no access log line of the admin API:\n%s", logs)
	}
}

func TestAccessLogFlag(t *testing.T) {
	s := startDraining(t, append([]string{"--access-log=false"}, fastHash...)...)
	fetch(t, "GET", s.base+"/healthz", "")
	s.cancel()
	if logs := s.wait(t); strings.Contains(logs, `"msg":"request"`) {
		t.Fatalf("an access log line with --access-log=false:\n%s", logs)
	}
}

func TestAdminListenerFlagsAreChecked(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"serve", "--data", dir, "--admin-api-on-admin-addr"},
		{"serve", "--data", dir, "--admin-addr", "127.0.0.1:8080"},
		{"serve", "--data", dir, "--admin-addr", "9090"},
	} {
		if _, _, err := run(t, "", append(args, fastHash...)...); err == nil || !strings.Contains(err.Error(), "--admin-") {
			t.Errorf("%v: %v", args, err)
		}
	}
}
