package http

import (
	"context"
	"net/http"
	"slices"
	"strings"

	"github.com/gatehouse-auth/gatehouse/token"
)

// oauthRoutes mounts the token-interoperability endpoints: discovery, the OAuth 2.0 token,
// introspection and revocation endpoints, and the revocation stream.
func (s *Server) oauthRoutes(handle func(method, path string, h http.HandlerFunc)) {
	handle("GET", "/.well-known/openid-configuration", s.handleDiscovery)
	handle("GET", "/.well-known/oauth-authorization-server", s.handleDiscovery)
	handle("POST", pathToken, s.handleOAuthToken)
	handle("OPTIONS", pathToken, s.CORSPreflight("POST"))
	handle("POST", pathIntrospect, s.handleIntrospect)
	handle("POST", pathRevoke, s.handleRevoke)
	handle("GET", pathRevocationStream, s.handleRevocationStream)
}

// Paths of the interoperability endpoints, as the discovery document names them.
const (
	pathJWKS             = "/.well-known/jwks.json"
	pathToken            = "/oauth2/token"
	pathIntrospect       = "/oauth2/introspect"
	pathRevoke           = "/oauth2/revoke"
	pathRevocationStream = "/api/revocations/stream"
)

// OpenIDProvider is what the discovery document and the token endpoint need to know of an
// OpenID Provider mounted on the server (package oidc): the paths of its endpoints, its
// scopes, and the handler of the token endpoint's authorization_code grant.
type OpenIDProvider struct {
	AuthorizationEndpoint string
	UserinfoEndpoint      string
	// EndSessionEndpoint is RP-initiated logout; the provider also sends back-channel logout
	// tokens (with sid).
	EndSessionEndpoint string
	Scopes             []string
	// CodeGrant answers a token request with grant_type=authorization_code, and one with
	// grant_type=refresh_token whose token ClientRefreshToken claims.
	CodeGrant http.Handler
	// ClientRefreshToken reports whether a refresh token is one the provider issued to a
	// client; nil: none is.
	ClientRefreshToken func(string) bool
	// IDTokenAlgs are the algorithms ID tokens may be signed with; the discovery document
	// adds them to id_token_signing_alg_values_supported.
	IDTokenAlgs []string
	// CORSOrigin reports whether a browser page of origin may call the token and userinfo
	// endpoints (AllowClientOrigin); nil: none may.
	CORSOrigin func(ctx context.Context, origin string) bool
	// IssuerInAuthorizationResponse reports that every authorization response (code or
	// error) carries iss (RFC 9207); the document then says so.
	IssuerInAuthorizationResponse bool
}

// SetOpenIDProvider makes the discovery document advertise p and the token endpoint hand the
// authorization_code grant to it. Call it before serving.
func (s *Server) SetOpenIDProvider(p OpenIDProvider) { s.provider = &p }

// discoveryDocument is the authorization server metadata (RFC 8414), served at both the OpenID
// Connect discovery path and the RFC 8414 path. Without an OpenID Provider, gatehouse has no
// authorization endpoint (logins go through /api/login), so response_types_supported is
// empty and tokens come from the token endpoint's refresh_token grant; with one, the document
// adds the authorization code flow with PKCE S256 and the userinfo endpoint. The signing
// algorithms are listed under id_token_signing_alg_values_supported: ID tokens use them, and
// OIDC libraries pick their allowed algorithms for access tokens from it too.
type discoveryDocument struct {
	Issuer                   string   `json:"issuer"`
	JWKSURI                  string   `json:"jwks_uri"`
	TokenEndpoint            string   `json:"token_endpoint"`
	IntrospectionEndpoint    string   `json:"introspection_endpoint"`
	RevocationEndpoint       string   `json:"revocation_endpoint"`
	GrantTypes               []string `json:"grant_types_supported"`
	ResponseTypes            []string `json:"response_types_supported"`
	SubjectTypes             []string `json:"subject_types_supported"`
	SigningAlgs              []string `json:"id_token_signing_alg_values_supported"`
	TokenAuthMethods         []string `json:"token_endpoint_auth_methods_supported"`
	IntrospectionAuthMethods []string `json:"introspection_endpoint_auth_methods_supported,omitempty"`
	RevocationAuthMethods    []string `json:"revocation_endpoint_auth_methods_supported"`
	Claims                   []string `json:"claims_supported"`
	AuthorizationEndpoint    string   `json:"authorization_endpoint,omitempty"`
	UserinfoEndpoint         string   `json:"userinfo_endpoint,omitempty"`
	EndSessionEndpoint       string   `json:"end_session_endpoint,omitempty"`
	BackchannelLogout        bool     `json:"backchannel_logout_supported,omitempty"`
	BackchannelLogoutSession bool     `json:"backchannel_logout_session_supported,omitempty"`
	Scopes                   []string `json:"scopes_supported,omitempty"`
	ResponseModes            []string `json:"response_modes_supported,omitempty"`
	CodeChallengeMethods     []string `json:"code_challenge_methods_supported,omitempty"`
	AuthorizationResponseIss bool     `json:"authorization_response_iss_parameter_supported,omitempty"`
	RevocationStreamEndpoint string   `json:"gatehouse_revocation_stream_endpoint"`
	AccessTokenType          string   `json:"gatehouse_access_token_typ"`
	AccessTokenAudience      string   `json:"gatehouse_access_token_audience"`
}

// discovery builds the document from the token service's configuration: every URL is the
// configured issuer followed by the endpoint's path.
func (s *Server) discovery() discoveryDocument {
	iss := s.Authn.Tokens().Issuer()
	base := strings.TrimSuffix(iss, "/")
	// An admin's bearer token is accepted too; it has no registered method name.
	var introspectAuth []string
	if s.cfg.IntrospectionSecret != "" {
		introspectAuth = []string{"client_secret_basic"}
	}
	d := discoveryDocument{
		Issuer:                   iss,
		JWKSURI:                  base + pathJWKS,
		TokenEndpoint:            base + pathToken,
		IntrospectionEndpoint:    base + pathIntrospect,
		RevocationEndpoint:       base + pathRevoke,
		GrantTypes:               []string{"refresh_token"},
		ResponseTypes:            []string{},
		SubjectTypes:             []string{"public"},
		SigningAlgs:              s.Authn.Tokens().Algorithms(),
		TokenAuthMethods:         []string{"none"},
		IntrospectionAuthMethods: introspectAuth,
		RevocationAuthMethods:    []string{"none"},
		Claims:                   []string{"sub", "username", "name", "email", "role", "iss", "aud", "iat", "nbf", "exp", "jti", "sid"},
		RevocationStreamEndpoint: base + pathRevocationStream,
		AccessTokenType:          token.TypAccessToken,
		AccessTokenAudience:      s.Authn.Tokens().Audience(),
	}
	if p := s.provider; p != nil {
		d.AuthorizationEndpoint = base + p.AuthorizationEndpoint
		d.UserinfoEndpoint = base + p.UserinfoEndpoint
		d.EndSessionEndpoint = base + p.EndSessionEndpoint
		d.BackchannelLogout, d.BackchannelLogoutSession = true, true
		d.Scopes = p.Scopes
		d.GrantTypes = []string{"authorization_code", "refresh_token"}
		d.ResponseTypes = []string{"code"}
		d.ResponseModes = []string{"query"}
		d.CodeChallengeMethods = []string{"S256"}
		d.AuthorizationResponseIss = p.IssuerInAuthorizationResponse
		d.TokenAuthMethods = []string{"none", "client_secret_basic", "client_secret_post"}
		d.Claims = append(d.Claims, "auth_time", "nonce", "at_hash", "preferred_username", "groups")
		d.SigningAlgs = slices.Clone(d.SigningAlgs)
		for _, a := range p.IDTokenAlgs {
			if !slices.Contains(d.SigningAlgs, a) {
				d.SigningAlgs = append(d.SigningAlgs, a)
			}
		}
	}
	return d
}

// handleDiscovery serves the metadata document. It changes only with the configuration, so
// clients may cache it for an hour.
func (s *Server) handleDiscovery(w http.ResponseWriter, r *http.Request) {
	corsPublic(w)
	w.Header().Set("Cache-Control", "public, max-age=3600")
	writeJSON(w, http.StatusOK, s.discovery())
}

// ConsentView is what the consent page shows: an application asks a signed-in user for
// scopes. The OpenID Provider fills it; the pages render it (a form that posts Action with
// RequestID and decision=allow or deny).
type ConsentView struct {
	ClientName string
	ClientID   string
	// Scopes are the scopes asked for that the user has not granted yet, described.
	Scopes    []ScopeView
	RequestID string
	Action    string
	// RedirectOrigin is the origin of the application's redirect URI, where the browser goes
	// after the decision: the page's Content-Security-Policy must allow it as a form-action.
	RedirectOrigin string
}

// ScopeView is a scope as users read it.
type ScopeView struct {
	Name, Description string
}

// corsPublic lets any origin read a public document (discovery, JWKS): it carries no secret
// and no credential is involved.
func corsPublic(w http.ResponseWriter) { w.Header().Set("Access-Control-Allow-Origin", "*") }

// AllowClientOrigin lets a browser page read this answer when its Origin is one the OpenID
// Provider allows (the redirect URIs of its public clients); it reports whether it did. No
// credentials (cookies) are ever allowed cross-origin: these endpoints take bearer tokens and
// form parameters only.
func (s *Server) AllowClientOrigin(w http.ResponseWriter, r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" || s.provider == nil || s.provider.CORSOrigin == nil {
		return false
	}
	h := w.Header()
	h.Add("Vary", "Origin")
	if !s.provider.CORSOrigin(r.Context(), origin) {
		return false
	}
	h.Set("Access-Control-Allow-Origin", origin)
	return true
}

// CORSPreflight answers a CORS preflight (OPTIONS) for an endpoint that browser clients call
// with methods: 204, with the CORS headers only for an allowed origin.
func (s *Server) CORSPreflight(methods string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if s.AllowClientOrigin(w, r) {
			h := w.Header()
			h.Set("Access-Control-Allow-Methods", methods)
			h.Set("Access-Control-Allow-Headers", "Authorization, Content-Type")
			h.Set("Access-Control-Max-Age", "600")
		}
		w.WriteHeader(http.StatusNoContent)
	}
}
