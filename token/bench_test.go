package token

import (
	"crypto/ed25519"
	"crypto/rand"
	"strings"
	"testing"
)

// BenchmarkVerify measures Verify of a valid token per algorithm, with the verified-token
// cache (a hit) and without it (signature and claims checked every time).
func BenchmarkVerify(b *testing.B) {
	for _, alg := range testAlgs {
		for _, cached := range []bool{true, false} {
			name := strings.ToLower(alg) + "/" + map[bool]string{true: "cached", false: "uncached"}[cached]
			b.Run(name, func(b *testing.B) {
				clock := newTestClock()
				s := mustService(b, mustKeySet(b, alg, clock), clock, func(c *Config) {
					if !cached {
						c.CacheSize = -1
					}
				})
				tok, _ := mustIssue(b, s, clock)
				if _, err := s.Verify(tok); err != nil {
					b.Fatal(err)
				}
				b.ReportAllocs()
				for b.Loop() {
					if _, err := s.Verify(tok); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkVerifyParallel measures cached hits from all CPUs on a shared Service.
func BenchmarkVerifyParallel(b *testing.B) {
	clock := newTestClock()
	s := mustService(b, mustKeySet(b, AlgEdDSA, clock), clock, nil)
	tok, _ := mustIssue(b, s, clock)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := s.Verify(tok); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkIssue measures signing per algorithm.
func BenchmarkIssue(b *testing.B) {
	for _, alg := range testAlgs {
		b.Run(strings.ToLower(alg), func(b *testing.B) {
			clock := newTestClock()
			s := mustService(b, mustKeySet(b, alg, clock), clock, nil)
			b.ReportAllocs()
			for b.Loop() {
				mustIssue(b, s, clock)
			}
		})
	}
}

// BenchmarkVerifyBeyondCache measures Verify when the distinct tokens in use outnumber the
// verified-token cache (here 1,000 entries, 4,000 tokens used in turn, so every lookup misses
// and evicts), beside the same tokens with the cache off and a bare Ed25519 verification of a
// token-sized message: what a request costs beyond the cache, against the limit of one
// verification per request.
func BenchmarkVerifyBeyondCache(b *testing.B) {
	clock := newTestClock()
	ks := mustKeySet(b, AlgEdDSA, clock)
	issuer := mustService(b, ks, clock, nil)
	toks := make([]string, 4000)
	for i := range toks {
		toks[i], _ = mustIssue(b, issuer, clock)
	}
	for _, c := range []struct {
		name string
		size int
	}{{"missing", 1000}, {"uncached", -1}} {
		b.Run(c.name, func(b *testing.B) {
			s := mustService(b, ks, clock, func(cfg *Config) { cfg.CacheSize = c.size })
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := s.Verify(toks[i%len(toks)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	b.Run("bare-ed25519", func(b *testing.B) {
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			b.Fatal(err)
		}
		msg := []byte(toks[0][:strings.LastIndexByte(toks[0], '.')])
		sig := ed25519.Sign(priv, msg)
		for b.Loop() {
			if !ed25519.Verify(pub, msg, sig) {
				b.Fatal("bad signature")
			}
		}
	})
}
