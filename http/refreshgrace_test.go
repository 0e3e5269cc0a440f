package http_test

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
)

// testGrace is the --refresh-reuse-grace of these tests.
const testGrace = 10 * time.Second

// graceHarness is a server with a refresh reuse grace of testGrace (and the OAuth endpoints).
func graceHarness(t *testing.T) *harness {
	return newHarness(t, options{configure: func(d *authn.Deps, c *ghttp.Config) {
		c.IntrospectionSecret = introspectionSecret
		if err := d.Refresh.SetReuseGrace(testGrace); err != nil {
			t.Fatal(err)
		}
	}})
}

// refreshJSON presents a refresh token to POST /api/token/refresh.
func (h *harness) refreshJSON(refresh string) response {
	h.t.Helper()
	return h.do("POST", "/api/token/refresh", map[string]string{"refresh_token": refresh})
}

// refreshForm presents a refresh token to POST /oauth2/token.
func (h *harness) refreshForm(refresh string) response {
	h.t.Helper()
	return h.postForm("/oauth2/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}})
}

// samePair fails unless got answers with want's pair: token fields equal, expires_in lower by
// the seconds elapsed.
func samePair(t *testing.T, got, want response, elapsed time.Duration) {
	t.Helper()
	expect(t, got, 200, "")
	for _, k := range []string{"token", "access_token", "refresh_token", "token_type"} {
		if got.str(k) != want.str(k) {
			t.Fatalf("%s = %q, want the earlier answer's %q", k, got.str(k), want.str(k))
		}
	}
	if wantIn := want.body["expires_in"].(float64) - elapsed.Seconds(); got.body["expires_in"] != wantIn {
		t.Fatalf("expires_in = %v, want %v", got.body["expires_in"], wantIn)
	}
}

// countReuseEvents returns how many refresh_reuse events the audit trail holds.
func (h *harness) countReuseEvents() int {
	h.t.Helper()
	var n int
	if err := h.db.SQL().QueryRow(`SELECT count(*) FROM audit_events WHERE action = ?`, string(gatehouse.AuditRefreshReuse)).Scan(&n); err != nil {
		h.t.Fatal(err)
	}
	return n
}

// TestRefreshReuseGrace: within the grace a replay of the token just rotated gets the same
// pair (a working one), the store keeps no token of it in clear, and past the grace a replay
// is reuse as without a grace: 401, family revoked, audited.
func TestRefreshReuseGrace(t *testing.T) {
	h := graceHarness(t)
	_, r0 := h.loginToken("admin", h.adminPW)
	first := h.refreshJSON(r0)
	expect(t, first, 200, "")
	if first.str("refresh_token") == r0 {
		t.Fatal("refresh did not rotate")
	}
	h.clock.Advance(5 * time.Second)
	samePair(t, h.refreshJSON(r0), first, 5*time.Second)
	expect(t, h.do("GET", "/api/protected", nil, bearer(first.str("access_token"))...), 200, "")
	h.noTokenInClear(first.str("refresh_token"), first.str("access_token"))
	if n := h.countReuseEvents(); n != 0 {
		t.Fatalf("%d refresh_reuse events for replays within the grace", n)
	}

	h.clock.Advance(testGrace - 5*time.Second + time.Millisecond)
	expect(t, h.refreshJSON(r0), 401, "invalid_token")
	expect(t, h.refreshJSON(first.str("refresh_token")), 401, "invalid_token")
	if n := h.countReuseEvents(); n != 1 {
		t.Fatalf("%d refresh_reuse events after the grace, want 1", n)
	}
}

// noTokenInClear fails if any column of the refresh tables holds one of the tokens.
func (h *harness) noTokenInClear(tokens ...string) {
	h.t.Helper()
	rows, err := h.db.SQL().Query(`SELECT hash, coalesce(sealed, x'') FROM refresh_tokens`)
	if err != nil {
		h.t.Fatal(err)
	}
	defer rows.Close()
	sealed := 0
	for rows.Next() {
		var hash, blob []byte
		if err := rows.Scan(&hash, &blob); err != nil {
			h.t.Fatal(err)
		}
		for _, tok := range tokens {
			if bytes.Contains(hash, []byte(tok)) || bytes.Contains(blob, []byte(tok)) {
				h.t.Fatal("the refresh store holds a token in clear")
			}
		}
		if len(blob) > 0 {
			sealed++
		}
	}
	if err := rows.Err(); err != nil || sealed != 1 {
		h.t.Fatalf("%d sealed results in the store, %v; want 1", sealed, err)
	}
}

// TestRefreshReuseGraceConcurrent is the multi-tab case: 20 tabs refresh with one token at
// once; every one gets 200 and the same pair, and the pair works.
func TestRefreshReuseGraceConcurrent(t *testing.T) {
	h := graceHarness(t)
	_, r0 := h.loginToken("admin", h.adminPW)
	const n = 20
	answers := make([]response, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				answers[i] = h.refreshJSON(r0)
			} else {
				answers[i] = h.refreshForm(r0)
			}
		}()
	}
	wg.Wait()
	for i, a := range answers {
		if a.status != 200 || a.str("refresh_token") != answers[0].str("refresh_token") || a.str("access_token") != answers[0].str("access_token") {
			t.Fatalf("tab %d: %d %s; tab 0 got %s", i, a.status, a.raw, answers[0].raw)
		}
	}
	expect(t, h.do("GET", "/api/protected", nil, bearer(answers[0].str("access_token"))...), 200, "")
	expect(t, h.refreshJSON(answers[0].str("refresh_token")), 200, "")
	if n := h.countReuseEvents(); n != 0 {
		t.Fatalf("%d refresh_reuse events", n)
	}
}

// TestRefreshReuseGraceOnlyLatest: a token two rotations old is reuse even within the grace.
func TestRefreshReuseGraceOnlyLatest(t *testing.T) {
	h := graceHarness(t)
	_, r0 := h.loginToken("admin", h.adminPW)
	first := h.refreshJSON(r0)
	expect(t, first, 200, "")
	second := h.refreshJSON(first.str("refresh_token"))
	expect(t, second, 200, "")
	expect(t, h.refreshJSON(r0), 401, "invalid_token")
	expect(t, h.refreshJSON(second.str("refresh_token")), 401, "invalid_token")
	if n := h.countReuseEvents(); n != 1 {
		t.Fatalf("%d refresh_reuse events, want 1", n)
	}
}

// TestRefreshReuseGraceDeadFamily: the grace revives nothing: not a family logged out
// everywhere, nor one whose user was disabled, nor one past its lifetime.
func TestRefreshReuseGraceDeadFamily(t *testing.T) {
	h := graceHarness(t)
	h.addUser("carol", gatehouse.RoleUser)
	_, r0 := h.loginToken("carol", testPassword)
	first := h.refreshJSON(r0)
	expect(t, first, 200, "")
	expect(t, h.do("POST", "/api/logout-all", nil, bearer(first.str("access_token"))...), 204, "")
	expect(t, h.refreshJSON(r0), 401, "invalid_token")

	dave := h.addUser("dave", gatehouse.RoleUser)
	_, r0 = h.loginToken("dave", testPassword)
	expect(t, h.refreshJSON(r0), 200, "")
	admin, _ := h.loginToken("admin", h.adminPW)
	expect(t, h.do("PATCH", "/api/admin/users/"+dave.ID, map[string]any{"disabled": true}, bearer(admin)...), 200, "")
	expect(t, h.refreshJSON(r0), 401, "invalid_token")

	_, r0 = h.loginToken("admin", h.adminPW)
	h.clock.Advance(30*24*time.Hour - time.Second)
	expect(t, h.refreshJSON(r0), 200, "")
	h.clock.Advance(2 * time.Second)
	expect(t, h.refreshJSON(r0), 401, "")
}

// TestOAuthTokenReuseGrace is TestRefreshReuseGrace on the form-encoded token endpoint: the
// same pair within the grace (also across the two endpoints), invalid_grant after it.
func TestOAuthTokenReuseGrace(t *testing.T) {
	h := graceHarness(t)
	_, r0 := h.loginToken("admin", h.adminPW)
	first := h.refreshForm(r0)
	expect(t, first, 200, "")
	h.clock.Advance(3 * time.Second)
	samePair(t, h.refreshForm(r0), first, 3*time.Second)
	samePair(t, h.refreshJSON(r0), first, 3*time.Second)
	h.clock.Advance(testGrace)
	expectOAuth(t, h.refreshForm(r0), 400, "invalid_grant")
	expectOAuth(t, h.refreshForm(first.str("refresh_token")), 400, "invalid_grant")
}

// BenchmarkRefresh measures POST /api/token/refresh on the SQLite store through the whole
// handler: a chain of rotations without a grace (the default), the same with a 10 s grace
// (one more store read, the pair sealed), and a replay within the grace answered from the
// sealed pair.
func BenchmarkRefresh(b *testing.B) {
	for _, c := range []struct {
		name   string
		grace  time.Duration
		replay bool
	}{{"rotate-no-grace", 0, false}, {"rotate-grace-10s", testGrace, false}, {"replay-grace-10s", testGrace, true}} {
		b.Run(c.name, func(b *testing.B) {
			clk := newClock()
			h := newHarness(b, options{clock: clk, configure: func(d *authn.Deps, _ *ghttp.Config) {
				if err := d.Refresh.SetReuseGrace(c.grace); err != nil {
					b.Fatal(err)
				}
			}})
			_, refresh := h.loginToken("admin", h.adminPW)
			if c.replay {
				benchRefresh(b, h, refresh) // rotated once: every iteration replays it
			}
			clk.SetStep(0) // the grace must not run out while b.N grows
			b.ReportAllocs()
			b.ResetTimer()
			for range b.N {
				next := benchRefresh(b, h, refresh)
				if !c.replay {
					refresh = next
				}
			}
		})
	}
}

// benchRefresh presents refresh to the handler and returns the new refresh token.
func benchRefresh(b *testing.B, h *harness, refresh string) string {
	req := httptest.NewRequest("POST", "/api/token/refresh", strings.NewReader(`{"refresh_token":"`+refresh+`"}`))
	req.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.server.ServeHTTP(w, req)
	var body struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &body); err != nil || w.Code != 200 {
		b.Fatalf("refresh: %d %s", w.Code, w.Body)
	}
	return body.RefreshToken
}
