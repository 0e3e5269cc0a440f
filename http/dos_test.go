package http_test

import (
	"bufio"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"

	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// hostileBodies are request bodies meant to cost the server: too big, too deep, too many.
func hostileBodies() map[string]string {
	return map[string]string{
		"deep arrays":    `{"username":` + strings.Repeat("[", 60_000) + `}`,
		"deep objects":   `{"username":` + strings.Repeat(`{"a":`, 12_000) + `}`,
		"many keys":      "{" + strings.Repeat(`"k":1,`, 10_000) + `"username":"a"}`,
		"long string":    `{"username":"a","password":"` + strings.Repeat("a", 60_000) + `"}`,
		"huge number":    `{"username":` + strings.Repeat("9", 60_000) + `}`,
		"escapes":        `{"password":"` + strings.Repeat(`\u00e9`, 10_000) + `"}`,
		"over the limit": `{"username":"` + strings.Repeat("a", ghttp.MaxBodyBytes) + `"}`,
	}
}

// TestHostileJSONRejected: huge, deeply nested and wide bodies are refused with 400 or 413, on
// every route that reads JSON, without the server allocating more than a few times the body.
func TestHostileJSONRejected(t *testing.T) {
	h := newHarness(t, options{registration: true, noThrottle: true})
	admin, _ := h.loginToken("admin", h.adminPW)
	for name, body := range hostileBodies() {
		for _, rt := range []struct{ method, path string }{
			{"POST", "/api/login"}, {"POST", "/api/register"}, {"POST", "/api/token/refresh"}, {"POST", "/api/admin/users"},
		} {
			req := httptest.NewRequest(rt.method, rt.path, strings.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+admin)
			req.Header.Set("Content-Type", "application/json")
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			w := httptest.NewRecorder()
			h.server.ServeHTTP(w, req)
			runtime.ReadMemStats(&after)
			want := 400
			if len(body) > ghttp.MaxBodyBytes {
				want = 413
			}
			if w.Code != want {
				t.Errorf("%s to %s: %d %s, want %d", name, rt.path, w.Code, w.Body, want)
			}
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 4<<20 {
				t.Errorf("%s to %s allocated %d bytes", name, rt.path, alloc)
			}
		}
	}
}

// BenchmarkHostileJSON measures how fast the hostile bodies are refused (the timing lives here,
// not in a pass/fail test).
func BenchmarkHostileJSON(b *testing.B) {
	h := newHarness(b, options{noThrottle: true})
	for name, body := range hostileBodies() {
		b.Run(strings.ReplaceAll(name, " ", "-"), func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("POST", "/api/login", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				h.server.ServeHTTP(w, req)
				if w.Code != 400 && w.Code != 413 {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}

// TestStreamedHugeBody: a client streaming a body of 50 MiB gets 413 after 64 KiB, and the
// server does not read the rest.
func TestStreamedHugeBody(t *testing.T) {
	h := newHarness(t, options{})
	var read atomic.Int64
	body := io.LimitReader(&countingZeros{n: &read}, 50<<20)
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/login", io.MultiReader(strings.NewReader(`{"username":"`), body))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err == nil {
		defer resp.Body.Close()
		if resp.StatusCode != 413 {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
	// Either the answer came, or the server closed the connection while we were still sending.
	if n := read.Load(); n > 8<<20 {
		t.Fatalf("the server let the client send %d bytes", n)
	}
}

type countingZeros struct{ n *atomic.Int64 }

func (c *countingZeros) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = 'a'
	}
	c.n.Add(int64(len(p)))
	return len(p), nil
}

// TestHeaderAndTokenCaps: a bearer token over 8 KiB is 413 too_large before any decoding; headers
// over MaxHeaderBytes are refused by the server (431) without reaching a handler.
func TestHeaderAndTokenCaps(t *testing.T) {
	h := newHarness(t, options{})
	expect(t, h.do("GET", "/api/protected", nil, bearer(strings.Repeat("a", 9<<10))...), 413, "too_large")
	expect(t, h.do("GET", "/api/protected", nil, bearer(strings.Repeat("eyJ", 3000)+"."+strings.Repeat("a", 100)+".b")...), 413, "too_large")
	// A header block larger than MaxHeaderBytes (256 KiB), sent raw.
	srv := httptest.NewUnstartedServer(h.server)
	srv.Config = ghttp.NewHTTPServer("", h.server, nil, discardLogger())
	srv.Start()
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	fmt.Fprintf(conn, "GET /api/protected HTTP/1.1\r\nHost: x\r\nCookie: %s\r\n\r\n", strings.Repeat("c", ghttp.MaxHeaderBytes+8192))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Fatalf("oversized headers: %d", resp.StatusCode)
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
