package http_test

import (
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// discard is a ResponseWriter that keeps nothing, so the benchmarks measure the server.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkAuthenticate measures GET /api/protected through the whole handler stack (routing,
// metrics, authentication, revocation checks, role check, JSON answer) for each mode. The
// "hello" case is a bare handler writing a constant: the floor. The -redis modes keep
// revocations (and for session-redis the sessions) in the local Redis, read through rueidis
// client-side caching, or with a round trip per read for the -uncached ones; they skip when
// Redis is unreachable and CI is unset.
func BenchmarkAuthenticate(b *testing.B) {
	b.Run("hello", func(b *testing.B) {
		h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			w.Write([]byte("hello\n"))
		})
		req, _ := http.NewRequest("GET", "/hello", nil)
		runBench(b, h, req)
	})
	for _, mode := range []struct{ name, store, alg, redis string }{
		{"session-memory", "memory", "", ""},
		{"session-sqlite", "sqlite", "", ""},
		{"session-redis", "redis", "", "cached"},
		{"session-redis-uncached", "redis", "", "uncached"},
		{"jwt-eddsa", "", "EdDSA", ""},
		{"jwt-eddsa-redis", "", "EdDSA", "cached"},
		{"jwt-eddsa-redis-uncached", "", "EdDSA", "uncached"},
		{"jwt-es256", "", "ES256", ""},
		{"jwt-hs256", "", "HS256", ""},
	} {
		b.Run(mode.name, func(b *testing.B) {
			clk := newClock()
			h := newHarness(b, options{sessionStore: mode.store, alg: mode.alg, clock: clk, redis: mode.redis})
			req, _ := http.NewRequest("GET", "/api/protected", nil)
			if mode.alg == "" {
				req.Header.Set("Cookie", h.loginSession("admin", h.adminPW))
			} else {
				access, _ := h.loginToken("admin", h.adminPW)
				req.Header.Set("Authorization", "Bearer "+access)
			}
			req.RemoteAddr = "127.0.0.1:40000"
			clk.SetStep(0) // the token must not expire while b.N grows
			w := &discard{h: http.Header{}}
			h.server.ServeHTTP(w, req)
			if w.code != http.StatusOK {
				b.Fatalf("not authenticated: status %d", w.code)
			}
			if code := runBench(b, h.server, req); code != http.StatusOK {
				b.Fatalf("last answer: status %d", code)
			}
		})
	}
}

// runBench serves req b.N times and returns the status of the last answer. Besides wall time
// it reports the process's CPU time per request (cpu-ns/op), which says more than wall time
// when the machine is shared.
func runBench(b *testing.B, h http.Handler, req *http.Request) int {
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := processCPU()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.code = http.StatusOK
		h.ServeHTTP(w, req)
	}
	if cpu := processCPU() - cpu; cpu > 0 {
		b.ReportMetric(float64(cpu.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
	return w.code
}

// BenchmarkAccessLog measures what the access log adds to an authenticated request
// (GET /api/protected with a bearer token, the whole handler stack): "off" without it, "on"
// with one JSON line per request written to io.Discard, "filtered" with it on but the logger
// at warn, so the line is not written.
func BenchmarkAccessLog(b *testing.B) {
	for _, bc := range []struct {
		name  string
		on    bool
		level slog.Level
	}{{"off", false, slog.LevelInfo}, {"on", true, slog.LevelInfo}, {"filtered", true, slog.LevelWarn}} {
		b.Run(bc.name, func(b *testing.B) {
			clk := newClock()
			h := newHarness(b, options{clock: clk, configure: func(_ *authn.Deps, c *ghttp.Config) {
				c.AccessLog = bc.on
				c.Logger = slog.New(slog.NewJSONHandler(io.Discard, &slog.HandlerOptions{Level: bc.level}))
			}})
			access, _ := h.loginToken("admin", h.adminPW)
			req, _ := http.NewRequest("GET", "/api/protected", nil)
			req.Header.Set("Authorization", "Bearer "+access)
			req.RemoteAddr = "127.0.0.1:40000"
			clk.SetStep(0)
			if code := runBench(b, h.server, req); code != http.StatusOK {
				b.Fatalf("last answer: status %d", code)
			}
		})
	}
}
