package token

import (
	"errors"
	"fmt"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/golang-jwt/jwt/v5"
)

// Errors of the cache fast path, made once so that a hit allocates nothing.
var (
	errCachedExpired  = fmt.Errorf("token: %w", gatehouse.ErrTokenExpired)
	errCachedNotValid = fmt.Errorf("token: not valid yet (nbf or iat in the future): %w", gatehouse.ErrInvalidToken)
	errLineBreak      = fmt.Errorf("token: line break inside the token: %w", gatehouse.ErrInvalidToken)
)

// Verify checks token and returns what it says. It does not check revocation: the caller
// checks the jti and the user's not-before time.
//
// It returns gatehouse.ErrTooLarge (before decoding anything) when the token is longer than
// MaxSize, gatehouse.ErrTokenExpired when the time is past exp plus the leeway, and an error
// wrapping gatehouse.ErrInvalidToken for everything else: malformed (a CR or LF anywhere
// included), an algorithm not accepted or not the one the kid's key is bound to, a missing or
// unknown kid, a bad signature, a typ other than at+jwt, a crit header, nbf or iat in the
// future beyond the leeway, a wrong iss or aud, a missing exp, iss, aud, sub, jti or iat, or an
// unknown role.
//
// Tokens that passed are remembered (see Config.CacheSize) by their exact string; a cached
// token is still rejected from the moment uncached verification would reject it by time. A
// key removed from the key file does not evict the tokens it signed: they stay accepted until
// their exp, as they would be by any verifier that fetched the JWKS earlier. The returned
// *gatehouse.Token may be shared between callers: it must not be modified.
//
// ES256 signatures are accepted with either s or its "high-S twin" N-s (both are valid ECDSA
// signatures, so one token has two valid encodings); both carry the same jti, and revocation
// is keyed on the jti, so revoking one revokes the other.
func (s *Service) Verify(token string) (*gatehouse.Token, error) {
	if len(token) > s.cfg.MaxSize {
		return nil, fmt.Errorf("token: %d bytes, limit %d: %w", len(token), s.cfg.MaxSize, gatehouse.ErrTooLarge)
	}
	if s.cache != nil {
		if e, ok := s.cache.get(token); ok {
			return s.checkCached(e)
		}
	}
	if err := refuseLineBreaks(token); err != nil {
		return nil, err
	}
	var c accessClaims
	if _, err := s.parser.ParseWithClaims(token, &c, s.keyFor); err != nil {
		return nil, s.claimErr(&c, verifyErr(err))
	}
	t := c.token()
	if s.cache != nil {
		s.cache.put(token, s.entry(&c, t), s.cfg.Now())
	}
	return t, nil
}

// refuseLineBreaks rejects a token holding CR or LF. Go's base64 decoder skips them even in
// strict mode, so a line break inserted into the signature segment would otherwise be a second
// spelling of the same token that still verifies. A cached token never holds one, so the check
// runs only before a full verification.
func refuseLineBreaks(token string) error {
	if strings.ContainsAny(token, "\r\n") {
		return errLineBreak
	}
	return nil
}

// checkCached applies the time checks of uncached verification to a cached token, in the
// same order of precedence (not yet valid, then expired).
func (s *Service) checkCached(e cacheEntry) (*gatehouse.Token, error) {
	now := s.cfg.Now()
	if now.Before(e.from) {
		return nil, errCachedNotValid
	}
	if !now.Before(e.until) {
		return nil, errCachedExpired
	}
	return e.tok, nil
}

// entry returns the cache entry of a verified token: valid from max(nbf, iat) - leeway
// (what jwt.WithLeeway and jwt.WithIssuedAt check) until exp + leeway.
func (s *Service) entry(c *accessClaims, t *gatehouse.Token) cacheEntry {
	from := c.iat
	if c.NBF.NumericDate != nil && c.NBF.After(from) {
		from = c.NBF.Time
	}
	return cacheEntry{tok: t, from: from.Add(-s.cfg.Leeway), until: c.EXP.Add(s.cfg.Leeway)}
}

// keyFor is the jwt.Keyfunc: it checks the header and picks the key by kid alone. By the time
// it runs, the parser has already refused algorithms outside the allow-list.
func (s *Service) keyFor(t *jwt.Token) (any, error) {
	if err := checkHeader(t.Header); err != nil {
		return nil, err
	}
	kid, ok := t.Header["kid"].(string)
	if !ok || kid == "" || len(kid) > maxKIDLen {
		return nil, errors.New("missing or malformed kid")
	}
	k := s.keys.lookupOrReload(kid)
	if k == nil {
		return nil, errors.New("unknown kid")
	}
	if alg := t.Method.Alg(); alg != k.alg {
		return nil, fmt.Errorf("alg %s does not match the %s key named by the kid", alg, k.alg)
	}
	return k.verify, nil
}

// checkHeader requires typ at+jwt and refuses crit: gatehouse understands no header
// extension, and RFC 7515 says a recipient must then reject the token. Headers such as jwk,
// jku, x5u and x5c are never read.
func checkHeader(h map[string]any) error {
	typ, _ := h["typ"].(string)
	typ = strings.ToLower(typ)
	if typ != TypAccessToken && typ != "application/"+TypAccessToken {
		return fmt.Errorf("typ %q is not %s", h["typ"], TypAccessToken)
	}
	if _, ok := h["crit"]; ok {
		return errors.New("crit header not supported")
	}
	return nil
}

// ErrWrongIssuer and ErrWrongAudience mark a token that verified with one of the keys but was
// issued for another issuer or audience: most often an instance configured with another
// --issuer or --audience than the one that issued it. Verify's error wraps them, with the
// token's value and the expected one in its message, for the logs.
var (
	ErrWrongIssuer   = errors.New("issued by another issuer")
	ErrWrongAudience = errors.New("issued for another audience")
)

// claimErr adds ErrWrongIssuer or ErrWrongAudience to err when the (signature-checked) token
// failed on its iss or aud. The claims are read only after the signature verified, so the
// values in the message are ones a holder of the keys wrote.
func (s *Service) claimErr(c *accessClaims, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return fmt.Errorf("%w: %w: iss %q, expected %q", err, ErrWrongIssuer, c.Issuer, s.cfg.Issuer)
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return fmt.Errorf("%w: %w: aud %q, expected %q", err, ErrWrongAudience, []string(c.Audience), s.cfg.Audience)
	}
	return err
}

// otherClaimErrs are the claim failures that make an expired token invalid rather than merely
// expired.
var otherClaimErrs = []error{
	jwt.ErrTokenNotValidYet, jwt.ErrTokenUsedBeforeIssued, jwt.ErrTokenInvalidIssuer,
	jwt.ErrTokenInvalidAudience, jwt.ErrTokenRequiredClaimMissing, jwt.ErrInvalidType, errClaims, errClaimType,
}

// verifyErr maps an error of the JWT library to gatehouse's: expired when exp is the only
// claim that failed, invalid otherwise. The library's detail stays in the message for logs.
func verifyErr(err error) error {
	if errors.Is(err, jwt.ErrTokenExpired) {
		expiredOnly := true
		for _, other := range otherClaimErrs {
			if errors.Is(err, other) {
				expiredOnly = false
				break
			}
		}
		if expiredOnly {
			return fmt.Errorf("token: %w (%v)", gatehouse.ErrTokenExpired, err)
		}
	}
	return fmt.Errorf("token: %w (%w)", gatehouse.ErrInvalidToken, err)
}
