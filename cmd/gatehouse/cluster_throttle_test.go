package main

import (
	"context"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// failuresUntil429 sends wrong passwords for user, to the instances in turn, until one answers
// 429, and returns how many answered 401 before it, checking the 429's Retry-After. The waits
// run on the real clock (1 s after the free failures): stalled reports a pause of more than
// half a second between two attempts, which a loaded machine can cause and which could let an
// attempt through legitimately.
func failuresUntil429(t *testing.T, ins []*instance, user string) (n int, stalled bool) {
	t.Helper()
	last := time.Now()
	for i := 0; i < 20; i++ {
		if time.Since(last) > 500*time.Millisecond {
			stalled = true
		}
		a := ins[i%len(ins)].do("POST", "/api/login", map[string]string{"username": user, "password": "a wrong password here"})
		last = time.Now()
		switch a.status {
		case 401:
			n++
		case 429:
			expectStatus(t, "throttled login", a, 429, gatehouse.ERATELIMITED)
			if s, err := strconv.Atoi(a.header.Get("Retry-After")); err != nil || s < 1 {
				t.Fatalf("Retry-After = %q", a.header.Get("Retry-After"))
			}
			return n, stalled
		default:
			t.Fatalf("login %d: %d %s", i+1, a.status, a.raw)
		}
	}
	t.Fatalf("no 429 after 20 wrong passwords for %s", user)
	return 0, false
}

// TestClusterThrottleShared: two instances with --session-store redis count failed logins in
// the shared Redis, under the configured prefix: failures split across them bring the 429 at
// the same count as on one instance (5 free failures per account and address).
func TestClusterThrottleShared(t *testing.T) {
	testkit.Slow(t, "starts a cluster of instances on Redis and PostgreSQL")
	b := newBackends(t, testRedis)
	one, two := startInstance(t, b), startInstance(t, b)
	adminTok, _ := one.loginToken("admin", clusterAdminPassword)
	for attempt := 0; ; attempt++ {
		alone, split := fmt.Sprintf("alone%d", attempt), fmt.Sprintf("split%d", attempt)
		one.createUser(adminTok, alone, gatehouse.RoleUser)
		one.createUser(adminTok, split, gatehouse.RoleUser)
		n1, s1 := failuresUntil429(t, []*instance{one}, alone)
		n2, s2 := failuresUntil429(t, []*instance{one, two}, split)
		if (s1 || s2) && attempt < 3 {
			t.Logf("a pause of over 0.5 s between attempts (loaded machine): measuring again")
			continue
		}
		if n1 != 5 || n2 != 5 {
			t.Fatalf("401s before the 429: %d on one instance, %d split over two; want 5 and 5", n1, n2)
		}
		// The counters are in Redis under the prefix, with a TTL.
		c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{testRedis}, DisableCache: true})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		key := b.prefix + "{thr}:login:acct:" + split
		ttl, err := c.Do(context.Background(), c.B().Pttl().Key(key).Build()).AsInt64()
		if err != nil || ttl <= 0 {
			t.Fatalf("PTTL %s = %d, %v; want a counter with a TTL", key, ttl, err)
		}
		// A right password on the other instance is refused while throttled, as on one.
		a := two.do("POST", "/api/login", map[string]string{"username": split, "password": testUserPassword})
		expectStatus(t, "right password while throttled", a, 429, gatehouse.ERATELIMITED)
		return
	}
}
