package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/postgres"
	"github.com/gatehouse-auth/gatehouse/redis"
	"github.com/gatehouse-auth/gatehouse/sqlite"
	"github.com/gatehouse-auth/gatehouse/token"
)

// hardeningConfig is the configuration of brute-force and abuse limits.
type hardeningConfig struct {
	TrustedProxies string
	LoginThrottle  bool
	ThrottleKeys   int
	AuditRetention time.Duration
	ReadHeaderTime time.Duration
	HSTSMaxAge     time.Duration

	proxies []netip.Prefix // parsed TrustedProxies
}

// hardeningFlags are the flags of throttling and client addresses, a block of their own.
func (c *config) hardeningFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.hardening.TrustedProxies, "trusted-proxies", "", "comma-separated CIDR prefixes of reverse proxies whose X-Forwarded-For is believed (rightmost untrusted address is the client); default none: the TCP peer is the client")
	fs.BoolVar(&c.hardening.LoginThrottle, "login-throttle", true, "throttle password checks (logins, current password of a change) per account, per account and address, and per address, failed credentials per address, and self-registrations per address and username (429 with Retry-After)")
	fs.IntVar(&c.hardening.ThrottleKeys, "throttle-max-keys", memory.DefaultThrottleKeys, "most accounts and addresses the in-process throttle remembers (bounds its memory; the Redis throttle of --session-store redis expires its keys instead)")
	fs.DurationVar(&c.hardening.ReadHeaderTime, "read-header-timeout", ghttp.ReadHeaderTimeout, "a client must send its request headers within this time, or the connection is closed (slowloris)")
	fs.DurationVar(&c.hardening.AuditRetention, "audit-retention", gatehouse.DefaultAuditRetention, "how long audit events are kept in the database (GET /api/admin/audit)")
	fs.DurationVar(&c.hardening.HSTSMaxAge, "hsts-max-age", ghttp.DefaultHSTSMaxAge, "max-age of the Strict-Transport-Security header sent over TLS (--tls-cert, or a trusted proxy's X-Forwarded-Proto: https); 0 sends none")
}

// hstsMaxAge is --hsts-max-age as ghttp.Config.HSTSMaxAge, where zero means the default and a
// negative value turns the header off.
func (c *config) hstsMaxAge() time.Duration {
	if c.hardening.HSTSMaxAge <= 0 {
		return -1
	}
	return c.hardening.HSTSMaxAge
}

func (c *config) validateHardening() error {
	p, err := ghttp.ParseTrustedProxies(c.hardening.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies %q: %w", c.hardening.TrustedProxies, err)
	}
	c.hardening.proxies = p
	if c.hardening.ThrottleKeys < 1 {
		return fmt.Errorf("--throttle-max-keys must be at least 1")
	}
	if c.hardening.ReadHeaderTime <= 0 {
		return fmt.Errorf("--read-header-timeout must be positive")
	}
	if c.hardening.AuditRetention <= 0 {
		return fmt.Errorf("--audit-retention must be positive")
	}
	if c.hardening.HSTSMaxAge < 0 {
		return fmt.Errorf("--hsts-max-age must not be negative (0 sends no header)")
	}
	return nil
}

// throttle returns the configured throttle, or nil when throttling is off: with Redis sessions
// the counters live in Redis, under the same prefix, exact across every instance that shares
// it; otherwise in this process.
func (a *app) throttle() gatehouse.Throttle {
	switch {
	case !a.cfg.hardening.LoginThrottle:
		return nil
	case a.shared.rdb != nil:
		return redis.NewThrottle(a.shared.rdb, a.cfg.RedisPrefix, a.redisOptions())
	}
	return memory.NewThrottle(memory.ThrottleOptions{Now: a.now, MaxKeys: a.cfg.hardening.ThrottleKeys})
}

// auditStore returns the audit trail's store, swept by the maintenance loop. The trail lives
// with the users: in PostgreSQL with --user-store postgres (shared by every instance), else in
// the SQLite database.
func (a *app) auditStore() gatehouse.AuditStore {
	if a.shared.pg != nil {
		st := postgres.NewAuditStore(a.shared.pg, a.cfg.hardening.AuditRetention)
		a.expirers = append(a.expirers, st)
		return st
	}
	if a.db == nil {
		return nil
	}
	st := sqlite.NewAuditStore(a.db, a.cfg.hardening.AuditRetention)
	a.expirers = append(a.expirers, st)
	return st
}

// auditSink is where events recorded outside a request go (the first admin, "gatehouse user
// add"): the audit table of the user store.
func (a *app) auditSink() gatehouse.AuditStore {
	switch {
	case a.shared.pg != nil:
		return postgres.NewAuditStore(a.shared.pg, 0)
	case a.db != nil:
		return sqlite.NewAuditStore(a.db, 0)
	}
	return nil
}

// auditBootstrap records the creation of the first admin, which happens outside any request.
func (a *app) auditBootstrap(ctx context.Context) {
	u, err := a.users.UserByUsername(ctx, account.BootstrapUsername)
	if err != nil {
		a.log.Warn("audit: looking up the first admin failed", "err", err)
		return
	}
	recordAudit(ctx, a.log, a.auditSink(), gatehouse.AuditEvent{Action: gatehouse.AuditUserCreated,
		Outcome: gatehouse.AuditSuccess, UserID: u.ID, Detail: "first admin, created at first start"})
}

// loadKeys loads the signing keys from where they live (keystore.go). When the user store
// already holds accounts, keys must be stored there: creating new keys then would silently
// invalidate every token issued so far (and hide a lost, emptied or unmounted key file, a
// wrong --data or the wrong database), so the server refuses to start instead. Keys that
// cannot be read (a wrong key-encryption key) stop it too. A configured HS256 secret is not a
// throwaway key, so it is let through.
func (a *app) loadKeys(ctx context.Context) (*token.KeySet, error) {
	storage, err := a.keyStorage(ctx)
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	opts := a.cfg.keyOptions(a.now)
	n := 0
	if a.cfg.SigningAlg != "HS256" || a.cfg.HMACSecret == "" {
		if n, err = a.users.CountUsers(ctx); err != nil {
			return nil, fmt.Errorf("signing keys: %w", err)
		}
		opts.RequireKeys = n > 0 // else a first start: the keys are created with the database
	}
	ks, err := token.OpenKeySet(storage, opts)
	if errors.Is(err, token.ErrNoKeys) {
		return nil, a.noKeys(storage, n)
	}
	if err != nil {
		return nil, fmt.Errorf("signing keys: %w", err)
	}
	return ks, nil
}

// noKeys is the error of a start that finds no keys over n accounts.
func (a *app) noKeys(storage token.KeyStorage, n int) error {
	const refusal = "refusing to create new keys silently (every token issued so far would stop verifying). "
	if a.cfg.keyStore.KeyStore == "postgres" {
		return fmt.Errorf("signing keys: the %s holds none, but the user store already holds %d accounts; "+refusal+
			"Copy the key file in with \"gatehouse migrate --key-store postgres\", or create keys on purpose with \"gatehouse keys rotate --key-store postgres\"", storage, n)
	}
	path := a.cfg.keysPath()
	what := "holds no key"
	if _, serr := os.Stat(path); errors.Is(serr, os.ErrNotExist) {
		what = "is missing"
	}
	return fmt.Errorf("signing keys: %s %s, but the data directory already holds %d accounts; "+refusal+
		"Restore the key file, or create new keys on purpose with \"gatehouse keys rotate --data %s\"", path, what, n, a.cfg.Data)
}

// applyServerLimits sets the configured connection limits on srv.
func (c *config) applyServerLimits(srv *http.Server) {
	if c.hardening.ReadHeaderTime > 0 {
		srv.ReadHeaderTimeout = c.hardening.ReadHeaderTime
	}
}
