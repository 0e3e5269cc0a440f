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
	"github.com/gatehouse-auth/gatehouse/access"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/blocklist"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/oidc"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/revocation"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
	"github.com/gatehouse-auth/gatehouse/web"
)

// app is a wired gatehouse server: its stores, services and HTTP handler.
type app struct {
	cfg      *config
	log      *slog.Logger
	db       *sqlite.DB // nil unless a store lives in SQLite
	shared   shared     // Redis and PostgreSQL clients, when configured (stores.go)
	users    gatehouse.UserStore
	hasher   *argon2.Hasher
	accounts *account.Service
	keys     *token.KeySet
	mirror   *revocation.Mirror // nil when revocations are shared through Redis
	sessions *session.Manager
	expirers []gatehouse.Expirer
	// challenges is the store of steps that span requests, made once (challengeStore).
	challenges gatehouse.ChallengeStore
	// refreshes is the refresh-token store, gatehouse's and the OpenID Provider's clients'.
	refreshes gatehouse.RefreshStore
	server    *ghttp.Server
	mailer    gatehouse.Mailer // mail to users: an SMTP relay or the development outbox (mail.go)
	now       func() time.Time
	drain     drainState // /readyz turns 503 when a graceful stop begins (drain.go)
	// accessRules are the forward-auth rules in force; SIGHUP swaps them (proxyauth.go).
	accessRules *access.Holder
}

// openStores opens the user store and the account service; "user add" needs no more than this.
func openStores(ctx context.Context, cfg *config, log *slog.Logger) (*app, error) {
	if err := cfg.ensureDataDir(); err != nil {
		return nil, err
	}
	a := &app{cfg: cfg, log: log, now: time.Now}
	var err error
	if a.users, err = a.userStore(ctx); err != nil {
		a.Close()
		return nil, err
	}
	a.hasher = argon2.New(argon2.Options{
		Params: argon2.Params{Memory: cfg.Argon2Memory, Time: cfg.Argon2Time, Threads: cfg.Argon2Parallelism,
			SaltLen: argon2.DefaultParams.SaltLen, KeyLen: argon2.DefaultParams.KeyLen},
		MaxConcurrent: cfg.HashConcurrency, MaxWait: cfg.HashWait,
	})
	a.accounts = account.New(a.users, a.hasher, account.Policy{MinPasswordLength: cfg.MinPasswordLen,
		Blocklist: blocklist.Common(), ContextWords: cfg.PasswordContextWords}, a.now)
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
	if err := a.checkIssuer(ctx); err != nil {
		return err
	}
	var err error
	if a.mailer, err = cfg.newMailer(a.log, true); err != nil {
		return err
	}
	if a.keys, err = a.loadKeys(ctx); err != nil {
		return err
	}
	tokens, err := token.NewService(a.keys, token.Config{
		Issuer: cfg.issuer(), Audience: cfg.Audience, AccessTTL: cfg.AccessTTL, Leeway: cfg.ClockSkew, Now: a.now,
	})
	if err != nil {
		return fmt.Errorf("tokens: %w", err)
	}
	if cfg.SessionStore == "redis" {
		if err := a.openRedis(ctx); err != nil {
			return err
		}
	}
	store, err := a.sessionStore(ctx)
	if err != nil {
		return err
	}
	revs, err := a.revocations(ctx)
	if err != nil {
		return fmt.Errorf("revocations: %w", err)
	}
	// The in-process session cache is exact only for the one writer of a SQLite store; Redis
	// sessions are cached client-side by rueidis instead, with invalidations from Redis.
	a.sessions = session.NewManager(store, revs, session.Options{
		IdleTimeout: cfg.SessionIdle, AbsoluteTimeout: cfg.SessionAbsolute, Now: a.now,
		Cache: cfg.SessionStore == "sqlite", CacheBytes: int64(cfg.SessionCacheMiB) << 20,
		TouchDelay: cfg.SessionTouchDelay,
		OnTouchWriteError: func(err error) {
			a.log.Warn("writing last-seen times of sessions (kept, tried again)", "err", err)
		},
	})
	a.refreshes = a.refreshStore()
	refresher := refresh.NewRefresher(a.refreshes, cfg.RefreshTTL, a.now)
	if err := refresher.SetReuseGrace(cfg.RefreshGrace); err != nil {
		return err
	}
	factors, err := a.mfaService()
	if err != nil {
		return fmt.Errorf("second factors: %w", err)
	}
	metrics := ghttp.NewMetrics(nil)
	serverCfg := ghttp.Config{
		CookieName: cfg.CookieName, SecureCookies: cfg.SecureCookies || cfg.TLSCert != "",
		DefaultMode: cfg.DefaultMode, AllowRegistration: cfg.AllowRegister, AllowAccountDeletion: cfg.AllowAccountDeletion, Logger: a.log, Now: a.now,
		TrustedProxies: cfg.trustedProxies, HSTSMaxAge: cfg.hstsMaxAge(),
		CookieDomain:          cfg.proxyAuth.CookieDomain,
		IntrospectionClientID: cfg.IntrospectionClientID, IntrospectionSecret: cfg.IntrospectionSecret,
	}
	cfg.applyOps(&serverCfg)
	uses := authn.New(authn.Deps{
		Accounts: a.accounts, Users: a.users, Sessions: a.sessions, Tokens: tokens,
		Refresh: refresher, Revocations: revocation.NewFeed(revs),
		Throttle: a.throttle(), Audit: a.auditStore(), MFA: factors, UnservedFactors: a.unservedFactors(factors),
		Mailer: a.mailer, Links: a.emailLinks(),
		Grants: a.grantStore(), Clients: a.clientStore(),
	}, authn.Config{Logger: a.log, Now: a.now, Hooks: authn.Hooks{Login: metrics.Login},
		RequireVerifiedEmail: cfg.mail.RequireVerified, RequireMFARoles: cfg.mfa.mfaRoles()})
	a.server = ghttp.New(ghttp.Deps{Authn: uses, Ready: a.readyChecks(), Metrics: metrics}, serverCfg)
	pages := web.Mount(a.server, uses, web.Config{Logger: a.log, Returns: cfg.proxyAuth.returns})
	a.wireProxyAuth(uses, tokens)
	if err := a.mountProvider(uses, pages); err != nil {
		return err
	}
	registerBuildInfo(metrics, readBuildInfo())
	a.registerGauges(metrics, store)
	a.registerRedisGauges(metrics)
	if !cfg.multiInstance() && (cfg.UserStore == "postgres" || cfg.SessionStore == "redis") {
		a.log.Warn("this store mix is correct for one instance only; several instances need --user-store postgres and --session-store redis",
			"user_store", cfg.UserStore, "session_store", cfg.SessionStore)
	}
	return nil
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
	if a.mirror != nil {
		a.mirror.Sweep(now)
	}
	a.maintainKeys()
}

// Close releases the databases and clients.
func (a *app) Close() error {
	if a.sessions != nil {
		// Last-seen times still waiting go to the database before it closes.
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := a.sessions.Close(ctx); err != nil {
			a.log.Warn("writing last-seen times at shutdown", "err", err)
		}
		cancel()
	}
	a.closeShared()
	if a.db != nil {
		return a.db.Close()
	}
	return nil
}

// mountProvider mounts the OpenID Provider for the registered clients. Its ID tokens are signed
// by the key that signs access tokens, so with HS256 (a shared secret, which must not sign
// tokens for other parties) there is none, and the discovery document says so.
func (a *app) mountProvider(uses *authn.Service, pages *web.Pages) error {
	if _, _, _, ok := a.keys.PrivateSigningKey(); !ok {
		a.log.Info("the OpenID Provider is off: ID tokens need an EdDSA or ES256 signing key")
		return nil
	}
	// The clients' refresh tokens rotate strictly: no reuse grace.
	p, err := oidc.Mount(a.server, uses, oidc.Config{Clients: a.clientStore(), Users: a.users, Keys: a.keys,
		Flows: a.challengeStore(), Refresh: refresh.NewRefresher(a.refreshes, a.cfg.RefreshTTL, a.now),
		Grants: a.grantStore(), Consent: pages.RenderConsent, IDTokenAlg: a.cfg.IDTokenAlg, Logger: a.log, Now: a.now})
	if err != nil {
		return err
	}
	// The sign-in form of an application's sign-in may lead straight to the application.
	pages.SetNextOrigin(p.NextOrigin)
	return nil
}
