package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/blocklist"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
)

// app is a wired gatehouse server: its stores, services and HTTP handler.
type app struct {
	cfg      *config
	log      *slog.Logger
	db       *sqlite.DB
	hasher   *argon2.Hasher
	accounts *account.Service
	keys     *token.KeySet
	mirror   *revocation.Mirror
	sessions *session.Manager
	expirers []gatehouse.Expirer
	server   *ghttp.Server
	now      func() time.Time
}

// openStores opens the database and the account service; "user add" needs no more than this.
func openStores(ctx context.Context, cfg *config, log *slog.Logger) (*app, error) {
	if err := cfg.ensureDataDir(); err != nil {
		return nil, err
	}
	db, err := sqlite.Open(ctx, cfg.dbPath(), cfg.BusyTimeout)
	if err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, db: db, now: time.Now}
	a.hasher = argon2.New(argon2.Options{
		Params: argon2.Params{Memory: cfg.Argon2Memory, Time: cfg.Argon2Time, Threads: cfg.Argon2Parallelism,
			SaltLen: argon2.DefaultParams.SaltLen, KeyLen: argon2.DefaultParams.KeyLen},
		MaxConcurrent: cfg.HashConcurrency, MaxWait: cfg.HashWait,
	})
	a.accounts = account.New(sqlite.NewUserStore(db), a.hasher, account.Policy{MinPasswordLength: cfg.MinPasswordLen,
		Blocklist: blocklist.Common()}, a.now)
	return a, nil
}

// buildApp wires the whole server on the configured stores.
func buildApp(ctx context.Context, cfg *config, log *slog.Logger) (*app, error) {
	a, err := openStores(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	if err := a.wire(ctx); err != nil {
		a.Close()
		return nil, err
	}
	return a, nil
}

func (a *app) wire(ctx context.Context) error {
	cfg := a.cfg
	if err := a.checkKeysPresent(ctx); err != nil {
		return err
	}
	var err error
	if a.keys, err = token.LoadKeySet(cfg.keysPath(), token.KeyOptions{Alg: cfg.SigningAlg, HMACSecret: []byte(cfg.HMACSecret), Now: a.now}); err != nil {
		return fmt.Errorf("signing keys: %w", err)
	}
	tokens, err := token.NewService(a.keys, token.Config{
		Issuer: cfg.issuer(), Audience: cfg.Audience, AccessTTL: cfg.AccessTTL, Leeway: cfg.ClockSkew, Now: a.now,
	})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	revStore := sqlite.NewRevocationStore(a.db)
	if a.mirror, err = revocation.NewMirror(ctx, revStore, a.now); err != nil {
		return fmt.Errorf("revocations: %w", err)
	}
	store := a.sessionStore()
	a.sessions = session.NewManager(store, a.mirror, session.Options{
		IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionAbsolute, Now: a.now,
		Cache: cfg.SessionStore == "sqlite",
	})
	refreshStore := sqlite.NewRefreshStore(a.db)
	a.expirers = append(a.expirers, refreshStore, revStore)
	metrics := ghttp.NewMetrics(nil)
	var throttle gatehouse.Throttle
	if th := a.throttle(); th != nil {
		throttle = th
	}
	serverCfg := ghttp.Config{
		CookieName: cfg.CookieName, SecureCookies: cfg.SecureCookies || cfg.TLSCert != "",
		DefaultMode: cfg.DefaultMode, AllowRegistration: cfg.AllowRegister, Logger: a.log, Now: a.now,
		TrustedProxies: cfg.hardening.proxies,
	}
	cfg.interopServerConfig(&serverCfg)
	a.server = ghttp.New(ghttp.Deps{
		Accounts: a.accounts, Users: sqlite.NewUserStore(a.db), Sessions: a.sessions, Tokens: tokens, Keys: a.keys,
		Refresh: token.NewRefresher(refreshStore, cfg.RefreshTTL, a.now), Revocations: revocation.NewFeed(a.mirror),
		Ready: []func(context.Context) error{a.db.Ping}, Metrics: metrics, Throttle: throttle, Audit: a.auditStore(),
	}, serverCfg)
	a.registerGauges(metrics, store)
	return nil
}

// sessionStore returns the configured session store; the SQLite one is also swept for
// expired sessions.
func (a *app) sessionStore() gatehouse.SessionStore {
	if a.cfg.SessionStore == "memory" {
		s := memory.NewSessionStore()
		a.expirers = append(a.expirers, s)
		return s
	}
	s := sqlite.NewSessionStore(a.db)
	a.expirers = append(a.expirers, s)
	return s
}

func (a *app) registerGauges(m *ghttp.Metrics, store gatehouse.SessionStore) {
	if c, ok := store.(gatehouse.SessionCounter); ok {
		m.GaugeFunc("gatehouse_sessions_active", "Sessions in the session store (not yet swept after expiry included).", func() float64 {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			defer cancel()
			n, err := c.CountSessions(ctx)
			if err != nil {
				return -1
			}
			return float64(n)
		})
	}
	m.GaugeFunc("gatehouse_password_hashes_in_flight", "Password hashes being computed.", func() float64 { return float64(a.hasher.InFlight()) })
	m.GaugeFunc("gatehouse_password_hashes_waiting", "Logins waiting for a hashing slot.", func() float64 { return float64(a.hasher.Waiting()) })
}

// bootstrap creates the first admin when there are no users, with GATEHOUSE_ADMIN_PASSWORD or
// a random password printed once on stderr.
func (a *app) bootstrap(ctx context.Context, stderr io.Writer) error {
	created, generated, err := a.accounts.Bootstrap(ctx, os.Getenv("GATEHOUSE_ADMIN_PASSWORD"))
	if err != nil {
		return fmt.Errorf("first admin: %w", err)
	}
	if created {
		a.auditBootstrap(ctx)
	}
	if created && generated != "" {
		fmt.Fprintf(stderr, "\ngatehouse: created user \"admin\" with password:\n\n    %s\n\nIt is shown only this once; change it after signing in.\n\n", generated)
	} else if created {
		a.log.Info("created user admin with the password from GATEHOUSE_ADMIN_PASSWORD")
	}
	return nil
}

// maintain runs the periodic chores until ctx ends: expired records are deleted, the
// revocation mirror sheds expired entries, and a key rotation done by another process is
// picked up.
func (a *app) maintain(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			a.sweep(ctx)
		}
	}
}

func (a *app) sweep(ctx context.Context) {
	now := a.now()
	for _, e := range a.expirers {
		if _, err := e.DeleteExpired(ctx, now); err != nil && !errors.Is(err, context.Canceled) {
			a.log.Warn("deleting expired records", "err", err)
		}
	}
	a.mirror.Sweep(now)
	a.maintainKeys()
}

// Close releases the database.
func (a *app) Close() error { return a.db.Close() }
