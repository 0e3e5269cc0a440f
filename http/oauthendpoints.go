package http

import (
	"net/http"
	"strconv"

	"github.com/gatehouse-auth/gatehouse"
)

// introspection is the RFC 7662 answer for an active access token. Times are whole seconds.
// token_type is "Bearer", the RFC 6749 section 5.1 type RFC 7662 asks for; token_use says
// which kind of token it is.
type introspection struct {
	Active    bool           `json:"active"`
	Subject   string         `json:"sub"`
	Username  string         `json:"username"`
	Name      string         `json:"name,omitempty"`
	Email     string         `json:"email,omitempty"`
	Role      gatehouse.Role `json:"role"`
	Expires   int64          `json:"exp"`
	IssuedAt  int64          `json:"iat"`
	ID        string         `json:"jti"`
	Issuer    string         `json:"iss"`
	Audience  string         `json:"aud"`
	TokenType string         `json:"token_type"`
	TokenUse  string         `json:"token_use"`
	Family    string         `json:"sid,omitempty"`
}

// inactive is the whole answer for any token that is not an active access token.
type inactive struct {
	Active bool `json:"active"`
}

// handleIntrospect is RFC 7662 token introspection. The caller must authenticate (see
// authenticateResourceServer). An access token that verifies and is not revoked (by jti or by
// its user's not-before time) is described; everything else (expired, revoked, malformed,
// oversized, signed by an unknown key, and refresh tokens, which resource servers never
// receive and which introspection must not turn into an oracle) is exactly {"active": false}.
// A revocation store that cannot answer gives 503: never an "active" guess.
func (s *Server) handleIntrospect(w http.ResponseWriter, r *http.Request) {
	if _, e := s.authenticateResourceServer(r); e != nil {
		s.writeOAuthError(w, e)
		return
	}
	_, raw, ok := s.oauthParam(w, r, "token")
	if !ok {
		return
	}
	if !looksLikeJWT(raw) {
		writeJSON(w, http.StatusOK, inactive{})
		return
	}
	t, err := s.Tokens.Verify(raw)
	if err == nil {
		err = s.checkTokenRevocation(r.Context(), t)
	}
	switch {
	case err == nil:
		writeJSON(w, http.StatusOK, s.describe(t))
	case gatehouse.ErrorCode(err) == gatehouse.EUNAVAILABLE:
		s.writeOAuthError(w, s.oauthFromErr(r, err))
	default:
		writeJSON(w, http.StatusOK, inactive{})
	}
}

func (s *Server) describe(t *gatehouse.Token) introspection {
	return introspection{
		Active: true, Subject: t.UserID, Username: t.Username, Name: t.Name, Email: t.Email, Role: t.Role,
		Expires: t.ExpiresAt.Unix(), IssuedAt: t.IssuedAt.Unix(), ID: t.ID,
		Issuer: s.Tokens.Issuer(), Audience: s.Tokens.Audience(),
		TokenType: "Bearer", TokenUse: "access_token", Family: t.Family,
	}
}

// handleRevoke is RFC 7009 token revocation. Possession of the token is the proof: gatehouse's
// clients are public clients with no secret, and whoever holds a token can already use it, so
// letting them kill it gives nothing away. A refresh token kills its whole family; an access
// token is denied by jti until it expires (plus the clock-skew leeway), and its refresh family
// dies with it, as at logout. Unknown, malformed, expired or foreign tokens get 200 like the
// others (RFC 7009 section 2.2). token_type_hint is accepted and not needed: the two kinds of
// token have different shapes.
func (s *Server) handleRevoke(w http.ResponseWriter, r *http.Request) {
	_, raw, ok := s.oauthParam(w, r, "token")
	if !ok {
		return
	}
	var err error
	switch {
	case looksLikeJWT(raw):
		err = s.revokeJWT(r, raw)
	case gatehouse.ValidSecret(raw):
		var found bool
		found, err = s.Refresh.RevokeToken(r.Context(), raw)
		if found {
			s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditTokenRevoked, Outcome: gatehouse.AuditSuccess, Detail: "refresh token (RFC 7009)"})
		}
	}
	if err != nil {
		s.writeOAuthError(w, s.oauthFromErr(r, err))
		return
	}
	h := w.Header()
	h["Cache-Control"] = noStore
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// revokeJWT revokes an access token that gatehouse signed and that can still be accepted;
// anything else needs no revocation.
func (s *Server) revokeJWT(r *http.Request, raw string) error {
	t, err := s.Tokens.Verify(raw)
	if err != nil {
		return nil
	}
	if err := s.revokeAccessToken(r.Context(), t); err != nil {
		return err
	}
	s.audit(r, gatehouse.AuditEvent{Action: gatehouse.AuditTokenRevoked, Outcome: gatehouse.AuditSuccess,
		UserID: t.UserID, Detail: "access token jti " + t.ID + " (RFC 7009)"})
	return nil
}

// handleOAuthToken is the token endpoint (RFC 6749 section 6) for the refresh_token grant, the
// form-encoded twin of POST /api/token/refresh: the refresh token rotates, reuse of a rotated
// one revokes its family. The first token pair comes from POST /api/login. Clients are public
// (token_endpoint_auth_method "none").
func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) {
	form, grant, ok := s.oauthParam(w, r, "grant_type")
	if !ok {
		return
	}
	if grant != "refresh_token" {
		s.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, Code: oauthUnsupportedGrantType, Desc: "only the refresh_token grant is supported"})
		return
	}
	refresh, e := requiredParam(form, "refresh_token")
	if e != nil {
		s.writeOAuthError(w, e)
		return
	}
	if form.Get("scope") != "" {
		s.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, Code: oauthInvalidScope, Desc: "gatehouse tokens have no scopes"})
		return
	}
	if e := s.oauthRefresh(w, r, refresh); e != nil {
		s.writeOAuthError(w, e)
	}
}

func (s *Server) oauthRefresh(w http.ResponseWriter, r *http.Request, refresh string) *oauthError {
	rot, wait, err := s.rotateRefresh(r, refresh)
	switch {
	case wait > 0:
		secs := retryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		s.limiter.limited.WithLabelValues("credential").Inc()
		return &oauthError{status: http.StatusTooManyRequests, Code: oauthInvalidRequest,
			Desc: "too many failed attempts; try again in " + strconv.FormatInt(secs, 10) + " s"}
	case err == nil:
		s.writeTokenPair(w, rot.Issued, rot.RefreshToken)
		return nil
	}
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EINVALIDTOKEN, gatehouse.ETOKENEXPIRED:
		return &oauthError{status: http.StatusBadRequest, Code: oauthInvalidGrant, Desc: gatehouse.ErrorMessage(err)}
	}
	return s.oauthFromErr(r, err)
}
