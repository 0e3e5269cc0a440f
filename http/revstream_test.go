package http_test

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/apispec"
)

// streamHarness is a harness with a client secret and a short heartbeat.
func streamHarness(t *testing.T) *harness {
	return newHarness(t, options{configure: func(d *authn.Deps, c *ghttp.Config) {
		c.IntrospectionSecret = introspectionSecret
		c.RevocationHeartbeat = 20 * time.Millisecond
	}})
}

type sseEvent struct {
	name string
	data map[string]any
}

// sseClient reads a revocation stream.
type sseClient struct {
	t      *testing.T
	resp   *http.Response
	rd     *bufio.Reader
	cancel context.CancelFunc
}

func openStream(t *testing.T, url string, hdr ...string) (*sseClient, *http.Response) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	req, _ := http.NewRequestWithContext(ctx, "GET", url+"/api/revocations/stream", nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := apispec.Client(t).Do(req)
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	c := &sseClient{t: t, resp: resp, rd: bufio.NewReader(resp.Body), cancel: cancel}
	t.Cleanup(c.close)
	return c, resp
}

func (c *sseClient) close() { c.cancel(); c.resp.Body.Close() }

// next returns the next event, skipping pings unless wantPing.
func (c *sseClient) next(wantPing bool) (sseEvent, bool) {
	c.t.Helper()
	var ev sseEvent
	for {
		line, err := c.rd.ReadString('\n')
		if err != nil {
			return ev, false
		}
		line = strings.TrimRight(line, "\n")
		switch {
		case strings.HasPrefix(line, "event: "):
			ev.name = strings.TrimPrefix(line, "event: ")
		case strings.HasPrefix(line, "data: "):
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data: ")), &ev.data); err != nil {
				c.t.Fatalf("bad data line %q: %v", line, err)
			}
		case line == "":
			if ev.name == "ping" && !wantPing {
				ev = sseEvent{}
				continue
			}
			return ev, true
		}
	}
}

// until reads events up to and including the first one named name.
func (c *sseClient) until(name string) []sseEvent {
	c.t.Helper()
	var seen []sseEvent
	for {
		ev, ok := c.next(name == "ping")
		if !ok {
			c.t.Fatalf("stream ended before %q; saw %v", name, seen)
		}
		seen = append(seen, ev)
		if ev.name == name {
			return seen
		}
	}
}

func TestRevocationStream(t *testing.T) {
	h := streamHarness(t)
	u := h.addUser("erin", gatehouse.RoleUser)
	before, _ := h.loginToken("erin", testPassword)
	expect(t, h.do("POST", "/api/logout", nil, bearer(before)...), 204, "")
	beforeJTI := h.introspectJTI(before)

	c, resp := openStream(t, h.srv.URL, clientAuth...)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "text/event-stream" || resp.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("stream answer: %d %v", resp.StatusCode, resp.Header)
	}
	// The snapshot carries the revocation made before the stream opened.
	snap := c.until("ready")
	found := false
	for _, ev := range snap {
		if ev.name == "token" && ev.data["jti"] == beforeJTI {
			found = true
		}
	}
	ready := snap[len(snap)-1]
	if !found || ready.data["heartbeat_ms"] != 20.0 {
		t.Fatalf("snapshot %v lacks jti %s or the heartbeat", snap, beforeJTI)
	}

	// Revocations as they happen.
	access, _ := h.loginToken("erin", testPassword)
	jti := h.introspectJTI(access)
	expect(t, h.do("POST", "/api/logout", nil, bearer(access)...), 204, "")
	ev, _ := c.next(false)
	if ev.name != "token" || ev.data["jti"] != jti {
		t.Fatalf("after logout: %+v", ev)
	}
	until := int64(ev.data["until"].(float64))
	if time.UnixMilli(until).Before(h.clock.Now().Add(15 * time.Minute)) {
		t.Fatalf("until %v is before the token's exp", time.UnixMilli(until))
	}
	// The token's refresh family died with it: its id is denied too, so that the access tokens
	// issued from it are rejected by every follower of the stream.
	ev, _ = c.next(false)
	if ev.name != "token" || ev.data["jti"] != h.claim(access, "sid") || h.claim(access, "sid") == "" {
		t.Fatalf("after logout, the family's denial: %+v", ev)
	}
	access, _ = h.loginToken("erin", testPassword)
	expect(t, h.do("POST", "/api/logout-all", nil, bearer(access)...), 204, "")
	ev, _ = c.next(false)
	if ev.name != "not_before" || ev.data["sub"] != u.ID || ev.data["not_before"].(float64) <= 0 {
		t.Fatalf("after logout-all: %+v", ev)
	}
	c.until("ping")

	// A second stream opened now sees the not-before time in its snapshot.
	c2, _ := openStream(t, h.srv.URL, clientAuth...)
	snap = c2.until("ready")
	found = false
	for _, ev := range snap {
		found = found || ev.name == "not_before" && ev.data["sub"] == u.ID
	}
	if !found {
		t.Fatalf("second snapshot lacks the not-before time: %v", snap)
	}

	// Shutdown ends every stream.
	h.server.CloseStreams()
	for _, cl := range []*sseClient{c, c2} {
		for {
			if _, ok := cl.next(true); !ok {
				break
			}
		}
	}
	// Two hours on, every token those revocations could reject has expired: the snapshot
	// leaves them out.
	h.clock.Advance(2 * time.Hour)
	c3, _ := openStream(t, h.srv.URL, clientAuth...)
	if snap := c3.until("ready"); len(snap) != 1 {
		t.Fatalf("snapshot two hours later: %v", snap)
	}
	if _, ok := c3.next(true); ok {
		t.Fatal("a stream opened after CloseStreams stays open")
	}
}

// introspectJTI returns the jti claim of a token, read without verification.
func (h *harness) introspectJTI(tok string) string {
	h.t.Helper()
	return h.claim(tok, "jti")
}

// claim returns a string claim of a token, read without verification.
func (h *harness) claim(tok, name string) string {
	h.t.Helper()
	parts := strings.Split(tok, ".")
	var claims map[string]any
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil || json.Unmarshal(raw, &claims) != nil {
		h.t.Fatalf("cannot read claims of %q", tok)
	}
	v, _ := claims[name].(string)
	return v
}

func TestRevocationStreamAuthentication(t *testing.T) {
	h := streamHarness(t)
	h.addUser("fred", gatehouse.RoleUser)
	userTok, _ := h.loginToken("fred", testPassword)
	for _, c := range []struct {
		hdr    []string
		status int
		code   string
	}{
		{nil, 401, "token_missing"},
		{basicAuth(ghttp.DefaultIntrospectionClientID, "wrong"), 401, "invalid_credentials"},
		{bearer("garbage"), 401, "invalid_token"},
		{bearer(userTok), 403, "forbidden"},
	} {
		r := h.do("GET", "/api/revocations/stream", nil, c.hdr...)
		expect(t, r, c.status, c.code)
		if c.status == 401 && r.header.Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
	}
	// An admin's bearer token works, and the stream ends when that token is revoked.
	adminTok, _ := h.loginToken("admin", h.adminPW)
	c, resp := openStream(t, h.srv.URL, bearer(adminTok)...)
	if resp.StatusCode != 200 {
		t.Fatalf("admin bearer: %d", resp.StatusCode)
	}
	c.until("ready")
	expect(t, h.do("POST", "/api/logout", nil, bearer(adminTok)...), 204, "")
	for {
		if _, ok := c.next(true); !ok {
			break // ended at the next heartbeat
		}
	}

	// A server whose revocation store does not publish has no stream.
	plain := newHarness(t, options{configure: func(d *authn.Deps, c *ghttp.Config) {
		d.Revocations = silentStore{d.Revocations}
		c.IntrospectionSecret = introspectionSecret
	}})
	expect(t, plain.do("GET", "/api/revocations/stream", nil, clientAuth...), 404, "not_found")
}

// TestRevocationStreamOutlivesServerTimeouts: the stream is long-lived, so the server's
// ReadTimeout and WriteTimeout must not cut it.
func TestRevocationStreamOutlivesServerTimeouts(t *testing.T) {
	h := streamHarness(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := ghttp.NewHTTPServer(ln.Addr().String(), h.server, nil, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv.ReadTimeout, srv.WriteTimeout = 50*time.Millisecond, 50*time.Millisecond
	go srv.Serve(ln)
	c, _ := openStream(t, "http://"+ln.Addr().String(), clientAuth...)
	c.until("ready")
	deadline := time.Now().Add(300 * time.Millisecond)
	for time.Now().Before(deadline) {
		c.until("ping")
	}
	// Shutdown ends the stream instead of waiting for it.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
}

// silentStore hides every optional capability of the store it wraps (its feed among them).
type silentStore struct{ gatehouse.RevocationStore }
