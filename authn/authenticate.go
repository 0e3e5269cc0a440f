package authn

import (
	"context"
	"errors"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Credential is what a request presents to prove who sent it. When both are set the access
// token wins; with neither, Authenticate answers gatehouse.ErrTokenMissing.
type Credential struct {
	// AccessToken is a bearer access token (a JWT), without "Bearer ".
	AccessToken string
	// SessionID is the secret of a session cookie.
	SessionID string
}

// Authenticate returns who presented c. An access token must verify and not be revoked (by
// its jti or by its user's not-before time: gatehouse.AccessTokenRevoked); a session id must
// name a live session. Errors: gatehouse.ErrTokenMissing, invalid_token and token_expired
// errors (ErrTokenRevoked among them), gatehouse.ErrSessionExpired, and
// gatehouse.ErrUnavailable when a store cannot answer (fail closed), and ErrMFARequired for a
// credential of a user whose role requires a second factor when its sign-in used one factor.
//
// The Auth is a plain value: it may be kept, but its Session is shared with the session cache
// and must not be modified.
func (s *Service) Authenticate(ctx context.Context, c Credential) (gatehouse.Auth, error) {
	switch {
	case c.AccessToken != "":
		return s.AuthenticateToken(ctx, c.AccessToken)
	case c.SessionID != "":
		return s.AuthenticateSession(ctx, c.SessionID)
	}
	return gatehouse.Auth{}, gatehouse.ErrTokenMissing
}

// AuthenticateSession returns the live session of the secret of a session cookie.
func (s *Service) AuthenticateSession(ctx context.Context, secret string) (gatehouse.Auth, error) {
	sess, err := s.d.Sessions.Authenticate(ctx, secret)
	if err != nil {
		return gatehouse.Auth{}, err
	}
	a := gatehouse.Auth{Principal: sess.User, Method: gatehouse.AuthSession, Session: sess}
	if err := s.checkAssurance(&a); err != nil {
		return gatehouse.Auth{}, err
	}
	return a, nil
}

// AuthenticateToken verifies an access token and checks that it is not revoked.
func (s *Service) AuthenticateToken(ctx context.Context, raw string) (gatehouse.Auth, error) {
	t, err := s.d.Tokens.Verify(raw)
	if err != nil {
		s.logForeignToken(err)
		return gatehouse.Auth{}, err
	}
	if err := s.CheckToken(ctx, t); err != nil {
		return gatehouse.Auth{}, err
	}
	a := gatehouse.Auth{Principal: t.Principal, Method: gatehouse.AuthToken, Token: t}
	if err := s.checkAssurance(&a); err != nil {
		return gatehouse.Auth{}, err
	}
	return a, nil
}

// CheckToken returns ErrTokenRevoked when the verified access token t is revoked now, and the
// revocation store's error when it cannot tell (such as a revocation stream checking that the
// token it was opened with still stands).
func (s *Service) CheckToken(ctx context.Context, t *gatehouse.Token) error {
	revoked, err := gatehouse.AccessTokenRevoked(ctx, s.d.Revocations, t)
	switch {
	case err != nil:
		return err
	case revoked:
		return ErrTokenRevoked
	}
	return nil
}

// foreignTokenLogEvery bounds how often a token refused for its issuer or audience is logged.
const foreignTokenLogEvery = 10 * time.Second

// logForeignToken logs a token that verified with the keys but names another issuer or
// audience, at most once per foreignTokenLogEvery: the client is told only that the token is
// invalid, but the operator needs to know that instances disagree on --issuer or --audience.
func (s *Service) logForeignToken(err error) {
	if !errors.Is(err, token.ErrWrongIssuer) && !errors.Is(err, token.ErrWrongAudience) {
		return
	}
	now, last := s.now().UnixNano(), s.foreignTokenLog.Load()
	if now-last < int64(foreignTokenLogEvery) || !s.foreignTokenLog.CompareAndSwap(last, now) {
		return
	}
	s.log.Warn("access token refused: it is signed with this server's keys but names another issuer or audience; "+
		"every instance that shares the keys needs the same --issuer and --audience (logged at most every 10s)", "err", err)
}
