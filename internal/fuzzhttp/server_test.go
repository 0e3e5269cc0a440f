package fuzzhttp_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/blocklist"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/token"
	"github.com/gatehouse-auth/gatehouse/web"
)

// server is a complete gatehouse handler on in-memory stores, with a clock that stands still
// (tokens never expire however long the fuzzer runs).
type server struct {
	h       *ghttp.Server
	acct    *account.Service
	adminPW string
}

// fixedNow is the real time when the fuzzer starts; the clock then stands still.
var fixedNow = testkit.Start()

func now() time.Time { return fixedNow }

func newServer(tb testing.TB, proxies []netip.Prefix) *server {
	tb.Helper()
	testkit.CheckNearWallClock(tb, now())
	ctx := context.Background()
	users := memory.NewUserStore()
	hasher := argon2.New(argon2.Options{Params: argon2.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		MaxConcurrent: 4, MaxWait: 5 * time.Second})
	acct := account.New(users, hasher, account.Policy{Blocklist: blocklist.Common()}, now)
	keys, err := token.LoadKeySet(filepath.Join(tb.TempDir(), "keys.json"), token.KeyOptions{Alg: "EdDSA", Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	tokens, err := token.NewService(keys, token.Config{Issuer: "http://gatehouse.test", Audience: "gatehouse", Now: now})
	if err != nil {
		tb.Fatal(err)
	}
	mirror, err := revocation.NewMirror(ctx, memory.NewRevocationStore(), now)
	if err != nil {
		tb.Fatal(err)
	}
	s := &server{acct: acct, adminPW: "the admin's long password"}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	uses := authn.New(authn.Deps{
		Accounts: acct, Users: users, Sessions: session.NewManager(memory.NewSessionStore(), mirror, session.Options{Now: now}),
		Tokens: tokens, Refresh: refresh.NewRefresher(memory.NewRefreshStore(), 0, now), Revocations: mirror,
		Throttle: memory.NewThrottle(memory.ThrottleOptions{Now: now}),
	}, authn.Config{Now: now, Logger: logger})
	api := ghttp.New(ghttp.Deps{Authn: uses}, ghttp.Config{AllowRegistration: true, Now: now, TrustedProxies: proxies, Logger: logger})
	web.Mount(api, uses, web.Config{Logger: logger})
	s.h = api
	if _, _, err := acct.Bootstrap(ctx, s.adminPW); err != nil {
		tb.Fatal(err)
	}
	return s
}

func (s *server) do(tb testing.TB, method, path, body string, hdr ...string) *httptest.ResponseRecorder {
	tb.Helper()
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	s.h.ServeHTTP(w, req)
	return w
}

// login returns an access token (mode token) or the Cookie header value (mode session).
func (s *server) login(tb testing.TB, user, pw, mode string) string {
	tb.Helper()
	b, _ := json.Marshal(map[string]string{"username": user, "password": pw, "mode": mode})
	w := s.do(tb, "POST", "/api/login", string(b))
	if w.Code != 200 {
		tb.Fatalf("login: %d %s", w.Code, w.Body)
	}
	if mode == "session" {
		for _, c := range w.Result().Cookies() {
			return c.Name + "=" + c.Value
		}
		tb.Fatal("no cookie")
	}
	var v struct {
		AccessToken string `json:"access_token"`
	}
	json.Unmarshal(w.Body.Bytes(), &v)
	return v.AccessToken
}

func (s *server) addUser(tb testing.TB, name string) *gatehouse.User {
	tb.Helper()
	u, err := s.acct.Create(context.Background(), account.NewUser{Username: name, Password: "a long enough password for " + name})
	if err != nil {
		tb.Fatal(err)
	}
	return u
}

var _ http.Handler = (*ghttp.Server)(nil)
