package bench

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// authServer accepts requests whose Authorization header is "Bearer good", streams a chunked
// answer on /chunked, and closes the connection after each answer on /close.
func authServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var served atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		served.Add(1)
		if r.Header.Get("Authorization") != "Bearer good" {
			http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
			return
		}
		switch r.URL.Path {
		case "/chunked":
			w.Write([]byte(strings.Repeat("x", 100)))
			w.(http.Flusher).Flush()
			w.Write([]byte("tail"))
		case "/close":
			w.Header().Set("Connection", "close")
			w.Write([]byte("bye"))
		default:
			w.Write([]byte("ok"))
		}
	}))
	t.Cleanup(srv.Close)
	return srv, &served
}

func addrOf(srv *httptest.Server) string { return strings.TrimPrefix(srv.URL, "http://") }

func creds(lines ...string) func(int, int) [][]byte {
	var out [][]byte
	for _, l := range lines {
		out = append(out, []byte(l))
	}
	return poolCreds(out)
}

func TestLoadCountsAnswers(t *testing.T) {
	srv, served := authServer(t)
	for _, path := range []string{"/", "/chunked", "/close"} {
		served.Store(0)
		l := Load{Targets: []string{addrOf(srv)}, Path: path, Conns: 4, Duration: 5 * time.Second, MaxRequests: 400,
			Creds: creds("Authorization: Bearer good\r\n", "Authorization: Bearer bad\r\n")}
		res, err := l.Run(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if res.Requests != 400 || res.Errors != 0 || int64(res.Requests) != served.Load() {
			t.Fatalf("%s: %d requests, %d errors, %d served (%v)", path, res.Requests, res.Errors, served.Load(), res.ErrorMsg)
		}
		ok, bad := res.Status[200], res.Status[401]
		if ok+bad != 400 || ok < 100 || bad < 100 || res.OK != ok || res.Failed() != bad {
			t.Fatalf("%s: %d ok, %d refused: want about half each", path, ok, bad)
		}
		if res.Latency.Count() != ok || res.Latency.Quantile(0.5) <= 0 {
			t.Fatalf("%s: %d latencies for %d answers", path, res.Latency.Count(), ok)
		}
		var slots uint64
		for _, s := range res.Timeline {
			slots += s.OK + s.Rejected + s.Failed
		}
		if slots != 400 {
			t.Fatalf("%s: the timeline counts %d requests", path, slots)
		}
	}
}

func TestLoadIsBoundedInTime(t *testing.T) {
	srv, _ := authServer(t)
	l := Load{Targets: []string{addrOf(srv)}, Path: "/", Conns: 2, Duration: 300 * time.Millisecond, Creds: creds("Authorization: Bearer good\r\n")}
	t0 := time.Now()
	res, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(t0); el > 2*time.Second {
		t.Fatalf("a 300 ms load ran %v", el)
	}
	if res.OK == 0 || res.RPS() <= 0 || res.Failed() != 0 {
		t.Fatalf("%d ok, %d failed", res.OK, res.Failed())
	}
}

func TestLoadRefusesRemoteTargets(t *testing.T) {
	for _, target := range []string{"10.0.0.1:80", "example.com:80", "192.168.1.1:8080", "nonsense"} {
		l := Load{Targets: []string{target}, Path: "/", Duration: time.Second}
		if _, err := l.Run(context.Background()); err == nil {
			t.Errorf("a load on %s ran", target)
		}
	}
}

func TestLoadFailsOverFromADeadTarget(t *testing.T) {
	srv, _ := authServer(t)
	// A port that refuses connections: listen, note the address, close.
	l0, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l0.Addr().String()
	l0.Close()
	l := Load{Targets: []string{dead, addrOf(srv)}, Path: "/", Conns: 4, Duration: 400 * time.Millisecond, Failover: true,
		Creds: creds("Authorization: Bearer good\r\n")}
	res, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors == 0 || res.Errors > 4 || res.OK < 10 {
		t.Fatalf("%d errors (%v), %d ok: want one refused connection per connection that started on the dead target, then answers", res.Errors, res.ErrorMsg, res.OK)
	}
	// Without failover the connections stay on their dead target.
	l.Failover = false
	res, err = l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors < 10 {
		t.Fatalf("%d errors without failover", res.Errors)
	}
}

func TestLoadSequentialUsesEachCredentialOnce(t *testing.T) {
	var mu sync.Mutex
	seen := map[string]int{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen[r.Header.Get("Authorization")]++
		mu.Unlock()
	}))
	defer srv.Close()
	var lines []string
	for i := range 500 {
		lines = append(lines, fmt.Sprintf("Authorization: Bearer t%d\r\n", i))
	}
	l := Load{Targets: []string{addrOf(srv)}, Path: "/", Conns: 8, Duration: 10 * time.Second, MaxRequests: 500, Sequential: true, Creds: creds(lines...)}
	res, err := l.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if res.OK != 500 || len(seen) != 500 {
		t.Fatalf("%d answers, %d distinct credentials", res.OK, len(seen))
	}
	for k, n := range seen {
		if n != 1 {
			t.Fatalf("%q used %d times", k, n)
		}
	}
}
