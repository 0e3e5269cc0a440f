package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// drainingServer is serve run with args until the test cancels its context.
type drainingServer struct {
	base    string
	cancel  context.CancelFunc
	stopped chan struct{} // closed when serve has returned err
	err     error
	logs    *syncWriter
}

func startDraining(t *testing.T, args ...string) *drainingServer {
	t.Helper()
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	cfg := &config{}
	fs := pflag.NewFlagSet("serve", pflag.ContinueOnError)
	cfg.serveFlags(fs)
	if err := fs.Parse(append([]string{"--addr", "127.0.0.1:0", "--data", t.TempDir(), "--log-format", "json"}, args...)); err != nil {
		t.Fatal(err)
	}
	if err := cfg.validateServe(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &drainingServer{cancel: cancel, stopped: make(chan struct{}), logs: &syncWriter{w: &bytes.Buffer{}}}
	ready := make(chan string, 1)
	go func() {
		s.err = serve(ctx, cfg, s.logs, ready)
		close(s.stopped)
	}()
	select {
	case addr := <-ready:
		s.base = "http://" + addr
	case <-s.stopped:
		t.Fatalf("serve: %v", s.err)
	}
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.stopped:
		case <-time.After(30 * time.Second):
		}
	})
	return s
}

func (s *drainingServer) status(t *testing.T, method, path, body string) (int, *http.Response) {
	t.Helper()
	req, _ := http.NewRequest(method, s.base+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	resp.Body.Close()
	return resp.StatusCode, resp
}

func (s *drainingServer) wait(t *testing.T) string {
	t.Helper()
	select {
	case <-s.stopped:
		if s.err != nil {
			t.Fatalf("serve returned %v", s.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop")
	}
	s.logs.mu.Lock()
	defer s.logs.mu.Unlock()
	return s.logs.w.(*bytes.Buffer).String()
}

// TestDrainTurnsReadyzFirst: on SIGTERM, /readyz answers 503 at once while the server goes on
// serving everything else, without keep-alive, for the drain delay; a second signal cuts the
// delay short; the shutdown's log line says what happened.
func TestDrainTurnsReadyzFirst(t *testing.T) {
	s := startDraining(t, append([]string{"--drain-delay", "5m"}, fastHash...)...)
	if code, _ := s.status(t, "GET", "/readyz", ""); code != 200 {
		t.Fatalf("/readyz before the drain: %d", code)
	}
	s.cancel() // what SIGTERM does to serve's context
	testkit.Eventually(t, 10*time.Second, "/readyz answers 503", func() bool {
		code, _ := s.status(t, "GET", "/readyz", "")
		return code == 503
	})
	if code, _ := s.status(t, "GET", "/healthz", ""); code != 200 {
		t.Fatalf("/healthz while draining: %d", code)
	}
	code, resp := s.status(t, "POST", "/api/login", `{"username":"admin","password":"the first admin password"}`)
	if code != 200 || !resp.Close {
		t.Fatalf("a login while draining: %d, connection closed after it: %v (want 200, true)", code, resp.Close)
	}
	select {
	case <-s.stopped:
		t.Fatalf("the server stopped before the drain delay: %v", s.err)
	default:
	}
	// The drain has registered for a second signal before /readyz turned: this one ends the
	// delay instead of the test process.
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	logs := s.wait(t)
	line := regexp.MustCompile(`\{[^\n]*"msg":"gatehouse stopped"[^\n]*\}`).FindString(logs)
	for _, want := range []string{`"cut_short":true`, `"drain_delay":300000000000`, `"closed_unfinished":false`, `"readyz_503_for":`} {
		if !strings.Contains(line, want) {
			t.Errorf("shutdown log line %q lacks %s", line, want)
		}
	}
	if !strings.Contains(logs, "draining: /readyz answers 503") {
		t.Error("no log line when the drain began")
	}
}

// TestDrainWaitsForRequestsInFlight: a login whose password hash is being computed when the
// drain begins gets its answer, and the log line counts it.
func TestDrainWaitsForRequestsInFlight(t *testing.T) {
	s := startDraining(t, "--argon2-time", "40", "--argon2-memory", "8192", "--hash-concurrency", "1")
	result := make(chan int, 1)
	go func() {
		resp, err := http.Post(s.base+"/api/login", "application/json", strings.NewReader(`{"username":"admin","password":"the first admin password"}`))
		if err != nil {
			result <- 0
			return
		}
		resp.Body.Close()
		result <- resp.StatusCode
	}()
	testkit.Eventually(t, 10*time.Second, "the login's hash is being computed", func() bool {
		resp, err := http.Get(s.base + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		buf.ReadFrom(resp.Body)
		return strings.Contains(buf.String(), "\ngatehouse_password_hashes_in_flight 1\n")
	})
	s.cancel()
	if code := <-result; code != 200 {
		t.Fatalf("the login in flight got %d", code)
	}
	logs := s.wait(t)
	m := regexp.MustCompile(`"requests_in_flight":(\d+)`).FindStringSubmatch(logs)
	if n, _ := strconv.Atoi(m[len(m)-1]); len(m) < 2 || n < 1 {
		t.Fatalf("the shutdown log line does not count the login in flight: %v", m)
	}
}

// BenchmarkDrainCount measures what counting the requests in flight adds to a request: the
// same handler served bare and wrapped.
func BenchmarkDrainCount(b *testing.B) {
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {})
	req, _ := http.NewRequest("GET", "/healthz", nil)
	var d drainState
	for _, bc := range []struct {
		name string
		h    http.Handler
	}{{"bare", h}, {"counted", d.count(h)}} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				bc.h.ServeHTTP(nil, req)
			}
		})
	}
}
