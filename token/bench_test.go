package token

import (
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
