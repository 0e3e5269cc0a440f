package http_test

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
)

// lockedBuffer collects logs written from many goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAuditTrailHasNoSecrets runs a full scenario (registration, logins of both kinds, a wrong
// password, refresh, refresh reuse, logout, logout everywhere, every admin action, a rate
// limit) with every log at debug level captured, then checks that each event is in the audit
// trail with who, where and from what, and that no password, access token, refresh token or
// cookie value appears anywhere: not in the logs, not in the audit API's answers.
func TestAuditTrailHasNoSecrets(t *testing.T) {
	logs := &lockedBuffer{}
	h := newHarness(t, options{logs: logs, registration: true, proxies: proxied})
	var secrets []string
	keep := func(s ...string) {
		for _, v := range s {
			if v == "" {
				t.Fatal("empty secret: the scenario went wrong")
			}
			secrets = append(secrets, v)
		}
	}
	keep(h.adminPW, testPassword)
	ua := []string{"User-Agent", "scenario-agent/1.0"}
	from := func(ip string, hdr ...string) []string { return append(append(xff(ip), ua...), hdr...) }

	// Registration and logins.
	const carolPW = "carol's own long passphrase"
	keep(carolPW)
	r := h.do("POST", "/api/register", map[string]string{"username": "carol", "password": carolPW}, from("198.51.100.1")...)
	expect(t, r, 201, "")
	carolID := r.body["user"].(map[string]any)["id"].(string)
	adminAccess, adminRefresh := h.loginToken("admin", h.adminPW)
	keep(adminAccess, adminRefresh)
	cookieHdr := h.loginSession("carol", carolPW, from("198.51.100.1")...)
	keep(strings.SplitN(cookieHdr, "=", 2)[1])
	const wrongPW = "not carol's passphrase at all"
	keep(wrongPW)
	expect(t, h.do("POST", "/api/login", loginBody("carol", wrongPW), from("203.0.113.66")...), 401, "invalid_credentials")
	expect(t, h.do("POST", "/api/login", loginBody("nobody-here", wrongPW), from("203.0.113.66")...), 401, "invalid_credentials")

	// Refresh, then reuse of the rotated refresh token.
	carolAccess, carolRefresh := h.loginToken("carol", carolPW)
	keep(carolAccess, carolRefresh)
	r = h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": carolRefresh}, from("198.51.100.1")...)
	expect(t, r, 200, "")
	keep(r.str("access_token"), r.str("refresh_token"))
	expect(t, h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": carolRefresh}, from("203.0.113.66")...), 401, "invalid_token")

	// Own session revocation, logout, logout everywhere.
	other := h.loginSession("carol", carolPW, from("198.51.100.2")...)
	keep(strings.SplitN(other, "=", 2)[1])
	r = h.do("GET", "/api/sessions", nil, cookie(cookieHdr)...)
	for _, s := range r.body["sessions"].([]any) {
		if m := s.(map[string]any); m["current"] != true {
			expect(t, h.do("DELETE", "/api/sessions/"+m["id"].(string), nil, from("198.51.100.1", cookie(cookieHdr)...)...), 204, "")
		}
	}
	// The reuse above revoked carolAccess with its family; log out with a live token.
	expect(t, h.do("GET", "/api/me", nil, bearer(carolAccess)...), 401, "invalid_token")
	carolAccess, carolRefresh = h.loginToken("carol", carolPW)
	keep(carolAccess, carolRefresh)
	expect(t, h.do("POST", "/api/logout", nil, from("198.51.100.1", bearer(carolAccess)...)...), 204, "")
	expect(t, h.do("POST", "/api/logout-all", nil, from("198.51.100.1", cookie(cookieHdr)...)...), 204, "")

	// Every admin action.
	const davePW = "dave's first long passphrase"
	const davePW2 = "dave's second long passphrase"
	keep(davePW, davePW2)
	admin := func(method, path string, body any) response {
		return h.do(method, path, body, from("192.0.2.10", bearer(adminAccess)...)...)
	}
	r = admin("POST", "/api/admin/users", map[string]string{"username": "dave", "password": davePW})
	expect(t, r, 201, "")
	daveID := r.body["user"].(map[string]any)["id"].(string)
	expect(t, admin("PATCH", "/api/admin/users/"+daveID, map[string]any{"role": "admin"}), 200, "")
	expect(t, admin("PATCH", "/api/admin/users/"+daveID, map[string]any{"disabled": true, "password": davePW2}), 200, "")
	expect(t, admin("PATCH", "/api/admin/users/"+daveID, map[string]any{"disabled": false}), 200, "")
	daveCookie := h.loginSession("dave", davePW2)
	keep(strings.SplitN(daveCookie, "=", 2)[1])
	r = admin("GET", "/api/admin/users/"+daveID+"/sessions", nil)
	handle := r.body["sessions"].([]any)[0].(map[string]any)["id"].(string)
	expect(t, admin("DELETE", "/api/admin/sessions/"+handle, nil), 204, "")
	expect(t, admin("DELETE", "/api/admin/users/"+carolID+"/sessions", nil), 204, "")
	expect(t, admin("DELETE", "/api/admin/users/"+daveID, nil), 204, "")

	// A rate limit.
	for i := 0; i < 6; i++ {
		h.do("POST", "/api/login", loginBody("carol", wrongPW+fmt.Sprint(i)), from("203.0.113.99")...)
		keep(wrongPW + fmt.Sprint(i))
	}

	// The trail, through the API, newest first, in pages of 5.
	var events []map[string]any
	var pages []string
	after := ""
	for {
		r = admin("GET", "/api/admin/audit?limit=5&after="+after, nil)
		expect(t, r, 200, "")
		pages = append(pages, r.raw)
		for _, e := range r.body["events"].([]any) {
			events = append(events, e.(map[string]any))
		}
		if after = r.str("next"); after == "" {
			break
		}
	}
	find := func(action, outcome, user string, ip ...string) map[string]any {
		t.Helper()
		for _, e := range events {
			if e["action"] == action && e["outcome"] == outcome && (user == "*" || e["user_id"] == user) && (ip == nil || e["ip"] == ip[0]) {
				return e
			}
		}
		t.Fatalf("no %s/%s event for %q in the trail", action, outcome, user)
		return nil
	}
	e := find("login", "failure", carolID, "203.0.113.66")
	if e["user_agent"] != "scenario-agent/1.0" || e["detail"] != "invalid_credentials" || e["time"] == "" {
		t.Fatalf("failed login event: %v", e)
	}
	if e := find("login", "failure", ""); e["detail"] != "unknown account" {
		t.Fatalf("unknown account event: %v", e)
	}
	find("login", "success", carolID)
	find("user_created", "success", carolID)
	if e := find("refresh_reuse", "failure", carolID); e["ip"] != "203.0.113.66" {
		t.Fatalf("reuse event: %v", e)
	}
	find("session_revoked", "success", carolID)
	find("logout", "success", carolID)
	find("logout_all", "success", carolID)
	if e := find("role_changed", "success", daveID); e["detail"] != "user->admin" || e["actor_id"] == "" || e["ip"] != "192.0.2.10" {
		t.Fatalf("role change event: %v", e)
	}
	find("user_disabled", "success", daveID)
	find("user_enabled", "success", daveID)
	find("password_changed", "success", daveID)
	find("sessions_revoked", "success", carolID)
	find("user_deleted", "success", daveID)
	// Filters.
	r = admin("GET", "/api/admin/audit?action=user_deleted", nil)
	if evs := r.body["events"].([]any); len(evs) != 1 {
		t.Fatalf("action filter: %s", r.raw)
	}
	r = admin("GET", "/api/admin/audit?user_id="+daveID+"&limit=500", nil)
	for _, ev := range r.body["events"].([]any) {
		m := ev.(map[string]any)
		if m["user_id"] != daveID && m["actor_id"] != daveID {
			t.Fatalf("user filter let through %v", m)
		}
	}
	expect(t, admin("GET", "/api/admin/audit?action=drop_tables", nil), 400, "bad_request")
	expect(t, admin("GET", "/api/admin/audit?limit=0", nil), 400, "bad_request")
	expect(t, h.do("GET", "/api/admin/audit", nil, bearer(r.str("x"))...), 401, "invalid_token")

	// No secret anywhere.
	all := logs.String() + strings.Join(pages, "\n")
	if !strings.Contains(all, "msg=audit") {
		t.Fatalf("no audit records in the logs:\n%s", logs.String())
	}
	for _, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("a secret (%d bytes, starting %q) appears in the logs or the audit trail", len(s), s[:4])
		}
	}
	// And not in any row of the database either (the audit table is the only new one).
	rows, err := h.db.SQL().Query(`SELECT id || time || action || outcome || user_id || actor_id || ip || user_agent || detail FROM audit_events`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var row string
		rows.Scan(&row)
		n++
		for _, s := range secrets {
			if strings.Contains(row, s) {
				t.Errorf("a secret is stored in the audit table")
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d audit rows", n)
	}
}

// TestAuditUserAgentCannotForgeLogLines: control characters and invalid UTF-8 in the user
// agent are replaced, and it is cut at 256 bytes.
func TestAuditUserAgentCannotForgeLogLines(t *testing.T) {
	logs := &lockedBuffer{}
	h := newHarness(t, options{logs: logs})
	req, _ := http.NewRequest("POST", h.srv.URL+"/api/login", strings.NewReader(`{"username":"admin","password":"wrong wrong wrong wrong"}`))
	req.Header.Set("User-Agent", "evil\t\xff"+strings.Repeat("é", 300))
	req.Header.Set("Content-Type", "application/json")
	resp, err := h.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	r := h.do("GET", "/api/admin/audit?action=login", nil, bearer(func() string { a, _ := h.loginToken("admin", h.adminPW); return a }())...)
	for _, e := range r.body["events"].([]any) {
		m := e.(map[string]any)
		if m["outcome"] != gatehouse.AuditFailure {
			continue
		}
		ua := m["user_agent"].(string)
		if !strings.HasPrefix(ua, "evil??é") || len(ua) > 256 {
			t.Fatalf("user agent kept as %q (%d bytes)", ua, len(ua))
		}
		return
	}
	t.Fatalf("no failed login event: %s", r.raw)
}
