package main

import (
	"sort"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// BenchmarkPropagation measures the cross-instance delay end to end: a revocation is made on
// instance A over HTTP; from the moment A answers, instance B (which had just authenticated
// the same credential, so it holds it in its client-side cache) is polled until it refuses it.
// Reported: percentiles of that delay, how many requests B answered before refusing (1 = B's
// very next request, which is the promise), and percentiles of A's revoking answer (revoke-*,
// the time the revocation waits for every instance included). Needs the local Redis and
// PostgreSQL.
func BenchmarkPropagation(b *testing.B) {
	for _, kind := range []string{"session-logout", "token-logout", "logout-all"} {
		b.Run(kind, func(b *testing.B) {
			benchPropagation(b, kind)
		})
	}
}

func benchPropagation(b *testing.B, kind string) {
	bk := newBackends(b, testRedis)
	// Without the throttle: B refuses one revoked credential per iteration from one address,
	// and the shared Redis throttle would answer 429 after 100 of them.
	a, bb := startInstance(b, bk, "--login-throttle=false"), startInstance(b, bk, "--login-throttle=false")
	adminTok, _ := a.loginToken("admin", clusterAdminPassword)
	a.createUser(adminTok, "prop", gatehouse.RoleUser)
	ds := make([]time.Duration, 0, b.N)
	revokes := make([]time.Duration, 0, b.N)
	polls := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		var hdr []string
		var revoke func() answer
		switch kind {
		case "session-logout":
			hdr = cookieHdr(a.loginSession("prop", testUserPassword))
			revoke = func() answer { return a.do("POST", "/api/logout", nil, hdr...) }
		case "token-logout":
			tok, _ := a.loginToken("prop", testUserPassword)
			hdr = bearerHdr(tok)
			revoke = func() answer { return a.do("POST", "/api/logout", nil, hdr...) }
		case "logout-all":
			tok, _ := a.loginToken("prop", testUserPassword)
			hdr = bearerHdr(tok)
			revoke = func() answer { return a.do("POST", "/api/logout-all", nil, hdr...) }
		}
		if r := bb.do("GET", "/api/protected", nil, hdr...); r.status != 200 {
			b.Fatalf("B before the revocation: %d %s", r.status, r.raw)
		}
		b.StartTimer()
		r := revoke()
		if r.status != 204 {
			b.Fatalf("revoke on A: %d %s", r.status, r.raw)
		}
		revokes = append(revokes, r.took)
		start := time.Now()
		for {
			polls++
			r := bb.do("GET", "/api/protected", nil, hdr...)
			if r.status == 401 {
				break
			}
			if r.status != 200 {
				b.Fatalf("B: %d %s", r.status, r.raw)
			}
		}
		ds = append(ds, time.Since(start))
	}
	b.StopTimer()
	b.ReportMetric(float64(polls)/float64(b.N), "B-requests/op")
	reportMillis(b, "", ds)
	reportMillis(b, "revoke-", revokes)
}

// reportMillis reports the median, 99th percentile and maximum of ds in milliseconds, named
// with prefix.
func reportMillis(b *testing.B, prefix string, ds []time.Duration) {
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Nanoseconds()) / 1e6 }
	b.ReportMetric(at(0.5), prefix+"p50-ms")
	b.ReportMetric(at(0.99), prefix+"p99-ms")
	b.ReportMetric(at(1), prefix+"max-ms")
}
