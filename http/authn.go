package http

import (
	"net/http"
	"strings"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/internal/httpauth"
)

// authedHandler is a handler that runs only for an authenticated request.
type authedHandler func(w http.ResponseWriter, r *http.Request, a gatehouse.Auth)

// authed authenticates the request (bearer token first, then the session cookie) through
// authn, checks that its role allows role, refuses cross-origin unsafe requests made with a
// cookie, and calls h. A failed credential counts against the client's address
// (authn.Service.CredentialFailed): over the budget the answer is 429 instead of 401. The
// Auth is passed as an argument rather than through the request's context, which would cost a
// copy of the request on the hot path.
func (s *Server) authed(role gatehouse.Role, h authedHandler) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		a, err := s.authenticate(r)
		if err != nil {
			s.Metrics.authDecision(r, err)
			if wait := s.Authn.CredentialFailed(r.Context(), s.Client(r), err); wait > 0 {
				s.writeRateLimited(w, r, "credential", wait)
				return
			}
			s.writeError(w, r, err)
			return
		}
		s.Metrics.authDecision(r, nil)
		noteAuth(w, &a)
		if a.Method == gatehouse.AuthSession && !isSafeMethod(r.Method) {
			// Cookies ride along on cross-site requests; bearer tokens do not.
			if err := s.CheckOrigin(r); err != nil {
				s.WriteCode(w, r, gatehouse.EFORBIDDEN, "cross-origin request refused")
				return
			}
		}
		if !a.Role.Allows(role) {
			s.WriteCode(w, r, gatehouse.EFORBIDDEN, "this needs the "+string(role)+" role")
			return
		}
		h(w, r, a)
	}
}

func isSafeMethod(m string) bool { return m == "GET" || m == "HEAD" || m == "OPTIONS" }

var errBadAuthorization = gatehouse.Errorf(gatehouse.EINVALIDTOKEN, "the Authorization header must be \"Bearer <token>\"")

// credential reads the request's credential: a bearer token wins over a session cookie.
func (s *Server) credential(r *http.Request) (authn.Credential, error) {
	if raw, ok := authorizationHeader(r); ok {
		tok, ok := parseBearer(raw)
		if !ok {
			return authn.Credential{}, errBadAuthorization
		}
		return authn.Credential{AccessToken: tok}, nil
	}
	secret, _ := s.SessionCookie(r)
	return authn.Credential{SessionID: secret}, nil
}

// authenticate returns who sent r; with no credential, the error is token_missing.
func (s *Server) authenticate(r *http.Request) (gatehouse.Auth, error) {
	c, err := s.credential(r)
	if err != nil {
		return gatehouse.Auth{}, err
	}
	return s.Authn.Authenticate(r.Context(), c)
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

// RegistrationAllowed reports whether anyone may create an account (Config.AllowRegistration):
// the registration page is served only then.
func (s *Server) RegistrationAllowed() bool { return s.cfg.AllowRegistration }

// AccountDeletionAllowed reports whether users may delete their own account
// (Config.AllowAccountDeletion): the account page offers it only then.
func (s *Server) AccountDeletionAllowed() bool { return s.cfg.AllowAccountDeletion }

// SessionCookie returns the value of the session cookie without parsing every cookie of the
// request (r.Cookie allocates a slice of all of them).
func (s *Server) SessionCookie(r *http.Request) (string, bool) {
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
