package redis_test

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// loginLimits are the three keys a login is counted under (as http does it), for user i from
// address j, with the default policies' shapes.
func loginLimits(i, j int) []gatehouse.Limit {
	u, ip := "user"+strconv.Itoa(i), "198.51."+strconv.Itoa(j/250%250)+"."+strconv.Itoa(j%250)
	return []gatehouse.Limit{
		{Key: "login:ip:" + ip, Backoff: gatehouse.Backoff{Free: 100}},
		{Key: "login:acct:" + u, Backoff: gatehouse.Backoff{Free: 10, Max: 5 * time.Minute}},
		{Key: "login:acct-ip:" + u + "|" + ip, Backoff: gatehouse.Backoff{Free: 5}},
	}
}

// BenchmarkThrottleAttempt measures one login's Attempt (three keys, one script, one round trip)
// on the local Redis, each operation on another account and address.
func BenchmarkThrottleAttempt(b *testing.B) {
	c := mustClient(b, rueidis.ClientOption{})
	th := redis.NewThrottle(c, testPrefix(b, c), slow)
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		if _, err := th.Attempt(ctx, loginLimits(i, i)...); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkThrottleMemory measures the memory Redis uses per failed login of a new account from
// a new address (three keys: the address, the account, the pair): INFO memory used_memory before
// and after 100,000 of them (the operation count is ignored), on a redis-server of its own.
func BenchmarkThrottleMemory(b *testing.B) {
	srv := redistest.Start(b)
	c := mustClient(b, rueidis.ClientOption{InitAddress: []string{srv.Addr}})
	th := redis.NewThrottle(c, "gatehouse:", slow)
	ctx := context.Background()
	const n = 100_000
	before := usedMemory(b, c)
	for i := 0; i < n; i++ {
		if _, err := th.Attempt(ctx, loginLimits(i, i)...); err != nil {
			b.Fatal(err)
		}
	}
	after := usedMemory(b, c)
	b.ReportMetric(float64(after-before)/n, "B/login")
	b.ReportMetric(float64(after-before)/(3*n), "B/key")
}
