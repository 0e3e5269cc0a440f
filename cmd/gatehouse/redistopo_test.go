package main

import (
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// noThrottle turns the throttle of failed credentials off: these tests send logged-out
// credentials from one address again and again, which it would answer with 429.
var noThrottle = []string{"--login-throttle=false"}

// topoCred is one way a client authenticates, and whether gatehouse must accept it.
type topoCred struct {
	what  string
	hdr   []string
	valid bool
}

// topologyCredentials logs in through in and returns a live session and token of a new user,
// and a session and a token of the same user that were logged out.
func topologyCredentials(t *testing.T, in *instance) []topoCred {
	t.Helper()
	adminTok, _ := in.loginToken("admin", clusterAdminPassword)
	in.createUser(adminTok, "topo", gatehouse.RoleUser)
	var creds []topoCred
	for _, valid := range []bool{true, false} {
		cookie := in.loginSession("topo", testUserPassword)
		tok, _ := in.loginToken("topo", testUserPassword)
		if !valid {
			expectStatus(t, "session logout", in.do("POST", "/api/logout", nil, cookieHdr(cookie)...), 204, "")
			expectStatus(t, "token logout", in.do("POST", "/api/logout", nil, bearerHdr(tok)...), 204, "")
		}
		state := map[bool]string{true: "live", false: "logged-out"}[valid]
		creds = append(creds, topoCred{state + " session", cookieHdr(cookie), valid},
			topoCred{state + " token", bearerHdr(tok), valid})
	}
	return creds
}

// logoutLate logs a new token out and returns it as a dead topoCred, without waiting for
// anything to reach a replica.
func logoutLate(t *testing.T, in *instance) topoCred {
	t.Helper()
	tok, _ := in.loginToken("topo", testUserPassword)
	expectStatus(t, "late logout", in.do("POST", "/api/logout", nil, bearerHdr(tok)...), 204, "")
	return topoCred{"token logged out just before the failure", bearerHdr(tok), false}
}

// checkCredentials sends every topoCred to /api/protected once: a valid one must get 200
// and a dead one 401, or either 503 unavailable when allow503 is set (the store is failing
// over). It returns the number of 503 answers.
func checkCredentials(t *testing.T, in *instance, creds []topoCred, allow503 bool) int {
	t.Helper()
	unavailable := 0
	for _, c := range creds {
		a := in.do("GET", "/api/protected", nil, c.hdr...)
		switch {
		case allow503 && a.status == 503 && a.str("error") == gatehouse.EUNAVAILABLE:
			unavailable++
		case c.valid && a.status == 200, !c.valid && a.status == 401:
		default:
			t.Fatalf("%s: %d %s", c.what, a.status, strings.TrimSpace(a.raw))
		}
	}
	return unavailable
}

// throughFailure checks the credentials over and over until done is closed and then until a
// round passes without 503, and returns the number of 503 answers.
func throughFailure(t *testing.T, in *instance, creds []topoCred, done <-chan struct{}) int {
	t.Helper()
	total := 0
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		n := checkCredentials(t, in, creds, true)
		total += n
		select {
		case <-done:
			if n == 0 {
				return total
			}
		default:
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatal("gatehouse did not recover from the failure within a minute")
	return total
}

// TestSentinelServe runs "gatehouse serve --redis-url redis://SENTINEL?master_set=NAME":
// logins and authentication work through Sentinel; across a requested failover and then
// across a killed primary, every answer is the right one or 503 unavailable (never a logged-out
// topoCred accepted, never a live one refused), and the same process recovers.
func TestSentinelServe(t *testing.T) {
	testkit.Slow(t, "starts a Redis Sentinel topology")
	s := redistest.StartSentinel(t)
	b := newBackends(t, s.Sentinel.Addr)
	b.redisURL = s.URL()
	in := startInstance(t, b, append(noThrottle, "--redis-timeout", "300ms")...)
	creds := topologyCredentials(t, in)
	checkCredentials(t, in, creds, false)
	expectStatus(t, "readyz", in.do("GET", "/readyz", nil), 200, "")

	s.WaitReplicated()
	done := make(chan struct{})
	go func() { defer close(done); s.Failover() }()
	n := throughFailure(t, in, creds, done)
	t.Logf("SENTINEL FAILOVER: %d answers were 503 unavailable", n)
	// Writes may fail with 503 until the client has switched to the new primary.
	waitStatus(t, "a login (a write) after the failover", 10*time.Second, 200, func() answer {
		return in.do("POST", "/api/login", map[string]string{"username": "topo", "password": testUserPassword, "mode": "session"})
	})

	s.WaitReplicated()
	creds = append(creds, logoutLate(t, in))
	old, err := s.Master()
	if err != nil {
		t.Fatal(err)
	}
	s.Node(old).Kill()
	done = make(chan struct{})
	go func() { defer close(done); s.WaitNewMaster(old) }()
	n = throughFailure(t, in, creds, done)
	if n == 0 {
		t.Fatal("no request failed while there was no primary")
	}
	t.Logf("primary killed: %d answers were 503 unavailable before the replica took over", n)
	checkCredentials(t, in, creds, false)
	expectStatus(t, "readyz after the failover", in.do("GET", "/readyz", nil), 200, "")
	fresh := in.loginSession("topo", testUserPassword)
	expectStatus(t, "a new session", in.do("GET", "/api/protected", nil, cookieHdr(fresh)...), 200, "")
}

// TestClusterServe runs two instances on "--redis-url redis://NODE1?addr=NODE2&addr=NODE3", a
// 3-node Redis Cluster: a session made on one works on the other and a logout on one is seen
// by the other; flushing any one node keeps every logout (revocations are durable in
// PostgreSQL, and each revocation shard's marker is on the node that holds the shard).
func TestClusterServe(t *testing.T) {
	testkit.Slow(t, "starts a cluster of instances on Redis and PostgreSQL")
	cl := redistest.StartCluster(t, 3)
	b := newBackends(t, cl.Nodes[0].Addr)
	b.redisURL = cl.URL()
	a, other := startInstance(t, b, noThrottle...), startInstance(t, b, noThrottle...)
	creds := topologyCredentials(t, a)
	checkCredentials(t, a, creds, false)
	checkCredentials(t, other, creds, false)
	cookie := other.loginSession("topo", testUserPassword)
	expectStatus(t, "session of B on A", a.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 200, "")
	expectStatus(t, "logout on B", other.do("POST", "/api/logout", nil, cookieHdr(cookie)...), 204, "")
	expectStatus(t, "B's logged-out session on A", a.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
	expectStatus(t, "readyz", a.do("GET", "/readyz", nil), 200, "")
	if used := metricValue(t, a, "gatehouse_redis_used_memory_bytes"); used <= 0 {
		t.Fatalf("gatehouse_redis_used_memory_bytes = %v", used)
	}

	var dead []topoCred
	for _, c := range creds {
		if !c.valid && strings.HasSuffix(c.what, "token") {
			dead = append(dead, c)
		}
	}
	for i, node := range cl.Nodes {
		if _, err := redistest.Do(node.Addr, "FLUSHALL"); err != nil {
			t.Fatal(err)
		}
		for range 3 {
			checkCredentials(t, a, dead, false)
			checkCredentials(t, other, dead, false)
		}
		t.Logf("node %d flushed: the logged-out tokens stay refused", i)
	}
}

// metricValue returns the value of an unlabelled metric of in's /metrics.
func metricValue(t *testing.T, in *instance, name string) float64 {
	t.Helper()
	a := in.do("GET", "/metrics", nil)
	for _, line := range strings.Split(a.raw, "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			f, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
			if err != nil {
				t.Fatalf("%s: %v", line, err)
			}
			return f
		}
	}
	t.Fatalf("/metrics has no %s", name)
	return 0
}

// TestRedisClientCacheFlag checks --redis-client-cache: on (the default), the instance's Redis
// connection has client tracking on (CLIENT LIST flag "t"); with --redis-client-cache=false it
// has not, and sessions and logouts work the same.
func TestRedisClientCacheFlag(t *testing.T) {
	testkit.Slow(t, "breaks the stores under running instances")
	for _, cache := range []bool{true, false} {
		t.Run("cache="+strconv.FormatBool(cache), func(t *testing.T) {
			srv := redistest.Start(t)
			b := newBackends(t, srv.Addr)
			in := startInstance(t, b, "--redis-client-cache="+strconv.FormatBool(cache))
			creds := topologyCredentials(t, in)
			checkCredentials(t, in, creds, false)
			list, err := redistest.DoString(srv.Addr, "CLIENT", "LIST")
			if err != nil {
				t.Fatal(err)
			}
			tracking := false
			for _, line := range strings.Split(list, "\n") {
				for _, f := range strings.Fields(line) {
					if flags, ok := strings.CutPrefix(f, "flags="); ok && strings.Contains(flags, "t") {
						tracking = true
					}
				}
			}
			if tracking != cache {
				t.Fatalf("client tracking = %v with --redis-client-cache=%v:\n%s", tracking, cache, list)
			}
		})
	}
}
