package main

import (
	"fmt"
	"net/http"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/memory"
	"github.com/gatehouse-auth/gatehouse/redis"
)

// Abuse limits: the brute-force throttle, who the client is behind a proxy, and slow clients.

// limitFlags are the flags of throttling and client addresses, a block of their own.
func (c *config) limitFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.TrustedProxies, "trusted-proxies", "", "comma-separated CIDR prefixes of reverse proxies whose X-Forwarded-For is believed (rightmost untrusted address is the client); default none: the TCP peer is the client")
	fs.BoolVar(&c.LoginThrottle, "login-throttle", true, "throttle password checks (logins, current password of a change) per account, per account and address, and per address, failed credentials per address, and self-registrations per address and username (429 with Retry-After)")
	fs.IntVar(&c.ThrottleKeys, "throttle-max-keys", memory.DefaultThrottleKeys, "most accounts and addresses the in-process throttle remembers (bounds its memory; the Redis throttle of --session-store redis expires its keys instead)")
	fs.DurationVar(&c.ReadHeaderTime, "read-header-timeout", ghttp.ReadHeaderTimeout, "a client must send its request headers within this time, or the connection is closed (slowloris)")
	fs.DurationVar(&c.AuditRetention, "audit-retention", gatehouse.DefaultAuditRetention, "how long audit events are kept in the database (GET /api/admin/audit)")
	fs.DurationVar(&c.HSTSMaxAge, "hsts-max-age", ghttp.DefaultHSTSMaxAge, "max-age of the Strict-Transport-Security header sent over TLS (--tls-cert, or a trusted proxy's X-Forwarded-Proto: https); 0 sends none")
}

// hstsMaxAge is --hsts-max-age as ghttp.Config.HSTSMaxAge, where zero means the default and a
// negative value turns the header off.
func (c *config) hstsMaxAge() time.Duration {
	if c.HSTSMaxAge <= 0 {
		return -1
	}
	return c.HSTSMaxAge
}

func (c *config) validateLimits() error {
	p, err := ghttp.ParseTrustedProxies(c.TrustedProxies)
	if err != nil {
		return fmt.Errorf("--trusted-proxies %q: %w", c.TrustedProxies, err)
	}
	c.trustedProxies = p
	if c.ThrottleKeys < 1 {
		return fmt.Errorf("--throttle-max-keys must be at least 1")
	}
	if c.ReadHeaderTime <= 0 {
		return fmt.Errorf("--read-header-timeout must be positive")
	}
	if c.AuditRetention <= 0 {
		return fmt.Errorf("--audit-retention must be positive")
	}
	if c.HSTSMaxAge < 0 {
		return fmt.Errorf("--hsts-max-age must not be negative (0 sends no header)")
	}
	return nil
}

// throttle returns the configured throttle, or nil when throttling is off: with Redis sessions
// the counters live in Redis, under the same prefix, exact across every instance that shares
// it; otherwise in this process.
func (a *app) throttle() gatehouse.Throttle {
	switch {
	case !a.cfg.LoginThrottle:
		return nil
	case a.shared.rdb != nil:
		return redis.NewThrottle(a.shared.rdb, a.cfg.RedisPrefix, a.redisOptions())
	}
	return memory.NewThrottle(memory.ThrottleOptions{Now: a.now, MaxKeys: a.cfg.ThrottleKeys})
}

// applyServerLimits sets the configured connection limits on srv.
func (c *config) applyServerLimits(srv *http.Server) {
	if c.ReadHeaderTime > 0 {
		srv.ReadHeaderTimeout = c.ReadHeaderTime
	}
}
