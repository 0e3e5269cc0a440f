package http

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/httpauth"
	"github.com/gatehouse-auth/gatehouse/token"
)

// authedHandler is a handler that runs only for an authenticated request. It must not keep a
// after it returns (a is recycled).
type authedHandler func(w http.ResponseWriter, r *http.Request, a *gatehouse.Auth)

// authed authenticates the request (bearer token first, then the session cookie), checks that
// its role allows role, refuses cross-origin unsafe requests made with a cookie, and calls h.
// The Auth is passed as an argument rather than through the request's context, which would cost
// a copy of the request on the hot path.
func (s *Server) authed(role gatehouse.Role, h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a := authPool.Get().(*gatehouse.Auth)
		defer putAuth(a)
		err := s.authenticate(r.Context(), r, a)
		if err != nil {
			s.Metrics.authDecision(r, err)
			if wait := s.credentialFailed(r, err); wait > 0 {
				s.writeRateLimited(w, r, "credential", wait)
				return
			}
			s.writeError(w, r, err)
			return
		}
		s.Metrics.authDecision(r, nil)
		if a.Method == gatehouse.AuthSession && !isSafeMethod(r.Method) {
			// Cookies ride along on cross-site requests; bearer tokens do not.
			if err := s.checkOrigin(r); err != nil {
				s.writeCode(w, r, gatehouse.EFORBIDDEN, "cross-origin request refused")
				return
			}
		}
		if !a.Role.Allows(role) {
			s.writeCode(w, r, gatehouse.EFORBIDDEN, "this needs the "+string(role)+" role")
			return
		}
		h(w, r, a)
	}
}

func isSafeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

// authPool recycles the Auth of each request: handlers must not keep it past their return.
// BenchmarkAuthenticate allocates one more time per request (112 B) without it.
var authPool = sync.Pool{New: func() any { return new(gatehouse.Auth) }}

func putAuth(a *gatehouse.Auth) {
	*a = gatehouse.Auth{}
	authPool.Put(a)
}

var errBadAuthorization = gatehouse.Errorf(gatehouse.EINVALIDTOKEN, "the Authorization header must be \"Bearer <token>\"")

// authenticate fills a with who sent r. A bearer token wins over a session cookie; with
// neither, the error is token_missing.
func (s *Server) authenticate(ctx context.Context, r *http.Request, a *gatehouse.Auth) error {
	if raw, ok := authorizationHeader(r); ok {
		tok, ok := parseBearer(raw)
		if !ok {
			return errBadAuthorization
		}
		return s.authenticateToken(ctx, tok, a)
	}
	if secret, ok := s.sessionCookie(r); ok {
		sess, err := s.Sessions.Authenticate(ctx, secret)
		if err != nil {
			return err
		}
		*a = gatehouse.Auth{Principal: sess.User, Method: gatehouse.AuthSession, Session: sess}
		return nil
	}
	return gatehouse.ErrTokenMissing
}

// authenticateToken verifies an access token and checks, from the revocation store's in-process
// view, that neither its jti nor its user's not-before time revokes it.
func (s *Server) authenticateToken(ctx context.Context, raw string, a *gatehouse.Auth) error {
	t, err := s.Tokens.Verify(raw)
	if err != nil {
		s.logForeignToken(err)
		return err
	}
	if err := s.checkTokenRevocation(ctx, t); err != nil {
		return err
	}
	*a = gatehouse.Auth{Principal: t.Principal, Method: gatehouse.AuthToken, Token: t}
	return nil
}

// foreignTokenLogEvery bounds how often a token refused for its issuer or audience is logged.
const foreignTokenLogEvery = 10 * time.Second

// logForeignToken logs a token that verified with the keys but names another issuer or
// audience, at most once per foreignTokenLogEvery: the client is told only that the token is
// invalid, but the operator needs to know that instances disagree on --issuer or --audience.
func (s *Server) logForeignToken(err error) {
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

var errTokenRevoked = gatehouse.Errorf(gatehouse.EINVALIDTOKEN, "the token has been revoked")

func (s *Server) checkTokenRevocation(ctx context.Context, t *gatehouse.Token) error {
	revoked, err := s.Revocations.TokenRevoked(ctx, t.ID)
	if err != nil {
		return err
	}
	if revoked {
		return errTokenRevoked
	}
	nb, err := s.Revocations.NotBefore(ctx, t.UserID)
	if err != nil {
		return err
	}
	if gatehouse.IssuedBefore(t.IssuedAt, nb) {
		return errTokenRevoked
	}
	return nil
}

// authorizationHeader returns the Authorization header, if the request has one.
func authorizationHeader(r *http.Request) (string, bool) {
	v := r.Header["Authorization"]
	if len(v) == 0 {
		return "", false
	}
	return v[0], true
}

// bearerToken returns the token of a well-formed bearer Authorization header.
func bearerToken(r *http.Request) (string, bool) {
	raw, ok := authorizationHeader(r)
	if !ok {
		return "", false
	}
	return parseBearer(raw)
}

// parseBearer parses "Bearer <token>" (internal/httpauth, shared with verify/).
var parseBearer = httpauth.ParseBearer

// sessionCookie returns the value of the session cookie without parsing every cookie of the
// request (r.Cookie allocates a slice of all of them).
func (s *Server) sessionCookie(r *http.Request) (string, bool) {
	for _, line := range r.Header["Cookie"] {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			name, val, ok := strings.Cut(part, "=")
			if ok && name == s.cookieName {
				return strings.Trim(val, `"`), val != ""
			}
		}
	}
	return "", false
}
