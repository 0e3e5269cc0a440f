package main

import (
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// The revocation promise of a cluster: once an instance has answered a revoking request, no
// instance accepts the revoked credential, whatever it had in its client-side cache, however
// busy it is, and whether its link to Redis flows, stalls, or Redis hangs.

// revocationLease is the cache lease of the instances of these tests: shorter than the default
// so that the stalled-link cases, which wait for it, take less time.
var revocationLease = []string{"--redis-cache-lease", "500ms"}

// trialCreds are what one trial revokes: a session cookie and an access token of one user.
type trialCreds struct {
	userID, user string
	cookie       string
	token        string
}

// revocationKind is one way to revoke, done on instance a by the admin (adminTok).
type revocationKind struct {
	name string
	// revoke sends the revoking request and returns its answer.
	revoke func(a *instance, adminTok string, c trialCreds) answer
	// cookie and token say which credentials the revocation ends.
	cookie, token bool
	// path is the route used to check the credentials (an admin route for a demotion).
	path string
	// restore undoes what keeps the user from logging in again, if anything.
	restore func(a *instance, adminTok string, c trialCreds)
	admin   bool // the user is an admin
}

func patchUser(a *instance, adminTok, id string, body any) answer {
	return a.do("PATCH", "/api/admin/users/"+id, body, bearerHdr(adminTok)...)
}

// revocationKinds are every kind of revocation that the API offers.
var revocationKinds = []revocationKind{
	{name: "logout (cookie)", cookie: true, path: "/api/protected",
		revoke: func(a *instance, _ string, c trialCreds) answer {
			return a.do("POST", "/api/logout", nil, cookieHdr(c.cookie)...)
		}},
	{name: "logout (token)", token: true, path: "/api/protected",
		revoke: func(a *instance, _ string, c trialCreds) answer {
			return a.do("POST", "/api/logout", nil, bearerHdr(c.token)...)
		}},
	{name: "logout-all", cookie: true, token: true, path: "/api/protected",
		revoke: func(a *instance, _ string, c trialCreds) answer {
			return a.do("POST", "/api/logout-all", nil, bearerHdr(c.token)...)
		}},
	{name: "session delete", cookie: true, path: "/api/protected",
		revoke: func(a *instance, adminTok string, c trialCreds) answer {
			secret := strings.TrimPrefix(c.cookie, "gatehouse_session=")
			handle := gatehouse.SessionHandle(gatehouse.HashSecret(secret))
			return a.do("DELETE", "/api/admin/sessions/"+handle, nil, bearerHdr(adminTok)...)
		}},
	{name: "disable", cookie: true, token: true, path: "/api/protected",
		revoke: func(a *instance, adminTok string, c trialCreds) answer {
			return patchUser(a, adminTok, c.userID, map[string]bool{"disabled": true})
		},
		restore: func(a *instance, adminTok string, c trialCreds) {
			expectStatus(a.t, "enable again", patchUser(a, adminTok, c.userID, map[string]bool{"disabled": false}), 200, "")
		}},
	{name: "demotion", cookie: true, token: true, path: "/api/admin/users", admin: true,
		revoke: func(a *instance, adminTok string, c trialCreds) answer {
			return patchUser(a, adminTok, c.userID, map[string]string{"role": "user"})
		},
		restore: func(a *instance, adminTok string, c trialCreds) {
			expectStatus(a.t, "promote again", patchUser(a, adminTok, c.userID, map[string]string{"role": "admin"}), 200, "")
		}},
	{name: "admin password reset", cookie: true, token: true, path: "/api/protected",
		revoke: func(a *instance, adminTok string, c trialCreds) answer {
			return patchUser(a, adminTok, c.userID, map[string]string{"password": testUserPassword})
		}},
	{name: "password change", cookie: true, token: true, path: "/api/protected",
		revoke: func(a *instance, _ string, c trialCreds) answer {
			return a.do("POST", "/api/me/password", map[string]string{"current_password": testUserPassword,
				"new_password": "quite another password, changed"}, bearerHdr(c.token)...)
		},
		restore: func(a *instance, adminTok string, c trialCreds) {
			expectStatus(a.t, "password back", patchUser(a, adminTok, c.userID, map[string]string{"password": testUserPassword}), 200, "")
		}},
}

// revocationCluster is three instances on one PostgreSQL schema and one Redis prefix; B reaches
// Redis through a proxy that can stall. Every kind of revocation has a user of its own.
type revocationCluster struct {
	a, b, c  *instance
	proxy    *redistest.Proxy
	adminTok string
	users    map[string]trialCreds // by kind name: the user (without credentials)
}

func startRevocationCluster(t *testing.T, redisAddr string, extra ...string) *revocationCluster {
	t.Helper()
	b := newBackends(t, redisAddr)
	rc := &revocationCluster{proxy: redistest.StartProxy(t, redisAddr), users: map[string]trialCreds{}}
	// Access tokens that outlive a long run: the admin's token and the load's are made once.
	args := append(append(append([]string{"--access-ttl", "6h"}, noThrottle...), revocationLease...), extra...)
	rc.a = startInstance(t, b, args...)
	viaProxy := *b
	viaProxy.redisURL = "redis://" + rc.proxy.Addr + "/0"
	rc.b = startInstance(t, &viaProxy, args...)
	rc.c = startInstance(t, b, args...)
	rc.adminTok, _ = rc.a.loginToken("admin", clusterAdminPassword)
	for i, k := range revocationKinds {
		role := gatehouse.RoleUser
		if k.admin {
			role = gatehouse.RoleAdmin
		}
		name := "rev" + strconv.Itoa(i)
		rc.users[k.name] = trialCreds{user: name, userID: rc.a.createUser(rc.adminTok, name, role)}
	}
	return rc
}

// creds logs the kind's user in on C (with a session and with a token) and uses both on B and
// C, so that both have them in their caches.
func (rc *revocationCluster) creds(k revocationKind) trialCreds {
	c := rc.users[k.name]
	c.cookie = rc.c.loginSession(c.user, testUserPassword)
	c.token, _ = rc.c.loginToken(c.user, testUserPassword)
	for _, in := range []*instance{rc.b, rc.c} {
		for range 2 {
			expectStatus(in.t, k.name+": before, cookie", in.do("GET", k.path, nil, cookieHdr(c.cookie)...), 200, "")
			expectStatus(in.t, k.name+": before, token", in.do("GET", k.path, nil, bearerHdr(c.token)...), 200, "")
		}
	}
	return c
}

// revokeAndUse revokes on A and then, at once, uses the revoked credentials on B and C. It
// returns how long A took to answer and the statuses B and C answered with.
func (rc *revocationCluster) revokeAndUse(t *testing.T, k revocationKind, c trialCreds) (time.Duration, []int) {
	t.Helper()
	r := k.revoke(rc.a, rc.adminTok, c)
	if r.status != 200 && r.status != 204 {
		t.Fatalf("%s on A: %d %s", k.name, r.status, r.raw)
	}
	var statuses []int
	for _, in := range []*instance{rc.b, rc.c} {
		if k.cookie {
			statuses = append(statuses, in.do("GET", k.path, nil, cookieHdr(c.cookie)...).status)
		}
		if k.token {
			statuses = append(statuses, in.do("GET", k.path, nil, bearerHdr(c.token)...).status)
		}
	}
	if k.restore != nil {
		k.restore(rc.a, rc.adminTok, c)
	}
	return r.took, statuses
}

// revocationTrials is the number of revoke-then-use trials: GATEHOUSE_REVOCATION_TRIALS, or
// 2,100 (300 under the race detector).
func revocationTrials(t *testing.T) int {
	if v := os.Getenv("GATEHOUSE_REVOCATION_TRIALS"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 {
			t.Fatalf("GATEHOUSE_REVOCATION_TRIALS=%q: want a positive number", v)
		}
		return n
	}
	if raceEnabled {
		return 300
	}
	return 2100
}

// TestClusterRevocation revokes on A, in every way there is, credentials that B and C have
// cached, and uses them on B and C right after A's answer: none is ever accepted, with and
// without a load of 16 clients on B and C. It reports what A's revoking answers took.
func TestClusterRevocation(t *testing.T) {
	testkit.Slow(t, "runs thousands of revocations on three instances")
	rc := startRevocationCluster(t, testRedis)
	trials := revocationTrials(t)
	// A third of the trials run under load, which slows everything down on a small machine.
	rounds := map[bool]int{false: trials - trials/3, true: trials / 3}
	accepted, uses := 0, 0
	for _, load := range []bool{false, true} {
		took := map[string][]time.Duration{}
		start := time.Now()
		stop := func() int { return 0 }
		if load {
			stop = rc.startLoad(t, 16)
		}
		for i := range rounds[load] {
			k := revocationKinds[i%len(revocationKinds)]
			d, statuses := rc.revokeAndUse(t, k, rc.creds(k))
			took[k.name] = append(took[k.name], d)
			for _, s := range statuses {
				uses++
				if s != 401 {
					accepted += b2i(s == 200)
					t.Errorf("%s (load %v), trial %d: a revoked credential got %d, want 401 (statuses on B and C: %v)", k.name, load, i, s, statuses)
				}
			}
		}
		what := "without load"
		if n := stop(); load {
			what = fmt.Sprintf("with a load of 16 clients on B and C (%d requests)", n)
		}
		t.Logf("%d trials %s in %v", rounds[load], what, time.Since(start).Round(time.Millisecond))
		logDurations(t, "revoking answer on A "+what, took)
	}
	t.Logf("%d trials, %d uses of revoked credentials right after the revoking answer: %d accepted", trials, uses, accepted)
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}

// startLoad runs clients that send authenticated requests to B and C (half each) with live
// credentials of the admin, until the returned function is called; it returns the number of
// requests sent. Every answer must be 200.
func (rc *revocationCluster) startLoad(t *testing.T, clients int) func() int {
	t.Helper()
	cookie := rc.a.loginSession("admin", clusterAdminPassword)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: clients}}
	var sent atomic.Int64
	var wg sync.WaitGroup
	done := make(chan struct{})
	for i := range clients {
		in := []*instance{rc.b, rc.c}[i%2]
		hdr := [][]string{cookieHdr(cookie), bearerHdr(rc.adminTok)}[i/2%2]
		wg.Add(1)
		go func() {
			defer wg.Done()
			req, _ := http.NewRequest("GET", in.base+"/api/protected", nil)
			req.Header.Set(hdr[0], hdr[1])
			for {
				select {
				case <-done:
					return
				default:
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Errorf("load: %v", err)
					return
				}
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("load: %d", resp.StatusCode)
					return
				}
				sent.Add(1)
				// A pause leaves the trials some of the machine's cores (CI has two).
				time.Sleep(4 * time.Millisecond)
			}
		}()
	}
	return func() int {
		close(done)
		wg.Wait()
		hc.CloseIdleConnections()
		return int(sent.Load())
	}
}

// logDurations logs the median, 99th percentile and worst of each kind's durations.
func logDurations(t *testing.T, what string, by map[string][]time.Duration) {
	var all []time.Duration
	for _, k := range revocationKinds {
		d := by[k.name]
		if len(d) == 0 {
			continue
		}
		all = append(all, d...)
		t.Logf("%s, %s: %s", what, k.name, percentiles(d))
	}
	t.Logf("%s, all kinds: %s", what, percentiles(all))
}

func percentiles(d []time.Duration) string {
	d = slices.Clone(d)
	slices.Sort(d)
	at := func(q float64) time.Duration { return d[min(len(d)-1, int(q*float64(len(d))))] }
	return fmt.Sprintf("n=%d p50=%v p99=%v worst=%v", len(d), at(0.5).Round(10*time.Microsecond),
		at(0.99).Round(10*time.Microsecond), d[len(d)-1].Round(10*time.Microsecond))
}

// TestClusterRevocationStalledLink stalls B's link to Redis (the proxy stops forwarding, and
// closes nothing) after B has cached the credentials: A's revoking answer waits for B's lease to
// run out, and B then answers 401 or 503, never 200. Once the link flows again B recovers.
func TestClusterRevocationStalledLink(t *testing.T) {
	testkit.Slow(t, "stalls the Redis link of a running instance")
	rc := startRevocationCluster(t, testRedis, "--redis-timeout", "500ms")
	for _, k := range revocationKinds {
		c := rc.creds(k)
		rc.proxy.Stall()
		d, statuses := rc.revokeAndUse(t, k, c)
		rc.proxy.Resume()
		t.Logf("%s with B's link stalled: A answered in %v; B and C answered %v", k.name, d.Round(time.Millisecond), statuses)
		for _, s := range statuses {
			if s != 401 && s != 503 {
				t.Errorf("%s with B's link stalled: a revoked credential got %d (statuses on B and C: %v)", k.name, s, statuses)
			}
		}
		waitStatus(t, "B once its link flows", 10*time.Second, 200, func() answer {
			return rc.b.do("GET", "/api/protected", nil, bearerHdr(rc.adminTok)...)
		})
	}
}

// TestClusterRevocationRedisHung hangs Redis (SIGSTOP) right after A's revoking answer: B and
// C, which had the credentials cached, answer 401 or 503, never 200, for as long as it hangs;
// once their lease has run out they answer 503 even for a live credential they had cached.
func TestClusterRevocationRedisHung(t *testing.T) {
	testkit.Slow(t, "hangs a Redis under running instances")
	srv := redistest.Start(t)
	rc := startRevocationCluster(t, srv.Addr, "--redis-timeout", "300ms")
	for _, k := range revocationKinds {
		c := rc.creds(k)
		r := k.revoke(rc.a, rc.adminTok, c)
		if r.status != 200 && r.status != 204 {
			t.Fatalf("%s on A: %d %s", k.name, r.status, r.raw)
		}
		expectStatus(t, "B, a live token", rc.b.do("GET", "/api/protected", nil, bearerHdr(rc.adminTok)...), 200, "")
		srv.Pause()
		seen := map[int]int{}
		for end := time.Now().Add(1500 * time.Millisecond); time.Now().Before(end); {
			for _, in := range []*instance{rc.b, rc.c} {
				for _, hdr := range [][]string{cookieHdr(c.cookie), bearerHdr(c.token)} {
					if hdr[0] == "Cookie" && !k.cookie || hdr[0] == "Authorization" && !k.token {
						continue
					}
					s := in.do("GET", k.path, nil, hdr...).status
					seen[s]++
					if s != 401 && s != 503 {
						t.Errorf("%s, Redis hung: a revoked credential got %d", k.name, s)
					}
				}
			}
		}
		// Three leases after the pause, B trusts its cache no more: even the live token it has
		// cached gets 503, where an instance without a lease answered from its cache for as
		// long as its client took to notice the hang.
		expectStatus(t, "B, a live token, Redis hung", rc.b.do("GET", "/api/protected", nil, bearerHdr(rc.adminTok)...), 503, gatehouse.EUNAVAILABLE)
		srv.Resume()
		t.Logf("%s, Redis hung after the revoking answer: statuses %v", k.name, seen)
		waitStatus(t, "A once Redis answers", 10*time.Second, 200, func() answer {
			return rc.a.do("GET", "/api/protected", nil, bearerHdr(rc.adminTok)...)
		})
		if k.restore != nil {
			k.restore(rc.a, rc.adminTok, c)
		}
	}
}
