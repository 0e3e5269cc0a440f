package main

import (
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/refresh"
)

// config is everything the server and the administration commands can be told.
type config struct {
	Addr         string
	Data         string
	SessionStore string
	UserStore    string
	RedisURL     string
	PostgresURL  string
	DefaultMode  string
	SigningAlg   string
	IDTokenAlg   string
	KeepRS256    bool
	HMACSecret   string
	TLSCert      string
	TLSKey       string

	Issuer, Audience string
	AccessTTL        time.Duration
	RefreshTTL       time.Duration
	RefreshGrace     time.Duration
	ClockSkew        time.Duration
	SessionIdle      time.Duration
	SessionAbsolute  time.Duration
	// SessionCacheMiB is the heap, in MiB, that the in-process cache of SQLite sessions may hold.
	SessionCacheMiB int
	// SessionTouchDelay is how long a cached SQLite session's last-seen time may wait to be
	// written with others; 0 writes it on the request.
	SessionTouchDelay time.Duration
	CookieName        string
	SecureCookies     bool
	AllowRegister     bool
	// AllowAccountDeletion is --allow-account-deletion: DELETE /api/me.
	AllowAccountDeletion bool
	// ServersStopped is the user commands' --servers-stopped (useradmin.go).
	ServersStopped bool
	MinPasswordLen int
	// PasswordContextWords do not count toward a new password's length (account.Policy).
	PasswordContextWords []string

	Argon2Memory      uint32
	Argon2Time        uint32
	Argon2Parallelism uint8
	HashConcurrency   int
	HashWait          time.Duration
	BusyTimeout       time.Duration

	LogLevel  string
	LogFormat string

	// Resource servers: the credential of introspection and the revocation stream.
	IntrospectionClientID string
	IntrospectionSecret   string

	keyStore keyStoreConfig // where the signing keys live (keystore.go)
	drain    drainConfig    // graceful stop (drain.go)
	ops      opsConfig      // admin listener, access log (ops.go)
	mail     mailConfig     // mail to users (mail.go)
	mfa      mfaConfig      // second factors (mfa.go)

	proxyAuth proxyAuthConfig // forward-auth, cookie domain, return addresses (proxyauth.go)

	// Signing keys (keys.go).
	KeysFile            string
	KeyRotationInterval time.Duration
	KeyPublishAhead     time.Duration

	// Abuse limits (limits.go).
	TrustedProxies string
	trustedProxies []netip.Prefix // TrustedProxies, parsed by validateLimits
	LoginThrottle  bool
	ThrottleKeys   int
	AuditRetention time.Duration
	ReadHeaderTime time.Duration
	HSTSMaxAge     time.Duration

	// Shared stores (stores.go).
	RedisPrefix     string
	RedisTimeout    time.Duration
	RedisCacheTTL   time.Duration
	RedisLease      time.Duration
	PostgresTimeout time.Duration
	// RedisSessionFormat is the format of the session values written (redis.SessionOptions).
	RedisSessionFormat int
	// RedisClientCache turns rueidis server-assisted client-side caching on (the default).
	RedisClientCache bool
}

// storeFlags are the flags every command that opens the stores needs.
func (c *config) storeFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.Data, "data", "./gatehouse-data", "directory of the SQLite database and the signing keys")
	fs.StringVar(&c.UserStore, "user-store", "sqlite", "where users, refresh tokens and revocations live: sqlite or postgres")
	fs.StringVar(&c.PostgresURL, "postgres-url", "", "PostgreSQL connection URL (for --user-store postgres)")
	fs.DurationVar(&c.BusyTimeout, "sqlite-busy-timeout", 5*time.Second, "how long a SQLite statement waits for a lock before the request fails with 503")
	fs.Uint32Var(&c.Argon2Memory, "argon2-memory", argon2.DefaultParams.Memory, "argon2id memory per hash in KiB (OWASP: 19456)")
	fs.Uint32Var(&c.Argon2Time, "argon2-time", argon2.DefaultParams.Time, "argon2id passes (OWASP: 2)")
	fs.Uint8Var(&c.Argon2Parallelism, "argon2-parallelism", argon2.DefaultParams.Threads, "argon2id lanes (OWASP: 1)")
	fs.IntVar(&c.HashConcurrency, "hash-concurrency", runtime.NumCPU(), "password hashes computed at once; memory is capped at this times --argon2-memory")
	fs.SetAnnotation("hash-concurrency", docsDefault, []string{"the number of CPUs"})
	fs.DurationVar(&c.HashWait, "hash-wait", 2*time.Second, "how long a login waits for a hashing slot before 503")
	fs.IntVar(&c.MinPasswordLen, "min-password-length", 15, "shortest password accepted, in characters (never below 8)")
	fs.StringSliceVar(&c.PasswordContextWords, "password-context-words", account.DefaultContextWords,
		"words that do not count toward a new password's length, as the username does not (the service's and the organisation's names; comma-separated, \"\" for none)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	c.postgresFlags(fs)
}

// serveFlags are the flags of "gatehouse serve".
func (c *config) serveFlags(fs *pflag.FlagSet) {
	c.storeFlags(fs)
	c.keyFlags(fs)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.SessionStore, "session-store", "sqlite", "where sessions live: sqlite, memory (lost on restart, one instance only) or redis")
	fs.StringVar(&c.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL (for --session-store redis): redis:// or rediss://, ?addr=host:port for more Cluster nodes to start from, ?master_set=name for Sentinel")
	c.redisFlags(fs)
	fs.StringVar(&c.DefaultMode, "default-mode", "token", "login mode when the request names none: token or session")
	fs.StringVar(&c.TLSCert, "tls-cert", "", "TLS certificate file (PEM); with --tls-key, serve HTTPS")
	fs.StringVar(&c.TLSKey, "tls-key", "", "TLS private key file (PEM)")
	fs.StringVar(&c.Issuer, "issuer", "", `"iss" of the tokens (default: http(s)://<addr>)`)
	fs.StringVar(&c.Audience, "audience", "gatehouse", `"aud" of the tokens`)
	fs.DurationVar(&c.AccessTTL, "access-ttl", 15*time.Minute, "access-token lifetime")
	fs.DurationVar(&c.RefreshTTL, "refresh-ttl", 30*24*time.Hour, "absolute lifetime of a refresh-token family")
	fs.DurationVar(&c.RefreshGrace, "refresh-reuse-grace", 0, "a rotated refresh token presented again within this long gets the same new pair instead of revoking its family (multi-tab clients); at most 1m, 0 turns it off")
	fs.DurationVar(&c.ClockSkew, "clock-skew", 30*time.Second, "clock skew allowed when checking token times")
	fs.DurationVar(&c.SessionIdle, "session-idle-timeout", 30*time.Minute, "a session unused this long expires")
	fs.DurationVar(&c.SessionAbsolute, "session-absolute-timeout", 12*time.Hour, "a session expires this long after login, used or not")
	fs.IntVar(&c.SessionCacheMiB, "session-cache-memory", 512, "MiB of heap for the in-process cache of SQLite sessions (about 600 B a session: 512 MiB holds about 850,000); a session not in it costs a query")
	fs.DurationVar(&c.SessionTouchDelay, "session-touch-delay", time.Second, "SQLite sessions: how long a session's new last-seen time (written at most once a minute, to renew its idle timeout) may wait to be written in one transaction with others, off the request; at most 1m, 0 writes it during the request")
	fs.StringVar(&c.CookieName, "cookie-name", "gatehouse_session", `session cookie name (gets the "__Host-" prefix when cookies are Secure)`)
	fs.BoolVar(&c.SecureCookies, "secure-cookies", false, "mark cookies Secure (always on with --tls-cert); set it behind a TLS-terminating proxy")
	fs.BoolVar(&c.AllowRegister, "allow-registration", false, "let anyone create an account with POST /api/register and the /register page")
	fs.BoolVar(&c.AllowAccountDeletion, "allow-account-deletion", false, "let users delete their own account with DELETE /api/me (password and username again); off, an admin deletes accounts")
	c.keyScheduleFlags(fs)
	c.introspectionFlags(fs)
	c.limitFlags(fs)
	c.drainFlags(fs)
	c.opsFlags(fs)
	c.proxyAuthFlags(fs)
	c.mailFlags(fs)
	c.mfaFlags(fs)
}

// minIntrospectionSecret is the shortest accepted --introspection-secret, in bytes.
const minIntrospectionSecret = 32

// introspectionFlags are the flags of the resource servers' credential.
func (c *config) introspectionFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.IntrospectionClientID, "introspection-client-id", ghttp.DefaultIntrospectionClientID,
		"client id of resource servers (HTTP Basic) at POST /oauth2/introspect and GET /api/revocations/stream")
	fs.StringVar(&c.IntrospectionSecret, "introspection-secret", "",
		"client secret of resource servers, at least 32 bytes (default: none; then only an admin's bearer token is accepted there)")
}

func (c *config) validateIntrospection() error {
	if c.IntrospectionSecret != "" && len(c.IntrospectionSecret) < minIntrospectionSecret {
		return fmt.Errorf("--introspection-secret must be at least %d bytes", minIntrospectionSecret)
	}
	if c.IntrospectionClientID == "" {
		return fmt.Errorf("--introspection-client-id must not be empty")
	}
	return nil
}

func (c *config) validateServe() error {
	switch {
	case c.DefaultMode != "token" && c.DefaultMode != "session":
		return fmt.Errorf("--default-mode %q: must be token or session", c.DefaultMode)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return fmt.Errorf("--tls-cert and --tls-key go together")
	case c.AccessTTL <= 0 || c.RefreshTTL <= 0 || c.SessionIdle <= 0 || c.SessionAbsolute <= 0 || c.ClockSkew < 0:
		return fmt.Errorf("lifetimes and timeouts must be positive")
	case c.SessionCacheMiB < 1:
		return fmt.Errorf("--session-cache-memory %d: must be at least 1 (MiB)", c.SessionCacheMiB)
	case c.SessionTouchDelay < 0 || c.SessionTouchDelay > time.Minute:
		return fmt.Errorf("--session-touch-delay %v: must be between 0 and 1m (a crash loses the last-seen times that wait)", c.SessionTouchDelay)
	case c.RefreshGrace < 0 || c.RefreshGrace > refresh.MaxReuseGrace:
		return fmt.Errorf("--refresh-reuse-grace %v: must be between 0 and %v (a longer window lets a stolen refresh token pass reuse detection for longer)", c.RefreshGrace, refresh.MaxReuseGrace)
	}
	for _, validate := range []func() error{c.validateExposure, c.validateIntrospection, c.validateKeys, c.validateKeySchedule, c.validateLimits, c.validateOps, c.validateMail, c.validateProxyAuth, c.validateMFA} {
		if err := validate(); err != nil {
			return err
		}
	}
	if err := c.validateStores(true); err != nil {
		return err
	}
	if err := c.validateKeyStore(); err != nil {
		return err
	}
	if err := c.validateDrain(); err != nil {
		return err
	}
	return c.validateStore()
}

func (c *config) validateStore() error {
	if err := c.validateStores(false); err != nil {
		return err
	}
	if c.HashConcurrency < 1 {
		return fmt.Errorf("--hash-concurrency must be at least 1")
	}
	return nil
}

func (c *config) dbPath() string { return filepath.Join(c.Data, "gatehouse.db") }
func (c *config) keysPath() string {
	if c.KeysFile != "" {
		return c.KeysFile
	}
	return filepath.Join(c.Data, "keys.json")
}

// ensureDataDir creates the data directory, readable by its owner only.
func (c *config) ensureDataDir() error {
	if err := os.MkdirAll(c.Data, 0o700); err != nil {
		return fmt.Errorf("data directory: %w", err)
	}
	return nil
}

func (c *config) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.LogLevel)); err != nil {
		return nil, fmt.Errorf("--log-level: %w", err)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch c.LogFormat {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: must be text or json", c.LogFormat)
}

// issuer returns the "iss" of the tokens: --issuer, or the server's own URL.
func (c *config) issuer() string {
	if c.Issuer != "" {
		return c.Issuer
	}
	scheme := "http"
	if c.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + c.Addr
}

// loopbackAddr reports whether addr (host:port) listens on this machine only: a loopback IP or
// "localhost". An empty host listens on every interface.
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip, err := netip.ParseAddr(host)
	return err == nil && ip.IsLoopback()
}

// validateExposure refuses a non-loopback --addr without --issuer: the default issuer is
// http(s)://<addr>, which for 0.0.0.0 or a bare :port is an address no client can use, yet
// every token, the discovery document and the JWKS URL would carry it, and the user store would
// record it (issuer.go).
func (c *config) validateExposure() error {
	if c.Issuer != "" || loopbackAddr(c.Addr) {
		return nil
	}
	return fmt.Errorf("--addr %s listens beyond this machine, but --issuer is not set: the tokens would name %q as their issuer. "+
		"Set --issuer to the URL clients reach gatehouse at, such as --issuer https://auth.example.com", c.Addr, c.issuer())
}

// cookieWarning says why session cookies are at risk with this configuration, or "" when they
// are not: served over plain HTTP beyond this machine without the Secure attribute, a cookie
// can be read on the network and sent back over plain HTTP.
func (c *config) cookieWarning() string {
	if c.SecureCookies || c.TLSCert != "" || loopbackAddr(c.Addr) {
		return ""
	}
	return "session cookies are sent without the Secure attribute over plain HTTP on a non-loopback address: " +
		"serve HTTPS (--tls-cert, --tls-key), or set --secure-cookies behind a TLS-terminating proxy"
}
