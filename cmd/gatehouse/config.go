package main

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"time"

	"github.com/spf13/pflag"

	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/argon2"
	"github.com/gatehouse-auth/gatehouse/token"
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
	CookieName       string
	SecureCookies    bool
	AllowRegister    bool
	MinPasswordLen   int
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

	interopConfig
	hardening hardeningConfig
	keyStore  keyStoreConfig
	drain     drainConfig

	// Scale-out (scaleout.go).
	RedisPrefix     string
	RedisTimeout    time.Duration
	RedisCacheTTL   time.Duration
	RedisLease      time.Duration
	PostgresTimeout time.Duration
	KeysFile        string

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
	fs.DurationVar(&c.HashWait, "hash-wait", 2*time.Second, "how long a login waits for a hashing slot before 503")
	fs.IntVar(&c.MinPasswordLen, "min-password-length", 15, "shortest password accepted, in characters (never below 8)")
	fs.StringSliceVar(&c.PasswordContextWords, "password-context-words", account.DefaultContextWords,
		"words that do not count toward a new password's length, as the username does not (the service's and the organisation's names; comma-separated, \"\" for none)")
	fs.StringVar(&c.LogLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&c.LogFormat, "log-format", "text", "text or json")
	c.scaleOutStoreFlags(fs)
}

// keyFlags are the flags of the signing keys.
func (c *config) keyFlags(fs *pflag.FlagSet) {
	fs.StringVar(&c.SigningAlg, "signing-alg", "EdDSA", "access-token signing algorithm: EdDSA, ES256 or HS256")
	fs.StringVar(&c.HMACSecret, "hmac-secret", "", "HS256 secret, at least 32 bytes (default: a random one kept in the data directory)")
	fs.StringVar(&c.KeysFile, "keys-file", "", "signing key file (default <data>/keys.json); several instances share one file and reload it")
	fs.DurationVar(&c.KeyPublishAhead, "key-publish-ahead", defaultKeyPublishAhead,
		"a new signing key (keys rotate, --key-rotation-interval) is published in the JWKS this long before it signs, so every instance and JWKS cache has it first (0: it signs at once)")
	c.keyStoreFlags(fs)
}

// serveFlags are the flags of "gatehouse serve".
func (c *config) serveFlags(fs *pflag.FlagSet) {
	c.storeFlags(fs)
	c.keyFlags(fs)
	fs.StringVar(&c.Addr, "addr", "127.0.0.1:8080", "address to listen on")
	fs.StringVar(&c.SessionStore, "session-store", "sqlite", "where sessions live: sqlite, memory (lost on restart, one instance only) or redis")
	fs.StringVar(&c.RedisURL, "redis-url", "redis://127.0.0.1:6379/0", "Redis URL (for --session-store redis): redis:// or rediss://, ?addr=host:port for more Cluster seeds, ?master_set=name for Sentinel")
	c.scaleOutServeFlags(fs)
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
	fs.StringVar(&c.CookieName, "cookie-name", "gatehouse_session", `session cookie name (gets the "__Host-" prefix when cookies are Secure)`)
	fs.BoolVar(&c.SecureCookies, "secure-cookies", false, "mark cookies Secure (always on with --tls-cert); set it behind a TLS-terminating proxy")
	fs.BoolVar(&c.AllowRegister, "allow-registration", false, "let anyone create an account with POST /api/register")
	c.interopFlags(fs)
	c.hardeningFlags(fs)
	c.drainFlags(fs)
}

func (c *config) validateServe() error {
	switch {
	case c.DefaultMode != "token" && c.DefaultMode != "session":
		return fmt.Errorf("--default-mode %q: must be token or session", c.DefaultMode)
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return fmt.Errorf("--tls-cert and --tls-key go together")
	case c.AccessTTL <= 0 || c.RefreshTTL <= 0 || c.SessionIdle <= 0 || c.SessionAbsolute <= 0 || c.ClockSkew < 0:
		return fmt.Errorf("lifetimes and timeouts must be positive")
	case c.RefreshGrace < 0 || c.RefreshGrace > token.MaxReuseGrace:
		return fmt.Errorf("--refresh-reuse-grace %v: must be between 0 and %v (a longer window lets a stolen refresh token pass reuse detection for longer)", c.RefreshGrace, token.MaxReuseGrace)
	}
	if err := c.validateInterop(); err != nil {
		return err
	}
	if err := c.validateHardening(); err != nil {
		return err
	}
	if err := c.validateScaleOut(true); err != nil {
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
	if err := c.validateScaleOut(false); err != nil {
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
