package http

import (
	"net/http"
	"strconv"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
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
	Groups    []string       `json:"groups,omitempty"`
	AMR       []string       `json:"amr,omitempty"`
	ACR       string         `json:"acr,omitempty"`
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
	t, active, err := s.Authn.Introspect(r.Context(), raw)
	switch {
	case err != nil:
		s.writeOAuthError(w, s.oauthFromErr(r, err))
	case active:
		writeJSON(w, http.StatusOK, s.describe(t))
	default:
		writeJSON(w, http.StatusOK, inactive{})
	}
}

func (s *Server) describe(t *gatehouse.Token) introspection {
	return introspection{
		Active: true, Subject: t.UserID, Username: t.Username, Name: t.Name, Email: t.Email, Role: t.Role,
		Expires: t.ExpiresAt.Unix(), IssuedAt: t.IssuedAt.Unix(), ID: t.ID,
		Issuer: s.Authn.Tokens().Issuer(), Audience: s.Authn.Tokens().Audience(),
		TokenType: "Bearer", TokenUse: "access_token", Family: t.Family,
		Groups: t.Groups, AMR: t.AMR.AMR(), ACR: t.AMR.ACR(),
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
	if err := s.Authn.RevokeToken(r.Context(), raw, s.Client(r)); err != nil {
		s.writeOAuthError(w, s.oauthFromErr(r, err))
		return
	}
	h := w.Header()
	h["Cache-Control"] = noStore
	h.Set("Pragma", "no-cache")
	w.WriteHeader(http.StatusOK)
}

// handleOAuthToken is the token endpoint. Its authorization_code grant, and its refresh_token
// grant for a refresh token issued to a client, belong to the OpenID Provider, when one is
// mounted (SetOpenIDProvider). Its refresh_token grant (RFC 6749 section 6) is the
// form-encoded twin of POST /api/token/refresh: the refresh token rotates, reuse of a rotated
// one revokes its family. The first token pair comes from POST /api/login. Clients are public
// (token_endpoint_auth_method "none").
func (s *Server) handleOAuthToken(w http.ResponseWriter, r *http.Request) {
	form, grant, ok := s.oauthParam(w, r, "grant_type")
	if !ok {
		return
	}
	if s.provider != nil && (grant == "authorization_code" ||
		grant == "refresh_token" && s.provider.ClientRefreshToken != nil && s.provider.ClientRefreshToken(form.Get("refresh_token"))) {
		s.provider.CodeGrant.ServeHTTP(w, r)
		return
	}
	if grant != "refresh_token" {
		s.writeOAuthError(w, &oauthError{status: http.StatusBadRequest, Code: oauthUnsupportedGrantType, Desc: s.supportedGrants()})
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

func (s *Server) supportedGrants() string {
	if s.provider != nil {
		return "only the authorization_code and refresh_token grants are supported"
	}
	return "only the refresh_token grant is supported"
}

func (s *Server) oauthRefresh(w http.ResponseWriter, r *http.Request, refresh string) *oauthError {
	res, err := s.Authn.Refresh(r.Context(), refresh, s.Client(r))
	if wait, ok := authn.RetryAfter(err); ok {
		secs := authn.RetryAfterSeconds(wait)
		w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
		s.limited.WithLabelValues("credential").Inc()
		return &oauthError{status: http.StatusTooManyRequests, Code: oauthInvalidRequest,
			Desc: "too many failed attempts; try again in " + strconv.FormatInt(secs, 10) + " s"}
	}
	if err == nil {
		s.writeTokenPair(w, res.TokenPair)
		return nil
	}
	switch gatehouse.ErrorCode(err) {
	case gatehouse.EINVALIDTOKEN, gatehouse.ETOKENEXPIRED:
		return &oauthError{status: http.StatusBadRequest, Code: oauthInvalidGrant, Desc: gatehouse.ErrorMessage(err)}
	}
	return s.oauthFromErr(r, err)
}
