package main

import (
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"runtime"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/blocklist"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
	"github.com/gatehouse-auth/gatehouse/web"
)

// embedded is gatehouse used as a Go library inside another program: one instance on SQLite,
// with the defaults of "gatehouse serve" (cmd/gatehouse wires every option of the server; this
// is the part an application that embeds gatehouse needs).
type embedded struct {
	db       *sqlite.DB
	accounts *account.Service
	server   *ghttp.Server
	pages    *web.Pages
	expirers []gatehouse.Expirer
	mirror   *revocation.Mirror
	log      *slog.Logger
}

// embedOptions configure openGatehouse.
type embedOptions struct {
	Data   string        // directory of gatehouse.db and keys.json
	Issuer string        // "iss" of the access tokens
	Hash   argon2.Params // password hashing cost
	Log    *slog.Logger  // request errors and events
	Now    func() time.Time
}

// openGatehouse opens (or creates) the SQLite database and the signing keys in o.Data and
// wires gatehouse's HTTP server on them, with sessions as the default login mode.
func openGatehouse(ctx context.Context, o embedOptions) (*embedded, error) {
	db, err := sqlite.Open(ctx, filepath.Join(o.Data, "gatehouse.db"), 5*time.Second)
	if err != nil {
		return nil, err
	}
	e := &embedded{db: db, log: o.Log}
	if err := e.wire(ctx, o); err != nil {
		db.Close()
		return nil, err
	}
	return e, nil
}

func (e *embedded) wire(ctx context.Context, o embedOptions) error {
	users := sqlite.NewUserStore(e.db)
	hasher := argon2.New(argon2.Options{Params: o.Hash, MaxConcurrent: runtime.NumCPU(), MaxWait: 2 * time.Second})
	e.accounts = account.New(users, hasher, account.Policy{MinPasswordLength: 15, Blocklist: blocklist.Common()}, o.Now)
	keys, err := token.LoadKeySet(filepath.Join(o.Data, "keys.json"), token.KeyOptions{Alg: token.AlgEdDSA, Now: o.Now})
	if err != nil {
		return err
	}
	tokens, err := token.NewService(keys, token.Config{Issuer: o.Issuer, Audience: "gatehouse",
		AccessTTL: 15 * time.Minute, Leeway: 30 * time.Second, Now: o.Now})
	if err != nil {
		return err
	}
	if e.mirror, err = revocation.NewMirror(ctx, sqlite.NewRevocationStore(e.db), o.Now); err != nil {
		return err
	}
	sessions := sqlite.NewSessionStore(e.db)
	refreshes := sqlite.NewRefreshStore(e.db)
	audit := sqlite.NewAuditStore(e.db, gatehouse.DefaultAuditRetention)
	e.expirers = []gatehouse.Expirer{sessions, refreshes, e.mirror, audit}
	metrics := ghttp.NewMetrics(nil)
	uses := authn.New(authn.Deps{
		Accounts: e.accounts, Users: users, Tokens: tokens, Audit: audit,
		Sessions: session.NewManager(sessions, e.mirror, session.Options{
			IdleTimeout: 30 * time.Minute, AbsoluteTimeout: 12 * time.Hour, Now: o.Now, Cache: true}),
		Refresh: refresh.NewRefresher(refreshes, 30*24*time.Hour, o.Now), Revocations: revocation.NewFeed(e.mirror),
		Throttle: memory.NewThrottle(memory.ThrottleOptions{Now: o.Now}),
	}, authn.Config{Logger: o.Log, Now: o.Now, Hooks: authn.Hooks{Login: metrics.Login}})
	e.server = ghttp.New(ghttp.Deps{Authn: uses, Ready: []func(context.Context) error{e.db.Ping}, Metrics: metrics},
		ghttp.Config{DefaultMode: gatehouse.AuthSession, Logger: o.Log, Now: o.Now})
	e.pages = web.Mount(e.server, uses, web.Config{Logger: o.Log})
	return nil
}

// sweep deletes expired sessions, refresh tokens, revocations and audit events.
func (e *embedded) sweep(ctx context.Context, now time.Time) {
	for _, x := range e.expirers {
		if _, err := x.DeleteExpired(ctx, now); err != nil && !errors.Is(err, context.Canceled) {
			e.log.Warn("deleting expired records", "err", err)
		}
	}
	e.mirror.Sweep(now)
}

// Close closes the database.
func (e *embedded) Close() error { return e.db.Close() }
