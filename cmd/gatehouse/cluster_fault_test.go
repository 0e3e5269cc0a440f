package main

import (
	"context"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/rueidis"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/redistest"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// waitStatus polls until f answers status, for up to limit, and returns that answer.
func waitStatus(t *testing.T, what string, limit time.Duration, status int, f func() answer) answer {
	t.Helper()
	deadline := time.Now().Add(limit)
	for {
		a := f()
		if a.status == status {
			return a
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: still %d %s after %v, want %d", what, a.status, a.raw, limit, status)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestRedisDown stops the instance's Redis: requests that need it fail closed with 503
// unavailable, quickly, and /readyz says so; when Redis is back the same process recovers.
// Sessions died with the Redis that held them (it had no persistence); tokens and revocations
// did not.
func TestRedisDown(t *testing.T) {
	testkit.Slow(t, "breaks the stores under running instances")
	srv := redistest.Start(t)
	b := newBackends(t, srv.Addr)
	in := startInstance(t, b, "--redis-timeout", "500ms")
	cookie := in.loginSession("admin", clusterAdminPassword)
	tok, _ := in.loginToken("admin", clusterAdminPassword)
	expectStatus(t, "before", in.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 200, "")

	srv.Kill()
	waitStatus(t, "session request with Redis down", 2*time.Second, 503, func() answer {
		return in.do("GET", "/api/protected", nil, cookieHdr(cookie)...)
	})
	checks := []struct {
		what string
		call func() answer
	}{
		{"session request", func() answer { return in.do("GET", "/api/protected", nil, cookieHdr(cookie)...) }},
		{"token request", func() answer { return in.do("GET", "/api/protected", nil, bearerHdr(tok)...) }},
		{"session login", func() answer {
			return in.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword, "mode": "session"})
		}},
		{"token login", func() answer {
			return in.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword, "mode": "token"})
		}},
		{"readyz", func() answer { return in.do("GET", "/readyz", nil) }},
	}
	for _, c := range checks {
		// The first token request may still be answered from the client-side cache if the
		// client has not yet seen the connection close; it is right data, not missing data.
		a := waitStatus(t, c.what, 2*time.Second, 503, c.call)
		expectStatus(t, c.what, a, 503, gatehouse.EUNAVAILABLE)
		for range 3 {
			a = c.call()
			expectStatus(t, c.what+" again", a, 503, gatehouse.EUNAVAILABLE)
			if a.took > 2*time.Second {
				t.Fatalf("%s took %v to fail", c.what, a.took)
			}
			t.Logf("Redis down: %s -> %d in %v", c.what, a.status, a.took.Round(time.Millisecond))
		}
	}

	srv.Restart()
	waitStatus(t, "readyz after Redis is back", 5*time.Second, 200, func() answer { return in.do("GET", "/readyz", nil) })
	waitStatus(t, "token after Redis is back", 5*time.Second, 200, func() answer {
		return in.do("GET", "/api/protected", nil, bearerHdr(tok)...)
	})
	// The session lived only in the Redis that was killed (no persistence): it is gone, and
	// says so; a new login works in the same process.
	expectStatus(t, "old session", in.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
	fresh := in.loginSession("admin", clusterAdminPassword)
	expectStatus(t, "new session", in.do("GET", "/api/protected", nil, cookieHdr(fresh)...), 200, "")
}

// TestRedisLossKeepsRevocations flushes, then restarts without persistence, the instance's
// Redis: a revoked token that has not expired stays revoked, since revocations are durable in
// PostgreSQL and Redis is only trusted while it provably holds them.
func TestRedisLossKeepsRevocations(t *testing.T) {
	testkit.Slow(t, "breaks the stores under running instances")
	srv := redistest.Start(t)
	b := newBackends(t, srv.Addr)
	in := startInstance(t, b)
	adminTok, _ := in.loginToken("admin", clusterAdminPassword)
	loggedOut, _ := in.loginToken("admin", clusterAdminPassword)
	expectStatus(t, "logout", in.do("POST", "/api/logout", nil, bearerHdr(loggedOut)...), 204, "")
	id := in.createUser(adminTok, "quinn", gatehouse.RoleUser)
	revoked, _ := in.loginToken("quinn", testUserPassword)
	expectStatus(t, "admin revoke", in.do("DELETE", "/api/admin/users/"+id+"/sessions", nil, bearerHdr(adminTok)...), 204, "")
	live, _ := in.loginToken("quinn", testUserPassword)

	check := func(when string) {
		t.Helper()
		expectStatus(t, when+": logged-out token", in.do("GET", "/api/protected", nil, bearerHdr(loggedOut)...), 401, gatehouse.EINVALIDTOKEN)
		expectStatus(t, when+": token issued before the revocation", in.do("GET", "/api/protected", nil, bearerHdr(revoked)...), 401, gatehouse.EINVALIDTOKEN)
		expectStatus(t, when+": token issued after it", in.do("GET", "/api/protected", nil, bearerHdr(live)...), 200, "")
	}
	check("before")
	c, err := rueidis.NewClient(rueidis.ClientOption{InitAddress: []string{srv.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Do(context.Background(), c.B().Flushall().Build()).Error(); err != nil {
		t.Fatal(err)
	}
	c.Close()
	for range 5 {
		check("after FLUSHALL")
	}
	srv.Kill()
	srv.Restart()
	waitStatus(t, "after restart", 5*time.Second, 200, func() answer {
		return in.do("GET", "/api/protected", nil, bearerHdr(live)...)
	})
	for range 5 {
		check("after a restart without persistence")
	}
}

// TestPostgresTerminated kills the pool's connections with pg_terminate_backend: requests
// answer 503 at worst, never another error, and the process recovers without a restart.
func TestPostgresTerminated(t *testing.T) {
	testkit.Slow(t, "breaks the stores under running instances")
	b := newBackends(t, testRedis)
	in := startInstance(t, b, "--postgres-timeout", "1s")
	tok, refresh := in.loginToken("admin", clusterAdminPassword)
	for range 4 { // use several pool connections
		in.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword})
	}
	ctx := context.Background()
	admin, err := pgx.Connect(ctx, testPostgres)
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(ctx)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1) k`, b.schema).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no backend terminated: the test does not test what it should")
	}
	failures := 0
	deadline := time.Now().Add(5 * time.Second)
	for {
		r := in.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh})
		if r.status == 200 {
			refresh = r.str("refresh_token")
			break
		}
		expectStatus(t, "refresh after pg_terminate_backend", r, 503, gatehouse.EUNAVAILABLE)
		if failures++; time.Now().After(deadline) {
			t.Fatalf("no recovery after %d failures", failures)
		}
	}
	t.Logf("%d backends terminated; %d refreshes answered 503 before the pool recovered", killed, failures)
	expectStatus(t, "token", in.do("GET", "/api/protected", nil, bearerHdr(tok)...), 200, "")
	expectStatus(t, "readyz", in.do("GET", "/readyz", nil), 200, "")
	r := in.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword})
	expectStatus(t, "login", r, 200, "")
	if strings.Count(r.str("token"), ".") != 2 {
		t.Fatalf("login: %s", r.raw)
	}
}

// tcpProxy forwards a local port to target until stopped; stopping closes every connection,
// which is what the instance sees when its database goes away.
type tcpProxy struct {
	addr   string
	target string
	mu     sync.Mutex
	ln     net.Listener
	conns  []net.Conn
}

func startProxy(t *testing.T, target string) *tcpProxy {
	p := &tcpProxy{target: target}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.addr = ln.Addr().String()
	p.serve(ln)
	t.Cleanup(p.stop)
	return p
}

func (p *tcpProxy) serve(ln net.Listener) {
	p.mu.Lock()
	p.ln = ln
	p.mu.Unlock()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			up, err := net.Dial("tcp", p.target)
			if err != nil {
				c.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { io.Copy(up, c); up.Close() }()
			go func() { io.Copy(c, up); c.Close() }()
		}
	}()
}

// stop closes the listener and every connection.
func (p *tcpProxy) stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.ln != nil {
		p.ln.Close()
		p.ln = nil
	}
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// restart listens on the same address again.
func (p *tcpProxy) restart(t *testing.T) {
	ln, err := net.Listen("tcp", p.addr)
	if err != nil {
		t.Fatal(err)
	}
	p.serve(ln)
}

// TestPostgresDown cuts the instance off from PostgreSQL: authenticating sessions and tokens
// keeps working (it needs Redis only), logins and refreshes fail closed with 503, /readyz says
// 503, and the process recovers when the database is reachable again.
func TestPostgresDown(t *testing.T) {
	testkit.Slow(t, "breaks the stores under running instances")
	b := newBackends(t, testRedis)
	proxy := startProxy(t, "127.0.0.1:5432")
	b.pgURL = strings.Replace(b.pgURL, "127.0.0.1:5432", proxy.addr, 1)
	in := startInstance(t, b, "--postgres-timeout", "1s")
	cookie := in.loginSession("admin", clusterAdminPassword)
	tok, refresh := in.loginToken("admin", clusterAdminPassword)

	proxy.stop()
	waitStatus(t, "login with PostgreSQL down", 3*time.Second, 503, func() answer {
		return in.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword})
	})
	expectStatus(t, "refresh", in.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 503, gatehouse.EUNAVAILABLE)
	expectStatus(t, "readyz", in.do("GET", "/readyz", nil), 503, gatehouse.EUNAVAILABLE)
	expectStatus(t, "session", in.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 200, "")
	expectStatus(t, "token", in.do("GET", "/api/protected", nil, bearerHdr(tok)...), 200, "")

	proxy.restart(t)
	waitStatus(t, "login after PostgreSQL is back", 5*time.Second, 200, func() answer {
		return in.do("POST", "/api/login", map[string]string{"username": "admin", "password": clusterAdminPassword})
	})
	expectStatus(t, "refresh after", in.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 200, "")
	expectStatus(t, "readyz after", in.do("GET", "/readyz", nil), 200, "")
}
