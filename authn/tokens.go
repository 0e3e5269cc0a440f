package authn

import (
	"context"
	"errors"
	"log/slog"
	"strings"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/refresh"
)

// RefreshResult is a refreshed token pair.
type RefreshResult struct {
	TokenPair
	// Replay is true when the pair is the one an earlier presentation of the same refresh
	// token got, handed out again within the reuse grace.
	Replay bool
}

// Refresh rotates a refresh token and issues an access token for its user as stored now: the
// refresher finds (or rotates) the family, this decides whether the family may go on (a family
// whose user is gone, disabled, or signed out everywhere since it began dies: ErrRefreshDead),
// signs the access token, and the refresher seals and rotates. The reuse of a rotated token
// revokes its family and is audited as refresh_reuse; a replay within the reuse grace is
// logged. A failed token counts against the client's address (CredentialFailed): once the
// address is over its budget the error is a ThrottledError instead.
//
// Both refresh routes (the JSON API and the OAuth token endpoint) call it, so they behave alike.
func (s *Service) Refresh(ctx context.Context, raw string, c Client) (RefreshResult, error) {
	rot, err := s.rotate(ctx, raw)
	if err == nil {
		if rot.Replay {
			s.log.InfoContext(ctx, "refresh token replayed within the reuse grace: same pair handed out again",
				"family", rot.Family.ID, "ip", c.IP)
		}
		return RefreshResult{TokenPair: TokenPair{AccessToken: rot.AccessToken, ExpiresAt: rot.ExpiresAt,
			RefreshToken: rot.RefreshToken}, Replay: rot.Replay}, nil
	}
	if errors.Is(err, gatehouse.ErrRefreshReuse) {
		if derr := s.refreshReused(ctx, rot.Family, c); derr != nil {
			return RefreshResult{}, derr
		}
	}
	if wait := s.CredentialFailed(ctx, c, err); wait > 0 {
		return RefreshResult{}, Throttled(wait)
	}
	return RefreshResult{}, err
}

// refreshReused handles a detected reuse: the store has revoked the family, and this denies
// the access tokens issued from it (the moment an attacker is detected is the moment their
// access token should die) before the client is answered, then audits refresh_reuse. The error
// is the revocation store's: the caller then answers it (fail closed) instead of the reuse.
func (s *Service) refreshReused(ctx context.Context, fam *gatehouse.RefreshFamily, c Client) error {
	e := gatehouse.AuditEvent{Action: gatehouse.AuditRefreshReuse, Outcome: gatehouse.AuditFailure, Detail: "family revoked"}
	if fam != nil {
		if err := s.denyFamily(ctx, fam.ID); err != nil {
			return err
		}
		e.UserID, e.Detail = fam.UserID, "family "+fam.ID+" revoked with its access tokens"
	}
	s.Audit(ctx, c, e)
	return nil
}

// denyFamily denies every access token issued from the refresh family familyID, on every
// instance once it returns (the revocation store's barrier): until the latest of them can
// have expired, which is at most the access-token lifetime from now plus the verifiers'
// clock-skew allowance.
func (s *Service) denyFamily(ctx context.Context, familyID string) error {
	until := s.now().Add(s.d.Tokens.AccessTTL() + s.d.Tokens.Leeway())
	return gatehouse.RevokeFamilyTokens(ctx, s.d.Revocations, familyID, until)
}

// rotate is one whole rotation: begin, decide, sign, finish.
func (s *Service) rotate(ctx context.Context, raw string) (refresh.Rotation, error) {
	p, err := s.d.Refresh.Begin(ctx, raw)
	if err != nil {
		return refresh.Rotation{Family: p.Family}, err
	}
	u, err := s.refreshUser(ctx, p.Family)
	if err != nil {
		return refresh.Rotation{}, err
	}
	access, exp, err := s.issueAccess(ctx, u, p.Family)
	if err != nil {
		return refresh.Rotation{}, err
	}
	return p.Finish(ctx, refresh.Issued{AccessToken: access, ExpiresAt: exp})
}

// refreshUser returns the family's user if the family may go on, and otherwise revokes the
// family and returns ErrRefreshDead.
func (s *Service) refreshUser(ctx context.Context, fam *gatehouse.RefreshFamily) (*gatehouse.User, error) {
	u, err := s.d.Users.UserByID(ctx, fam.UserID)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, s.killFamily(ctx, fam)
	}
	if err != nil {
		return nil, err
	}
	nb, err := s.d.Revocations.NotBefore(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if u.Disabled || gatehouse.IssuedBefore(fam.CreatedAt, nb) {
		return nil, s.killFamily(ctx, fam)
	}
	return u, nil
}

func (s *Service) killFamily(ctx context.Context, fam *gatehouse.RefreshFamily) error {
	if err := s.d.Refresh.RevokeFamily(ctx, fam.ID); err != nil {
		return err
	}
	return ErrRefreshDead
}

// Logout ends what authenticated a: the session (whose secret is cred.SessionID), or the
// access token (denied by jti until it expires) together with its refresh family. It is
// audited as logout.
func (s *Service) Logout(ctx context.Context, a gatehouse.Auth, cred Credential, c Client) error {
	var err error
	if a.Method == gatehouse.AuthSession {
		err = s.d.Sessions.Revoke(ctx, cred.SessionID)
	} else {
		err = s.revokeAccessToken(ctx, a.Token)
	}
	if err != nil {
		return err
	}
	s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditLogout, Outcome: gatehouse.AuditSuccess, UserID: a.UserID, Detail: "auth=" + a.Method})
	return nil
}

// revokeAccessToken denies t by jti and revokes its refresh family, with every other access
// token issued from that family.
func (s *Service) revokeAccessToken(ctx context.Context, t *gatehouse.Token) error {
	// The denial must outlast the verifier's clock-skew allowance past exp.
	if err := s.d.Revocations.RevokeToken(ctx, t.ID, t.ExpiresAt.Add(s.d.Tokens.Leeway())); err != nil {
		return err
	}
	if t.Family == "" {
		return nil
	}
	if err := s.d.Refresh.RevokeFamily(ctx, t.Family); err != nil {
		return err
	}
	return s.denyFamily(ctx, t.Family)
}

// LooksLikeJWT reports whether tok has the shape of a JWT (three dot-separated parts): an
// access token rather than a refresh token.
func LooksLikeJWT(tok string) bool { return strings.Count(tok, ".") == 2 }

// RevokeToken is RFC 7009 token revocation: possession of the token is the proof. A refresh
// token kills its whole family and every access token issued from it; an access token that gatehouse signed and that can still be
// accepted is denied by jti until it expires, and its refresh family dies with it, as at
// logout. Unknown, malformed, expired or foreign tokens need nothing and are no error. Each
// revocation is audited as token_revoked. Errors are the stores'.
func (s *Service) RevokeToken(ctx context.Context, raw string, c Client) error {
	switch {
	case LooksLikeJWT(raw):
		t, err := s.d.Tokens.Verify(raw)
		if err != nil {
			return nil
		}
		if err := s.revokeAccessToken(ctx, t); err != nil {
			return err
		}
		s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditTokenRevoked, Outcome: gatehouse.AuditSuccess,
			UserID: t.UserID, Detail: "access token jti " + t.ID + " (RFC 7009)"})
	case gatehouse.ValidSecret(raw):
		fam, err := s.d.Refresh.RevokeToken(ctx, raw)
		if err != nil || fam == nil {
			return err
		}
		if err := s.denyFamily(ctx, fam.ID); err != nil {
			return err
		}
		s.Audit(ctx, c, gatehouse.AuditEvent{Action: gatehouse.AuditTokenRevoked, Outcome: gatehouse.AuditSuccess,
			UserID: fam.UserID, Detail: "refresh family " + fam.ID + " with its access tokens (RFC 7009)"})
	}
	return nil
}

// Introspect is RFC 7662 introspection: an access token that verifies and is not revoked is
// active, and its claims are returned. Everything else (expired, revoked, malformed, signed by
// an unknown key, and refresh tokens, which resource servers never receive and which
// introspection must not turn into an oracle) is inactive, with a nil error. The error is set
// only when the revocation store cannot answer: never an "active" guess.
func (s *Service) Introspect(ctx context.Context, raw string) (t *gatehouse.Token, active bool, err error) {
	if !LooksLikeJWT(raw) {
		return nil, false, nil
	}
	t, err = s.d.Tokens.Verify(raw)
	if err == nil {
		err = s.CheckToken(ctx, t)
	}
	switch {
	case err == nil:
		return t, true, nil
	case gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE:
		return nil, false, err
	}
	return nil, false, nil
}

// RevokeAccessToken denies the access token jti, which expires at exp, until then; the
// OpenID Provider uses it for the tokens of a replayed code.
func (s *Service) RevokeAccessToken(ctx context.Context, jti string, exp time.Time) error {
	return s.d.Revocations.RevokeToken(ctx, jti, exp.Add(s.d.Tokens.Leeway()))
}

// Logger is the use cases' logger.
func (s *Service) Logger() *slog.Logger { return s.log }

// CheckRefreshFamily returns the family's user if the family may go on: the user exists, is
// not disabled and was not signed out everywhere since the family began. Otherwise it revokes
// the family and returns ErrRefreshDead. The OpenID Provider runs it at each refresh of a
// client's refresh token, as Refresh does for gatehouse's own.
func (s *Service) CheckRefreshFamily(ctx context.Context, fam *gatehouse.RefreshFamily) (*gatehouse.User, error) {
	return s.refreshUser(ctx, fam)
}
