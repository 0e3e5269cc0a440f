package verify_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/verify"
)

// discard is a ResponseWriter that keeps nothing.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(b []byte) (int, error) { return len(b), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// BenchmarkVerify measures the SDK's hot path for a token it has seen before (the
// verified-token cache answers; the signature is not checked again), with and without
// following revocations, as a bare Verify call, through Handler, and through Middleware +
// RequireRole. The
// "hello" case is the bare handler: the floor.
func BenchmarkVerify(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		clk := newClock()
		g := newGatehouse(b, alg, clk)
		tok := g.login("admin", password+" admin")
		for _, follow := range []bool{false, true} {
			name := alg
			var edit func(*verify.Config)
			if follow {
				name += "-revocations"
				edit = following(false)
			}
			v := newVerifier(b, g, edit)
			if follow {
				deadline := time.Now().Add(10 * time.Second)
				for _, err := v.Verify(tok); err != nil; _, err = v.Verify(tok) {
					if time.Now().After(deadline) {
						b.Fatalf("the revocation stream never synced: %v", err)
					}
					time.Sleep(time.Millisecond)
				}
			}
			b.Run(name+"/Verify", func(b *testing.B) {
				b.ReportAllocs()
				for i := 0; i < b.N; i++ {
					if _, err := v.Verify(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(name+"/Handler", func(b *testing.B) {
				h := v.Handler(func(w http.ResponseWriter, r *http.Request, t *gatehouse.Token) {
					if t.Role.Allows(gatehouse.RoleUser) {
						w.WriteHeader(http.StatusOK)
					}
				})
				req, _ := http.NewRequest("GET", "/thing", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				runBench(b, h, req)
			})
			b.Run(name+"/Middleware", func(b *testing.B) {
				h := v.Middleware(verify.RequireRole(gatehouse.RoleUser)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
					w.WriteHeader(http.StatusOK)
				})))
				req, _ := http.NewRequest("GET", "/thing", nil)
				req.Header.Set("Authorization", "Bearer "+tok)
				runBench(b, h, req)
			})
		}
	}
	b.Run("hello", func(b *testing.B) {
		req, _ := http.NewRequest("GET", "/thing", nil)
		runBench(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusOK) }), req)
	})
}

// BenchmarkVerifyUncached is the first sight of a token: the signature is checked.
func BenchmarkVerifyUncached(b *testing.B) {
	for _, alg := range []string{"EdDSA", "ES256"} {
		clk := newClock()
		g := newGatehouse(b, alg, clk)
		tok := g.login("admin", password+" admin")
		v := newVerifier(b, g, func(c *verify.Config) { c.CacheSize = -1 })
		b.Run(alg, func(b *testing.B) {
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				if _, err := v.Verify(tok); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func runBench(b *testing.B, h http.Handler, req *http.Request) {
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		clear(w.h)
		w.code = 0
		h.ServeHTTP(w, req)
	}
	if w.code != http.StatusOK {
		b.Fatalf("status %d", w.code)
	}
}
