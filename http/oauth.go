package http

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"mime"
	"net/http"
	"net/url"

	"github.com/gatehouse-auth/gatehouse"
)

// The OAuth 2.0 endpoints (/oauth2/token, /oauth2/introspect, /oauth2/revoke) speak the
// protocol of their RFCs rather than gatehouse's JSON API: form-encoded requests, and errors
// as {"error": "<RFC 6749 code>", "error_description": "..."}.

// OAuth error codes (RFC 6749 section 5.2, RFC 6750 section 3.1, RFC 7009 section 2.2.1).
const (
	oauthInvalidRequest       = "invalid_request"
	oauthInvalidClient        = "invalid_client"
	oauthInvalidGrant         = "invalid_grant"
	oauthInvalidScope         = "invalid_scope"
	oauthUnsupportedGrantType = "unsupported_grant_type"
	oauthInvalidToken         = "invalid_token"
	oauthInsufficientScope    = "insufficient_scope"
	oauthUnavailable          = "temporarily_unavailable"
)

// oauthError is an OAuth error answer: status, code and a description for humans.
type oauthError struct {
	status int
	Code   string `json:"error"`
	Desc   string `json:"error_description,omitempty"`
	// challenge is the WWW-Authenticate value(s) of a 401.
	challenge []string
}

func (e *oauthError) Error() string { return e.Code + ": " + e.Desc }

func invalidRequest(desc string) *oauthError {
	return &oauthError{status: http.StatusBadRequest, Code: oauthInvalidRequest, Desc: desc}
}

// oauthFromErr maps a gatehouse error met while serving an OAuth request: a store that is
// down is 503 temporarily_unavailable (fail closed); anything else unexpected is logged and
// becomes a 500 without detail.
func (s *Server) oauthFromErr(r *http.Request, err error) *oauthError {
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EUNAVAILABLE:
		s.log.WarnContext(r.Context(), "unavailable", "method", r.Method, "path", r.URL.Path, "err", err)
		return &oauthError{status: http.StatusServiceUnavailable, Code: oauthUnavailable, Desc: gatehouse.ErrorMessage(err)}
	case gatehouse.ETOOLARGE:
		return &oauthError{status: http.StatusRequestEntityTooLarge, Code: oauthInvalidRequest, Desc: gatehouse.ErrorMessage(err)}
	}
	s.log.ErrorContext(r.Context(), "internal error", "method", r.Method, "path", r.URL.Path, "err", err)
	return &oauthError{status: http.StatusInternalServerError, Code: "server_error", Desc: "internal error"}
}

// writeOAuthError answers with e. OAuth responses are never cached (RFC 6749 section 5.1).
func (s *Server) writeOAuthError(w http.ResponseWriter, e *oauthError) {
	h := w.Header()
	for _, c := range e.challenge {
		h.Add("WWW-Authenticate", c)
	}
	if e.status == http.StatusServiceUnavailable {
		h.Set("Retry-After", "1")
	}
	h.Set("Pragma", "no-cache")
	writeJSON(w, e.status, e)
}

// oauthForm reads the form-encoded body of an OAuth request: Content-Type must be
// application/x-www-form-urlencoded, the body at most MaxBodyBytes, and no parameter may
// appear twice (RFC 6749 section 3.2). Parameters in the query string are ignored: tokens
// and credentials do not belong in URLs.
func oauthForm(w http.ResponseWriter, r *http.Request) (url.Values, *oauthError) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("the body must be application/x-www-form-urlencoded")
	}
	r.Body = http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, &oauthError{status: http.StatusRequestEntityTooLarge, Code: oauthInvalidRequest, Desc: "the request body is too large"}
		}
		return nil, invalidRequest("malformed form body")
	}
	for name, vals := range r.PostForm {
		if len(vals) > 1 {
			return nil, invalidRequest("parameter " + name + " appears more than once")
		}
	}
	return r.PostForm, nil
}

// requiredParam returns the form parameter name, or invalid_request when it is missing or empty.
func requiredParam(form url.Values, name string) (string, *oauthError) {
	v := form.Get(name)
	if v == "" {
		return "", invalidRequest("the " + name + " parameter is required")
	}
	return v, nil
}

// oauthParam parses the request's form body (oauthForm) and returns it with its required
// parameter name. On a bad body or a missing parameter it has answered the OAuth error, and ok
// is false.
func (s *Server) oauthParam(w http.ResponseWriter, r *http.Request, name string) (form url.Values, v string, ok bool) {
	form, e := oauthForm(w, r)
	if e == nil {
		v, e = requiredParam(form, name)
	}
	if e != nil {
		s.writeOAuthError(w, e)
		return nil, "", false
	}
	return form, v, true
}

// Challenges of a 401 from the endpoints that resource servers call.
var (
	basicChallenge  = `Basic realm="gatehouse"`
	bearerChallenge = `Bearer realm="gatehouse"`
)

// resourceServer is an authenticated caller of the introspection endpoint or the revocation
// stream.
type resourceServer struct {
	// desc names the caller in the logs.
	desc string
	// token is the admin access token the caller authenticated with, or nil for the client
	// secret.
	token *gatehouse.Token
}

// authenticateResourceServer checks the credentials of a caller of the introspection endpoint
// or the revocation stream: HTTP Basic with the configured client id and secret, or an admin's
// bearer access token (checked for revocation like any other).
func (s *Server) authenticateResourceServer(r *http.Request) (resourceServer, *oauthError) {
	raw, ok := authorizationHeader(r)
	if !ok {
		return resourceServer{}, &oauthError{status: http.StatusUnauthorized, Code: oauthInvalidClient,
			Desc: "client authentication required", challenge: []string{basicChallenge, bearerChallenge}}
	}
	if tok, ok := parseBearer(raw); ok {
		return s.authenticateAdminBearer(r, tok)
	}
	if id, secret, ok := r.BasicAuth(); ok && s.clientSecretMatches(id, secret) {
		return resourceServer{desc: "client " + s.introspectionClientID()}, nil
	}
	return resourceServer{}, &oauthError{status: http.StatusUnauthorized, Code: oauthInvalidClient,
		Desc: "client authentication failed", challenge: []string{basicChallenge}}
}

func (s *Server) authenticateAdminBearer(r *http.Request, tok string) (resourceServer, *oauthError) {
	a, err := s.Authn.AuthenticateToken(r.Context(), tok)
	if err != nil {
		if gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE {
			return resourceServer{}, s.oauthFromErr(r, err)
		}
		return resourceServer{}, &oauthError{status: http.StatusUnauthorized, Code: oauthInvalidToken, Desc: gatehouse.ErrorMessage(err),
			challenge: []string{bearerChallenge + `, error="invalid_token"`}}
	}
	if !a.Role.Allows(gatehouse.RoleAdmin) {
		return resourceServer{}, &oauthError{status: http.StatusForbidden, Code: oauthInsufficientScope, Desc: "this needs the admin role",
			challenge: []string{bearerChallenge + `, error="insufficient_scope"`}}
	}
	return resourceServer{desc: "admin " + a.UserID, token: a.Token}, nil
}

// introspectionClientID is the configured client id (default "resource-server").
func (s *Server) introspectionClientID() string {
	if s.cfg.IntrospectionClientID != "" {
		return s.cfg.IntrospectionClientID
	}
	return DefaultIntrospectionClientID
}

// DefaultIntrospectionClientID is the client id of Config.IntrospectionSecret when
// Config.IntrospectionClientID is empty.
const DefaultIntrospectionClientID = "resource-server"

// clientSecretMatches compares the presented Basic credentials with the configured ones in
// constant time (as SHA-256 digests, so that lengths leak nothing). RFC 6749 section 2.3.1
// form-encodes the id and secret inside the Basic header, which many clients forget to do: both
// the raw and the decoded spelling are accepted.
func (s *Server) clientSecretMatches(id, secret string) bool {
	if s.cfg.IntrospectionSecret == "" {
		return false
	}
	if credentialsEqual(id, s.introspectionClientID(), secret, s.cfg.IntrospectionSecret) {
		return true
	}
	uid, err1 := url.QueryUnescape(id)
	usecret, err2 := url.QueryUnescape(secret)
	return err1 == nil && err2 == nil && credentialsEqual(uid, s.introspectionClientID(), usecret, s.cfg.IntrospectionSecret)
}

func credentialsEqual(id, wantID, secret, wantSecret string) bool {
	a, b := sha256.Sum256([]byte(id)), sha256.Sum256([]byte(wantID))
	c, d := sha256.Sum256([]byte(secret)), sha256.Sum256([]byte(wantSecret))
	return subtle.ConstantTimeCompare(a[:], b[:])&subtle.ConstantTimeCompare(c[:], d[:]) == 1
}
