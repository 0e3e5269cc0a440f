package main

import (
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestClusterConsistency runs three gatehouse servers on one PostgreSQL schema and one Redis
// prefix, with no affinity: whatever one instance does, the others see on their very next
// request, for sessions and tokens alike.
func TestClusterConsistency(t *testing.T) {
	testkit.Slow(t, "starts a cluster of instances on Redis and PostgreSQL")
	b := newBackends(t, testRedis)
	a, bb, c := startInstance(t, b), startInstance(t, b), startInstance(t, b)
	adminTok, _ := a.loginToken("admin", clusterAdminPassword)

	t.Run("SessionAndTokenMadeOnAWorkOnBAndC", func(t *testing.T) {
		cookie := a.loginSession("admin", clusterAdminPassword)
		for _, in := range []*instance{bb, c} {
			r := in.do("GET", "/api/protected", nil, cookieHdr(cookie)...)
			expectStatus(t, "session from A", r, 200, "")
			if r.str("auth") != "session" {
				t.Fatalf("auth = %q", r.str("auth"))
			}
			expectStatus(t, "token from A", in.do("GET", "/api/protected", nil, bearerHdr(adminTok)...), 200, "")
		}
		// The session lists the same everywhere.
		list := c.do("GET", "/api/sessions", nil, cookieHdr(cookie)...)
		expectStatus(t, "list sessions on C", list, 200, "")
		if n := len(list.body["sessions"].([]any)); n < 1 {
			t.Fatalf("sessions on C: %s", list.raw)
		}
	})

	t.Run("SessionLogout", func(t *testing.T) {
		cookie := a.loginSession("admin", clusterAdminPassword)
		expectStatus(t, "B caches the session", bb.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 200, "")
		expectStatus(t, "logout on A", a.do("POST", "/api/logout", nil, cookieHdr(cookie)...), 204, "")
		expectStatus(t, "B's next request", bb.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
		expectStatus(t, "C's next request", c.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
	})

	t.Run("TokenLogout", func(t *testing.T) {
		tok, refresh := a.loginToken("admin", clusterAdminPassword)
		expectStatus(t, "B caches the check", bb.do("GET", "/api/protected", nil, bearerHdr(tok)...), 200, "")
		expectStatus(t, "logout on A", a.do("POST", "/api/logout", nil, bearerHdr(tok)...), 204, "")
		expectStatus(t, "B's next request", bb.do("GET", "/api/protected", nil, bearerHdr(tok)...), 401, gatehouse.EINVALIDTOKEN)
		expectStatus(t, "refresh on C", c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, gatehouse.EINVALIDTOKEN)
	})

	t.Run("LogoutAll", func(t *testing.T) {
		a.createUser(adminTok, "lucy", gatehouse.RoleUser)
		cookie := a.loginSession("lucy", testUserPassword)
		tok, _ := c.loginToken("lucy", testUserPassword)
		expectStatus(t, "B: session", bb.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 200, "")
		expectStatus(t, "B: token", bb.do("GET", "/api/protected", nil, bearerHdr(tok)...), 200, "")
		expectStatus(t, "logout-all on A", a.do("POST", "/api/logout-all", nil, bearerHdr(tok)...), 204, "")
		expectStatus(t, "B: session after", bb.do("GET", "/api/protected", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
		expectStatus(t, "B: token after", bb.do("GET", "/api/protected", nil, bearerHdr(tok)...), 401, gatehouse.EINVALIDTOKEN)
		// A new login right after works everywhere.
		fresh, _ := bb.loginToken("lucy", testUserPassword)
		expectStatus(t, "new token on C", c.do("GET", "/api/protected", nil, bearerHdr(fresh)...), 200, "")
	})

	t.Run("AdminRevokesUser", func(t *testing.T) {
		id := a.createUser(adminTok, "mike", gatehouse.RoleUser)
		cookie := bb.loginSession("mike", testUserPassword)
		tok, _ := bb.loginToken("mike", testUserPassword)
		expectStatus(t, "B: session", bb.do("GET", "/api/me", nil, cookieHdr(cookie)...), 200, "")
		expectStatus(t, "B: token", bb.do("GET", "/api/me", nil, bearerHdr(tok)...), 200, "")
		expectStatus(t, "admin revoke on A", a.do("DELETE", "/api/admin/users/"+id+"/sessions", nil, bearerHdr(adminTok)...), 204, "")
		expectStatus(t, "B: session after", bb.do("GET", "/api/me", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
		expectStatus(t, "B: token after", bb.do("GET", "/api/me", nil, bearerHdr(tok)...), 401, gatehouse.EINVALIDTOKEN)
	})

	t.Run("AdminRevokesOneSession", func(t *testing.T) {
		id := a.createUser(adminTok, "nina", gatehouse.RoleUser)
		one, two := bb.loginSession("nina", testUserPassword), c.loginSession("nina", testUserPassword)
		expectStatus(t, "B: one", bb.do("GET", "/api/me", nil, cookieHdr(one)...), 200, "")
		list := a.do("GET", "/api/admin/users/"+id+"/sessions", nil, bearerHdr(adminTok)...)
		expectStatus(t, "list on A", list, 200, "")
		sessions := list.body["sessions"].([]any)
		if len(sessions) != 2 {
			t.Fatalf("nina's sessions on A: %s", list.raw)
		}
		// Find the handle of "one" through its owner's own view on C.
		mine := c.do("GET", "/api/sessions", nil, cookieHdr(one)...)
		var handle string
		for _, s := range mine.body["sessions"].([]any) {
			if m := s.(map[string]any); m["current"] == true {
				handle = m["id"].(string)
			}
		}
		expectStatus(t, "admin deletes it on A", a.do("DELETE", "/api/admin/sessions/"+handle, nil, bearerHdr(adminTok)...), 204, "")
		expectStatus(t, "B: one after", bb.do("GET", "/api/me", nil, cookieHdr(one)...), 401, gatehouse.ESESSIONEXPIRED)
		expectStatus(t, "B: two still", bb.do("GET", "/api/me", nil, cookieHdr(two)...), 200, "")
	})

	t.Run("RoleChange", func(t *testing.T) {
		id := a.createUser(adminTok, "olga", gatehouse.RoleAdmin)
		cookie := c.loginSession("olga", testUserPassword)
		tok, _ := c.loginToken("olga", testUserPassword)
		expectStatus(t, "B: admin by session", bb.do("GET", "/api/admin/users", nil, cookieHdr(cookie)...), 200, "")
		expectStatus(t, "B: admin by token", bb.do("GET", "/api/admin/users", nil, bearerHdr(tok)...), 200, "")
		expectStatus(t, "demote on A", a.do("PATCH", "/api/admin/users/"+id, map[string]string{"role": "user"}, bearerHdr(adminTok)...), 200, "")
		expectStatus(t, "B: session after", bb.do("GET", "/api/admin/users", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
		expectStatus(t, "B: token after", bb.do("GET", "/api/admin/users", nil, bearerHdr(tok)...), 401, gatehouse.EINVALIDTOKEN)
		fresh, _ := bb.loginToken("olga", testUserPassword)
		expectStatus(t, "C: new token is a user's", c.do("GET", "/api/admin/users", nil, bearerHdr(fresh)...), 403, gatehouse.EFORBIDDEN)
	})

	t.Run("Disable", func(t *testing.T) {
		id := a.createUser(adminTok, "pete", gatehouse.RoleUser)
		cookie := bb.loginSession("pete", testUserPassword)
		tok, refresh := bb.loginToken("pete", testUserPassword)
		expectStatus(t, "B: session", bb.do("GET", "/api/me", nil, cookieHdr(cookie)...), 200, "")
		expectStatus(t, "B: token", bb.do("GET", "/api/me", nil, bearerHdr(tok)...), 200, "")
		expectStatus(t, "disable on A", a.do("PATCH", "/api/admin/users/"+id, map[string]bool{"disabled": true}, bearerHdr(adminTok)...), 200, "")
		expectStatus(t, "B: session after", bb.do("GET", "/api/me", nil, cookieHdr(cookie)...), 401, gatehouse.ESESSIONEXPIRED)
		expectStatus(t, "B: token after", bb.do("GET", "/api/me", nil, bearerHdr(tok)...), 401, gatehouse.EINVALIDTOKEN)
		expectStatus(t, "C: refresh after", c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh}), 401, gatehouse.EINVALIDTOKEN)
		if r := c.do("POST", "/api/login", map[string]string{"username": "pete", "password": testUserPassword}); r.status == 200 {
			t.Fatalf("a disabled user logged in on C: %s", r.raw)
		}
	})

	t.Run("RefreshRotatesAcrossInstances", func(t *testing.T) {
		_, r0 := a.loginToken("admin", clusterAdminPassword)
		rot := bb.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0})
		expectStatus(t, "rotate on B", rot, 200, "")
		r1 := rot.str("refresh_token")
		// Replaying the old token on C is reuse: the whole family dies, on every instance.
		expectStatus(t, "replay on C", c.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r0}), 401, gatehouse.EINVALIDTOKEN)
		expectStatus(t, "the new one on A", a.do("POST", "/api/token/refresh", map[string]string{"refresh_token": r1}), 401, gatehouse.EINVALIDTOKEN)
	})

	t.Run("Metrics", func(t *testing.T) {
		m := a.do("GET", "/metrics", nil)
		for _, want := range []string{"gatehouse_sessions_active ", "gatehouse_redis_used_memory_bytes ", `gatehouse_revocation_settle_seconds_count{lease_waited="false"} `} {
			if !strings.Contains(m.raw, want) || strings.Contains(m.raw, want+"-1") {
				t.Errorf("metrics lack a value for %q", want)
			}
		}
	})

	// An instance that read a session is told when another one deletes it, and counts it.
	t.Run("InvalidationsCounted", func(t *testing.T) {
		cookie := a.loginSession("admin", clusterAdminPassword)
		for _, in := range []*instance{a, bb, c} {
			expectStatus(t, "read the session", in.do("GET", "/api/me", nil, cookieHdr(cookie)...), 200, "")
		}
		before := metricValue(t, bb, "gatehouse_redis_invalidations_total")
		expectStatus(t, "logout on A", a.do("POST", "/api/logout", nil, cookieHdr(cookie)...), 204, "")
		for end := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			if metricValue(t, bb, "gatehouse_redis_invalidations_total") > before {
				break
			}
			if time.Now().After(end) {
				t.Fatalf("B read a session that A deleted, and counted no invalidation (still %v)", before)
			}
		}
	})

	t.Run("UserAddOnPostgres", func(t *testing.T) {
		out, _, err := run(t, "", append([]string{"user", "add", "--data", t.TempDir(), "--user-store", "postgres",
			"--postgres-url", b.pgURL, "--username", "rita"}, fastHash...)...)
		if err != nil || !strings.Contains(out, `created user "rita"`) {
			t.Fatalf("user add: %q %v", out, err)
		}
		pw := strings.TrimSpace(out[strings.Index(out, "once): ")+len("once): "):])
		bb.loginToken("rita", pw)
	})

	t.Run("Readyz", func(t *testing.T) {
		for _, in := range []*instance{a, bb, c} {
			expectStatus(t, "readyz", in.do("GET", "/readyz", nil), 200, "")
		}
	})
}
