// Package token issues and verifies gatehouse's JWT access tokens and rotates its opaque
// refresh tokens.
//
// Access tokens are signed with the newest key of a KeySet (EdDSA by default, ES256 or HS256)
// and name it by kid. Verify trusts nothing in the token to choose how it is checked: the
// algorithm must be on an explicit allow-list and equal to the algorithm the kid's key is
// bound to, the key comes only from the key set (never from jwk, jku, x5u or x5c headers),
// and the size is capped before anything is decoded. Revocation is not Verify's business: the
// caller checks the token's jti and the user's not-before time.
//
// Refresh tokens are opaque random secrets (never JWTs) stored only as hashes in a
// gatehouse.RefreshStore; see Refresher. With a reuse grace the store also keeps the latest
// rotation's pair, sealed under a key derived from the previous refresh token (refreshgrace.go).
package token

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/golang-jwt/jwt/v5"
)

// Defaults of Config.
const (
	DefaultAccessTTL = 15 * time.Minute
	DefaultLeeway    = 30 * time.Second
	DefaultMaxSize   = 8192
)

// TypAccessToken is the typ header of access tokens (RFC 9068).
const TypAccessToken = "at+jwt"

// Config configures a Service.
type Config struct {
	// Issuer (iss) and Audience (aud) are required. Verify requires iss to be exactly Issuer
	// and aud to contain Audience.
	Issuer, Audience string
	// AccessTTL is the lifetime of an access token; default DefaultAccessTTL (15 minutes).
	AccessTTL time.Duration
	// Leeway is the allowed clock skew for exp, nbf and iat; default DefaultLeeway (30 s).
	// A negative value means none.
	Leeway time.Duration
	// MaxSize is the largest token Verify decodes, in bytes; default DefaultMaxSize (8 KiB).
	MaxSize int
	// Algorithms are the accepted algorithms; default: the key set's signing algorithm only.
	// "none" is never accepted, in any spelling.
	Algorithms []string
	// CacheSize is the number of verified tokens remembered; 0 means DefaultCacheSize
	// (100 000), a negative value disables the cache.
	CacheSize int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Service issues and verifies access tokens. It is safe for concurrent use.
type Service struct {
	keys   *KeySet
	cfg    Config
	parser *jwt.Parser
	cache  *verifiedCache // nil when disabled
}

// NewService returns a Service that signs with keys' signing key. It returns an error when
// Issuer or Audience is empty, an algorithm is unknown or "none", or the signing algorithm is
// not among the accepted ones.
func NewService(keys *KeySet, cfg Config) (*Service, error) {
	cfg, err := normalizeConfig(keys, cfg)
	if err != nil {
		return nil, err
	}
	s := &Service{keys: keys, cfg: cfg}
	s.parser = jwt.NewParser(
		jwt.WithValidMethods(cfg.Algorithms),
		jwt.WithStrictDecoding(), // one token, one spelling: no stray bits in the last base64 character
		jwt.WithLeeway(cfg.Leeway),
		jwt.WithTimeFunc(cfg.Now),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(cfg.Issuer),
		jwt.WithAudience(cfg.Audience),
	)
	if cfg.CacheSize > 0 {
		s.cache = newVerifiedCache(cfg.CacheSize)
	}
	return s, nil
}

func normalizeConfig(keys *KeySet, cfg Config) (Config, error) {
	if keys == nil {
		return cfg, errors.New("token: a key set is required")
	}
	if cfg.Issuer == "" || cfg.Audience == "" {
		return cfg, errors.New("token: issuer and audience are required")
	}
	cfg.AccessTTL = defaultDuration(cfg.AccessTTL, DefaultAccessTTL)
	cfg.Leeway = max(defaultDuration(cfg.Leeway, DefaultLeeway), 0)
	if cfg.MaxSize <= 0 {
		cfg.MaxSize = DefaultMaxSize
	}
	if cfg.CacheSize == 0 {
		cfg.CacheSize = DefaultCacheSize
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	algs, err := acceptedAlgorithms(cfg.Algorithms, keys.SigningAlg())
	cfg.Algorithms = algs
	return cfg, err
}

func defaultDuration(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

// acceptedAlgorithms checks the allow-list, which must contain the signing algorithm. A key
// set that cannot sign (remote) has none: the list must then be given.
func acceptedAlgorithms(algs []string, signing string) ([]string, error) {
	if len(algs) == 0 {
		if signing == "" {
			return nil, errors.New("token: a verify-only key set needs Config.Algorithms")
		}
		return []string{signing}, nil
	}
	out := make([]string, 0, len(algs))
	for _, a := range algs {
		switch {
		case strings.EqualFold(a, "none"):
			return nil, errors.New(`token: the "none" algorithm is never accepted`)
		case a != AlgEdDSA && a != AlgES256 && a != AlgHS256:
			return nil, fmt.Errorf("token: unsupported algorithm %q (want EdDSA, ES256 or HS256)", a)
		}
		out = append(out, a)
	}
	for _, a := range out {
		if a == signing || signing == "" {
			return out, nil
		}
	}
	return nil, fmt.Errorf("token: the signing algorithm %s must be among the accepted algorithms", signing)
}

// Keys returns the service's key set.
func (s *Service) Keys() *KeySet { return s.keys }

// AccessTTL returns the lifetime of the tokens Issue makes.
func (s *Service) AccessTTL() time.Duration { return s.cfg.AccessTTL }

// Leeway returns the clock skew allowed past exp; a revocation must outlast exp by as much.
func (s *Service) Leeway() time.Duration { return s.cfg.Leeway }

// Issuer returns the "iss" that Issue writes and Verify requires.
func (s *Service) Issuer() string { return s.cfg.Issuer }

// Audience returns the "aud" that Issue writes and Verify requires.
func (s *Service) Audience() string { return s.cfg.Audience }

// Algorithms returns a copy of the algorithms Verify accepts.
func (s *Service) Algorithms() []string { return append([]string(nil), s.cfg.Algorithms...) }

// Issue signs an access token for p with the current signing key. family is the refresh
// family id carried as "sid" (omitted when empty). iat is the issue time, normally
// gatehouse.IssueStamp(now, notBefore); it is truncated to milliseconds (written as a
// fractional NumericDate, which RFC 7519 allows), and the zero time means now. nbf is
// min(now, iat) and exp is now plus AccessTTL, in whole seconds. It
// returns an error when p has no user id or an invalid role.
func (s *Service) Issue(p gatehouse.Principal, family string, iat time.Time) (token string, t *gatehouse.Token, err error) {
	return s.issue(p, 0, family, iat, s.cfg.Audience, s.cfg.AccessTTL)
}

// IssueFor is Issue for the user u who signed in with the methods amr: the token also carries
// u's groups ("groups" claim, omitted when there are none), and amr as the "amr" and "acr"
// claims (omitted for the zero value).
func (s *Service) IssueFor(u *gatehouse.User, amr gatehouse.AuthMethods, family string, iat time.Time) (token string, t *gatehouse.Token, err error) {
	return s.issue(u.Principal(), amr, family, iat, s.cfg.Audience, s.cfg.AccessTTL)
}

// ErrOwnAudience is returned by IssueAssertion for an audience equal to the service's own: an
// assertion must never be accepted as an access token by gatehouse itself.
var ErrOwnAudience = errors.New("token: an assertion's audience must differ from gatehouse's own audience")

// IssueAssertion signs a statement of who p is (with p.Groups) for one other service, the
// audience, such as the origin "https://app.example.com" of an app behind a reverse proxy. It
// is an access token in every other respect (typ at+jwt, iss, jti, the current signing key and
// its kid), so the app verifies it with the verify SDK configured with that audience, or with
// any JOSE library and the JWK Set. It is valid for ttl (whole seconds, at least one), and
// carries no refresh family. It returns ErrOwnAudience for the service's own audience, and an
// error when audience is empty, or p has no user id, an invalid role or invalid groups.
func (s *Service) IssueAssertion(p gatehouse.Principal, audience string, ttl time.Duration) (string, error) {
	switch {
	case audience == "":
		return "", errors.New("token: an assertion needs an audience")
	case audience == s.cfg.Audience:
		return "", ErrOwnAudience
	case ttl < time.Second:
		return "", fmt.Errorf("token: an assertion lives at least one second, not %s", ttl)
	}
	tok, _, err := s.issue(p, 0, "", time.Time{}, audience, ttl)
	return tok, err
}

func (s *Service) issue(p gatehouse.Principal, amr gatehouse.AuthMethods, family string, iat time.Time, aud string, ttl time.Duration) (token string, t *gatehouse.Token, err error) {
	if p.UserID == "" || !p.Role.Valid() {
		return "", nil, fmt.Errorf("token: cannot issue a token for user %q with role %q", p.UserID, p.Role)
	}
	if err := gatehouse.CheckGroups(p.Groups); len(p.Groups) > 0 && err != nil {
		return "", nil, fmt.Errorf("token: user %q: %w", p.UserID, err)
	}
	if !amr.Valid() {
		return "", nil, fmt.Errorf("token: unknown authentication methods %#x", uint8(amr))
	}
	now := s.cfg.Now()
	if iat.IsZero() {
		iat = now
	}
	iat = iat.Truncate(gatehouse.StampPrecision)
	nbf := now.Truncate(time.Second)
	if iat.Before(nbf) {
		nbf = iat
	}
	exp := now.Add(ttl).Truncate(time.Second)
	c := &issueClaims{
		Subject: p.UserID, Name: p.Name, Email: p.Email, Role: string(p.Role), Username: p.Username,
		Issuer: s.cfg.Issuer, Audience: aud,
		IssuedAt: numericDateMillis(iat), NotBefore: nbf.Unix(), ExpiresAt: exp.Unix(),
		ID: gatehouse.NewID(now), SID: family, Groups: p.Groups, AMR: amr.AMR(), ACR: amr.ACR(),
	}
	k := s.keys.snap.Load().signingAt(now)
	if k == nil {
		return "", nil, errors.New("token: this key set can only verify")
	}
	jt := jwt.NewWithClaims(k.method, c)
	jt.Header["kid"] = k.kid
	jt.Header["typ"] = TypAccessToken
	token, err = jt.SignedString(k.sign)
	if err != nil {
		return "", nil, fmt.Errorf("token: sign: %w", err)
	}
	p.Groups = slices.Clone(p.Groups)
	t = &gatehouse.Token{Principal: p, ID: c.ID, Family: family, AMR: amr, IssuedAt: iat, ExpiresAt: time.Unix(c.ExpiresAt, 0)}
	return token, t, nil
}
