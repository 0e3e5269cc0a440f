// Package verify lets other Go services accept gatehouse access tokens without a shared secret
// and without calling gatehouse on every request.
//
// A Verifier fetches gatehouse's public keys (the JWK Set, found through the discovery document
// at the issuer's /.well-known/openid-configuration, or named directly) and checks tokens
// locally with the very code the gatehouse server uses (package token): an algorithm
// allow-list, each key bound to its algorithm, the key chosen by kid alone from the fetched set
// (never from jwk, jku, x5u or x5c headers, and no URL named by a token is ever fetched), typ
// at+jwt, iss, aud and exp required, an 8 KiB size cap before decoding, and a clock-skew
// leeway. Verified tokens are cached by their exact string. A token naming a kid that the set
// does not hold makes it fetch the JWK Set again, at most once per MinRefetch, so keys rotated
// at gatehouse are picked up at once; the set is also refreshed every JWKSRefresh.
//
// With Config.Revocations, the Verifier also follows gatehouse's revocation stream (server-sent
// events at /api/revocations/stream) and rejects revoked tokens (by jti, or by the user's "not
// before" time after "log out everywhere", a role change or a password change) as the server
// does. See RevocationConfig for the staleness bound and the fail-closed switch.
//
// Middleware puts the verified token in the request's context (FromContext), and RequireRole
// checks its role. Errors are answered in gatehouse's JSON format, with the same codes.
package verify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Defaults of Config.
const (
	DefaultJWKSRefresh  = 5 * time.Minute
	DefaultMinRefetch   = time.Second
	DefaultHTTPTimeout  = 10 * time.Second
	DefaultMaxStaleness = 30 * time.Second
)

// Config configures a Verifier. Issuer and Audience are required.
type Config struct {
	// Issuer is the exact "iss" of the tokens, gatehouse's --issuer (by default the server's
	// URL, such as "http://127.0.0.1:8080"). Unless JWKSURL is set, the discovery document is
	// fetched from Issuer + "/.well-known/openid-configuration" and must name the same issuer.
	Issuer string
	// JWKSURL, if set, is where the public keys are fetched, and discovery is skipped.
	JWKSURL string
	// Audience is the "aud" the tokens must carry (gatehouse's --audience, default "gatehouse").
	Audience string
	// Algorithms are the accepted algorithms: EdDSA and/or ES256. Default: what the discovery
	// document lists, or EdDSA without discovery. HS256 tokens can only be checked by
	// gatehouse itself (use its introspection endpoint).
	Algorithms []string
	// Leeway is the allowed clock skew for exp, nbf and iat; default token.DefaultLeeway
	// (30 s), negative for none.
	Leeway time.Duration
	// MaxSize is the largest token decoded, in bytes; default token.DefaultMaxSize (8 KiB).
	MaxSize int
	// CacheSize is the number of verified tokens remembered; default token.DefaultCacheSize,
	// negative to disable.
	CacheSize int
	// HTTPClient fetches the discovery document and the keys (default: a client with a
	// DefaultHTTPTimeout timeout). The revocation stream uses its Transport without the
	// timeout.
	HTTPClient *http.Client
	// JWKSRefresh is how often the keys are fetched again; default DefaultJWKSRefresh.
	JWKSRefresh time.Duration
	// MinRefetch is the least time between two key fetches caused by unknown kids; default
	// DefaultMinRefetch.
	MinRefetch time.Duration
	// Revocations, if set, makes the Verifier follow gatehouse's revocations. Without it a
	// token is accepted until it expires (15 minutes by default), revoked or not.
	Revocations *RevocationConfig
	// Logger receives fetch and stream problems (default slog.Default()). Tokens never reach it.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
}

// Errors of Verify, besides those of token.Service.Verify (gatehouse.ErrInvalidToken,
// gatehouse.ErrTokenExpired and gatehouse.ErrTooLarge, wrapped).
var (
	// ErrTokenRevoked: the token was revoked at gatehouse (by jti or by the user's not-before
	// time). Its code is invalid_token, as at the server.
	ErrTokenRevoked = &gatehouse.Error{Code: gatehouse.EINVALIDTOKEN, Message: "the token has been revoked"}
	// ErrRevocationsStale: the revocation stream has been silent for longer than
	// RevocationConfig.MaxStaleness and the Verifier fails closed. Its code is unavailable (503).
	ErrRevocationsStale = &gatehouse.Error{Code: gatehouse.EUNAVAILABLE, Message: "revocations cannot be checked: gatehouse is unreachable"}
)

// Verifier verifies gatehouse access tokens. It is safe for concurrent use. Close stops its
// background work.
type Verifier struct {
	cfg    Config
	log    *slog.Logger
	keys   *token.KeySet
	tokens *token.Service
	rev    *revocationSet // nil when revocations are not followed
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New fetches the discovery document (unless Config.JWKSURL is set) and the keys, and starts
// refreshing them and, with Config.Revocations, following the revocation stream. It returns an
// error for an incomplete configuration, a discovery document naming another issuer, or keys
// that cannot be fetched; ctx bounds these first fetches only.
func New(ctx context.Context, cfg Config) (*Verifier, error) {
	cfg, err := normalize(cfg)
	if err != nil {
		return nil, err
	}
	v := &Verifier{cfg: cfg, log: cfg.Logger}
	streamURL, err := v.resolve(ctx)
	if err != nil {
		return nil, err
	}
	bg, cancel := context.WithCancel(context.Background())
	v.cancel = cancel
	first := ctx
	v.keys, err = token.NewRemoteKeySet(func() ([]byte, error) {
		fctx := bg
		if first != nil {
			fctx, first = first, nil // only the first fetch runs under New's context
		}
		return v.fetch(fctx, v.cfg.JWKSURL, token.MaxJWKSSize)
	}, token.RemoteOptions{MinRefetch: cfg.MinRefetch, Now: cfg.Now})
	if err == nil {
		cfg = v.cfg // as resolve completed it
		v.tokens, err = token.NewService(v.keys, token.Config{
			Issuer: cfg.Issuer, Audience: cfg.Audience, Leeway: cfg.Leeway, MaxSize: cfg.MaxSize,
			Algorithms: cfg.Algorithms, CacheSize: cfg.CacheSize, Now: cfg.Now,
		})
	}
	if err != nil {
		cancel()
		return nil, fmt.Errorf("verify: %w", err)
	}
	v.start(bg, streamURL)
	return v, nil
}

func normalize(cfg Config) (Config, error) {
	switch {
	case cfg.Issuer == "":
		return cfg, errors.New("verify: Config.Issuer is required")
	case cfg.Audience == "":
		return cfg, errors.New("verify: Config.Audience is required")
	}
	for _, a := range cfg.Algorithms {
		if a != token.AlgEdDSA && a != token.AlgES256 {
			return cfg, fmt.Errorf("verify: algorithm %q: only EdDSA and ES256 can be verified with public keys", a)
		}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: DefaultHTTPTimeout}
	}
	if cfg.JWKSRefresh <= 0 {
		cfg.JWKSRefresh = DefaultJWKSRefresh
	}
	if cfg.MinRefetch <= 0 {
		cfg.MinRefetch = DefaultMinRefetch
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if r := cfg.Revocations; r != nil {
		rc := *r
		if rc.MaxStaleness <= 0 {
			rc.MaxStaleness = DefaultMaxStaleness
		}
		cfg.Revocations = &rc
	}
	return cfg, nil
}

// discovery is the part of gatehouse's discovery document the Verifier reads.
type discovery struct {
	Issuer           string   `json:"issuer"`
	JWKSURI          string   `json:"jwks_uri"`
	Algorithms       []string `json:"id_token_signing_alg_values_supported"`
	RevocationStream string   `json:"gatehouse_revocation_stream_endpoint"`
}

// resolve fills in the JWKS URL and the algorithms from the discovery document when needed, and
// returns the revocation stream's URL.
func (v *Verifier) resolve(ctx context.Context) (streamURL string, err error) {
	cfg := &v.cfg
	if r := cfg.Revocations; r != nil {
		streamURL = r.URL
	}
	if cfg.JWKSURL != "" {
		if len(cfg.Algorithms) == 0 {
			cfg.Algorithms = []string{token.AlgEdDSA}
		}
		if cfg.Revocations != nil && streamURL == "" {
			return "", errors.New("verify: RevocationConfig.URL is required when Config.JWKSURL skips discovery")
		}
		return streamURL, nil
	}
	d, err := v.discover(ctx)
	if err != nil {
		return "", err
	}
	cfg.JWKSURL = d.JWKSURI
	if len(cfg.Algorithms) == 0 {
		for _, a := range d.Algorithms {
			if a == token.AlgEdDSA || a == token.AlgES256 {
				cfg.Algorithms = append(cfg.Algorithms, a)
			}
		}
		if len(cfg.Algorithms) == 0 {
			return "", fmt.Errorf("verify: the issuer signs with %v: no algorithm that public keys can verify", d.Algorithms)
		}
	}
	if streamURL == "" {
		streamURL = d.RevocationStream
	}
	if cfg.Revocations != nil && streamURL == "" {
		return "", errors.New("verify: the discovery document names no revocation stream; set RevocationConfig.URL")
	}
	return streamURL, nil
}

func (v *Verifier) discover(ctx context.Context) (*discovery, error) {
	url := strings.TrimSuffix(v.cfg.Issuer, "/") + "/.well-known/openid-configuration"
	raw, err := v.fetch(ctx, url, 1<<20)
	if err != nil {
		return nil, err
	}
	var d discovery
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("verify: discovery document %s: %w", url, err)
	}
	if d.Issuer != v.cfg.Issuer {
		return nil, fmt.Errorf("verify: discovery document %s names issuer %q, want %q", url, d.Issuer, v.cfg.Issuer)
	}
	if d.JWKSURI == "" {
		return nil, fmt.Errorf("verify: discovery document %s has no jwks_uri", url)
	}
	return &d, nil
}

// fetch GETs url and returns its body, at most limit bytes.
func (v *Verifier) fetch(ctx context.Context, url string, limit int64) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, "GET", url, nil)
	if err != nil {
		return nil, fmt.Errorf("verify: %w", err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := v.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("verify: fetch %s: %w", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("verify: fetch %s: HTTP %d", url, resp.StatusCode)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, fmt.Errorf("verify: fetch %s: %w", url, err)
	}
	if int64(len(raw)) > limit {
		return nil, fmt.Errorf("verify: fetch %s: larger than %d bytes", url, limit)
	}
	return raw, nil
}

// start runs the key refresher and the revocation follower until Close.
func (v *Verifier) start(ctx context.Context, streamURL string) {
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		v.refreshKeys(ctx)
	}()
	if v.cfg.Revocations == nil {
		return
	}
	v.rev = newRevocationSet()
	f := newFollower(v, streamURL)
	v.wg.Add(1)
	go func() {
		defer v.wg.Done()
		f.run(ctx)
	}()
}

func (v *Verifier) refreshKeys(ctx context.Context) {
	t := time.NewTicker(v.cfg.JWKSRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if _, err := v.keys.Reload(); err != nil && ctx.Err() == nil {
				v.log.Warn("verify: refreshing the gatehouse keys failed; keeping the previous ones", "err", err)
			}
		}
	}
}

// Close stops the key refresher and the revocation follower. Verify keeps working on the
// state it had; with revocations followed and not FailOpen, it fails once that state is stale.
func (v *Verifier) Close() error {
	v.cancel()
	v.wg.Wait()
	return nil
}

// Verify checks raw (the token itself, without "Bearer ") and returns what it says. The
// returned token may be shared between callers: do not modify it. Errors carry gatehouse's
// codes (gatehouse.ErrorCode): invalid_token (including ErrTokenRevoked), token_expired,
// too_large, and unavailable (ErrRevocationsStale).
func (v *Verifier) Verify(raw string) (*gatehouse.Token, error) {
	t, err := v.tokens.Verify(raw)
	if err != nil {
		return nil, err
	}
	if v.rev != nil {
		if err := v.checkRevocation(t); err != nil {
			return nil, err
		}
	}
	return t, nil
}

func (v *Verifier) checkRevocation(t *gatehouse.Token) error {
	now := v.cfg.Now()
	if !v.rev.fresh(now, v.cfg.Revocations.MaxStaleness) && !v.cfg.Revocations.FailOpen {
		return ErrRevocationsStale
	}
	if v.rev.revoked(t, now) {
		return ErrTokenRevoked
	}
	return nil
}

// Algorithms returns the accepted algorithms.
func (v *Verifier) Algorithms() []string { return v.tokens.Algorithms() }

// JWKSURL returns where the keys are fetched.
func (v *Verifier) JWKSURL() string { return v.cfg.JWKSURL }
