package http

import (
	"context"
	"net/http"

	"github.com/gatehouse-auth/gatehouse"
)

// ProxyAuth answers reverse proxies that ask whether a request may reach the app behind them
// (package forwardauth implements it; cmd/gatehouse wires it with SetProxyAuth).
type ProxyAuth interface {
	// ForwardAuth answers Traefik's ForwardAuth and Caddy's forward_auth.
	ForwardAuth(w http.ResponseWriter, r *http.Request)
	// AuthRequest answers nginx's auth_request.
	AuthRequest(w http.ResponseWriter, r *http.Request)
}

// SetProxyAuth mounts p at GET /api/authz/forward-auth and GET /api/authz/auth-request. Call
// it before the server starts serving; without it those endpoints answer 404.
func (s *Server) SetProxyAuth(p ProxyAuth) { s.proxyAuth = p }

func (s *Server) authzRoutes(handle func(method, path string, h http.HandlerFunc)) {
	handle("GET", "/api/authz/forward-auth", func(w http.ResponseWriter, r *http.Request) {
		if s.proxyAuth == nil {
			s.writeCode(w, r, gatehouse.ENOTFOUND, "forward-auth is not enabled on this server")
			return
		}
		s.proxyAuth.ForwardAuth(w, r)
	})
	handle("GET", "/api/authz/auth-request", func(w http.ResponseWriter, r *http.Request) {
		if s.proxyAuth == nil {
			s.writeCode(w, r, gatehouse.ENOTFOUND, "forward-auth is not enabled on this server")
			return
		}
		s.proxyAuth.AuthRequest(w, r)
	})
}

// Authenticate returns who a credential signs in: an access token (checked against the
// revocations like every bearer token) or, without one, the secret of a session cookie. With
// neither it returns gatehouse.ErrTokenMissing; a dead credential gives the error the API
// would answer (invalid_token, token_expired, session_expired), a failing store
// gatehouse.ErrUnavailable.
func (s *Server) Authenticate(ctx context.Context, bearer, session string) (gatehouse.Principal, error) {
	a := authPool.Get().(*gatehouse.Auth)
	defer putAuth(a)
	switch {
	case bearer != "":
		if err := s.authenticateToken(ctx, bearer, a); err != nil {
			return gatehouse.Principal{}, err
		}
		return a.Principal, nil
	case session != "":
		sess, err := s.Sessions.Authenticate(ctx, session)
		if err != nil {
			return gatehouse.Principal{}, err
		}
		return sess.User, nil
	}
	return gatehouse.Principal{}, gatehouse.ErrTokenMissing
}
