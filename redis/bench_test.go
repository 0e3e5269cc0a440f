package redis_test

import (
	"context"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// reportPercentiles reports the 50th and 99th percentiles and the maximum of ds, in
// microseconds.
func reportPercentiles(b *testing.B, ds []time.Duration) {
	if len(ds) == 0 {
		return
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	at := func(q float64) float64 { return float64(ds[int(q*float64(len(ds)-1))].Nanoseconds()) / 1e3 }
	b.ReportMetric(at(0.5), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(at(1), "max-µs")
}

// BenchmarkPropagation measures, on the local Redis, what a revocation costs with three
// instances (A, B and C, each with its client and its Peers): how long A's SetNotBefore takes,
// barrier included (the "revoke-µs" percentiles), and how many reads B, which had the old
// answer in its client-side cache, needs after A's call returned to see the new one (polls/op:
// 1 means the very first read, which is the promise).
func BenchmarkPropagation(b *testing.B) {
	probe := mustClient(b, rueidis.ClientOption{})
	prefix := testPrefix(b, probe)
	durable := memory.NewRevocationStore()
	stA := newInstance(b, redisAddr, prefix, redis.DefaultLease, durable).revs
	stB := newInstance(b, redisAddr, prefix, redis.DefaultLease, durable).revs
	newInstance(b, redisAddr, prefix, redis.DefaultLease, durable)
	ctx := context.Background()
	if err := stA.Sync(ctx); err != nil {
		b.Fatal(err)
	}
	ds := make([]time.Duration, 0, b.N)
	polls := 0
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		user := "u" + strconv.Itoa(i%64)
		prev, err := stB.NotBefore(ctx, user) // cached on B
		if err != nil {
			b.Fatal(err)
		}
		nb := gatehouse.NextNotBefore(time.Now(), prev)
		start := time.Now()
		if err := stA.SetNotBefore(ctx, user, nb); err != nil {
			b.Fatal(err)
		}
		ds = append(ds, time.Since(start))
		for {
			polls++
			got, err := stB.NotBefore(ctx, user)
			if err != nil {
				b.Fatal(err)
			}
			if got.Equal(nb) {
				break
			}
			runtime.Gosched()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(polls)/float64(b.N), "polls/op")
	reportPercentiles(b, ds)
}

// BenchmarkSessionMemory measures the memory Redis uses per session: INFO memory used_memory
// before and after storing 100,000 sessions (the operation count is ignored), on a
// redis-server of its own. "short" sessions carry a curl user agent, "browser" ones a 111-byte
// browser user agent; all have a 26-character user id, a name and an e-mail address, and a
// handle derived from their hash and a password sign-in, as the session manager makes them, and
// an e-mail address that is the username at a domain, except in "browser-own-email". In all
// but "browser-10-per-user" and "short-one-user" every session has a user of its own; there
// 10,000 users have 10 sessions each, and one user has all 100,000 (as gatehouse bench's
// sessions, which are all the admin's: one user's sessions share index keys, which then outgrow
// Redis' compact encoding).
// The sessions are created within a few seconds, so they share the index keys of one hour.
func BenchmarkSessionMemory(b *testing.B) {
	const browser = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36"
	for _, ua := range []struct {
		name, ua string
		perUser  int
		ownEmail bool // an e-mail address that does not start with the username
	}{
		{"short", "curl/8.5.0", 1, false},
		{"browser", browser, 1, false},
		{"browser-10-per-user", browser, 10, false},
		{"browser-own-email", browser, 1, true},
		{"short-one-user", "curl/8.5.0", 100_000, false},
	} {
		b.Run(ua.name, func(b *testing.B) {
			srv := redistest.Start(b)
			c := mustClient(b, rueidis.ClientOption{InitAddress: []string{srv.Addr}})
			st := redis.NewSessionStore(c, "gatehouse:", redis.SessionOptions{Options: slow, IdleTimeout: 30 * time.Minute})
			const n = 100_000
			ctx := context.Background()
			before := usedMemory(b, c)
			now := time.Now()
			users := make([]string, n/ua.perUser)
			for i := range users {
				users[i] = gatehouse.NewID(now)
			}
			var wg sync.WaitGroup
			const workers = 32
			errs := make(chan error, workers)
			for w := range workers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for i := w; i < n; i += workers {
						uid := users[i%len(users)]
						h := gatehouse.HashSecret(gatehouse.NewSecret())
						email := "user" + strconv.Itoa(i) + "@example.com"
						if ua.ownEmail {
							email = "someone." + strconv.Itoa(i) + "@example.com"
						}
						s := &gatehouse.Session{
							Hash: h, Handle: gatehouse.SessionHandle(h), // as the session manager makes them
							User: gatehouse.Principal{UserID: uid, Username: "user" + strconv.Itoa(i), Name: "User " + strconv.Itoa(i),
								Email: email, Role: gatehouse.RoleUser},
							CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(12 * time.Hour),
							IP: "203.0.113.42", UserAgent: ua.ua, AMR: gatehouse.MethodPassword,
						}
						if err := st.CreateSession(ctx, s); err != nil {
							errs <- err
							return
						}
					}
				}()
			}
			wg.Wait()
			close(errs)
			if err := <-errs; err != nil {
				b.Fatal(err)
			}
			after := usedMemory(b, c)
			if got, err := st.CountSessions(ctx); err != nil || got != n {
				b.Fatalf("CountSessions = %d, %v; want %d", got, err, n)
			}
			b.ReportMetric(float64(after-before)/n, "B/session")
		})
	}
}

func usedMemory(tb testing.TB, c rueidis.Client) int64 {
	tb.Helper()
	info, err := c.Do(context.Background(), c.B().Info().Section("memory").Build()).ToString()
	if err != nil {
		tb.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "used_memory:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				tb.Fatal(err)
			}
			return n
		}
	}
	tb.Fatal("no used_memory in INFO memory")
	return 0
}

// BenchmarkPeersTrusted measures the check every cached read makes of the instance's lease:
// what the lease adds to the request path (a session lookup makes two).
func BenchmarkPeersTrusted(b *testing.B) {
	c := mustClient(b, rueidis.ClientOption{})
	p := mustPeers(b, c, testPrefix(b, c), time.Hour)
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		if p.Trusted() {
			n++
		}
	}
	if n == 0 {
		b.Fatal("never trusted")
	}
}
