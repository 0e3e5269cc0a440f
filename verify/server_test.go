package verify_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
)

// clock is a settable clock shared by the gatehouse server and the Verifier under test.
type clock = testkit.Clock

func newClock() *clock { return testkit.NewClock() }

const (
	password     = "correct horse battery staple"
	clientSecret = "the resource servers' secret, 32+ bytes"
	audience     = "gatehouse"
)

// gatehouseServer is a complete gatehouse on a 127.0.0.1 listener, wired as cmd/gatehouse
// wires it (revocations published through a revocation.Feed).
type gatehouseServer struct {
	t      testing.TB
	srv    *httptest.Server
	server *ghttp.Server
	keys   *token.KeySet
	acct   *account.Service
	clock  *clock
	// streamDown makes the revocation stream answer 503; killStreams ends the open ones.
	mu         sync.Mutex
	streamDown bool
	streams    []context.CancelFunc
}

func newGatehouse(t testing.TB, alg string, clk *clock) *gatehouseServer {
	t.Helper()
	testkit.CheckNearWallClock(t, clk.Now())
	dir := t.TempDir()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	users := sqlite.NewUserStore(db)
	hasher := argon2.New(argon2.Options{Params: argon2.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}, MaxConcurrent: 4, MaxWait: 5 * time.Second})
	g := &gatehouseServer{t: t, clock: clk, acct: account.New(users, hasher, account.Policy{}, clk.Now)}
	if g.keys, err = token.LoadKeySet(filepath.Join(dir, "keys.json"), token.KeyOptions{Alg: alg, Now: clk.Now}); err != nil {
		t.Fatal(err)
	}
	mirror, err := revocation.NewMirror(ctx, sqlite.NewRevocationStore(db), clk.Now)
	if err != nil {
		t.Fatal(err)
	}
	g.srv = httptest.NewUnstartedServer(http.HandlerFunc(g.serve))
	g.srv.Start()
	tokens, err := token.NewService(g.keys, token.Config{Issuer: g.srv.URL, Audience: audience, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	uses := authn.New(authn.Deps{
		Accounts: g.acct, Users: users, Tokens: tokens,
		Sessions:    session.NewManager(sqlite.NewSessionStore(db), mirror, session.Options{Now: clk.Now}),
		Refresh:     refresh.NewRefresher(sqlite.NewRefreshStore(db), 0, clk.Now),
		Revocations: revocation.NewFeed(mirror),
	}, authn.Config{Now: clk.Now, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	g.server = ghttp.New(ghttp.Deps{Authn: uses}, ghttp.Config{
		Now: clk.Now, IntrospectionSecret: clientSecret, RevocationHeartbeat: 20 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	t.Cleanup(func() { g.killStreams(); g.srv.Close() })
	if _, _, err := g.acct.Bootstrap(ctx, password+" admin"); err != nil {
		t.Fatal(err)
	}
	return g
}

// serve passes requests to gatehouse, except the revocation stream when it is switched off;
// open streams run under a context that killStreams cancels.
func (g *gatehouseServer) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/api/revocations/stream" {
		g.mu.Lock()
		if g.streamDown {
			g.mu.Unlock()
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		ctx, cancel := context.WithCancel(r.Context())
		g.streams = append(g.streams, cancel)
		g.mu.Unlock()
		r = r.WithContext(ctx)
	}
	g.server.ServeHTTP(w, r)
}

func (g *gatehouseServer) setStreamDown(down bool) {
	g.mu.Lock()
	g.streamDown = down
	g.mu.Unlock()
	if down {
		g.killStreams()
	}
}

func (g *gatehouseServer) killStreams() {
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, c := range g.streams {
		c()
	}
	g.streams = nil
}

func (g *gatehouseServer) addUser(name string, role gatehouse.Role) *gatehouse.User {
	g.t.Helper()
	u, err := g.acct.Create(context.Background(), account.NewUser{Username: name, Password: password, Role: role})
	if err != nil {
		g.t.Fatal(err)
	}
	return u
}

// call sends a request to gatehouse and decodes the JSON answer.
func (g *gatehouseServer) call(method, path, body string, hdr ...string) (int, map[string]any) {
	g.t.Helper()
	req, _ := http.NewRequest(method, g.srv.URL+path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		g.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// login returns an access token of user.
func (g *gatehouseServer) login(user, pw string) string {
	g.t.Helper()
	status, out := g.call("POST", "/api/login", `{"username":"`+user+`","password":"`+pw+`"}`)
	if status != 200 {
		g.t.Fatalf("login %s: %d %v", user, status, out)
	}
	return out["access_token"].(string)
}

func auth(tok string) []string { return []string{"Authorization", "Bearer " + tok} }
