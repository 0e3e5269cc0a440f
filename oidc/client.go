package oidc

import (
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
)

// client is a registered gatehouse client as the library sees it.
type client struct {
	c   *gatehouse.Client
	ttl time.Duration
}

var _ op.Client = (*client)(nil)

func (c *client) GetID() string                    { return c.c.ID }
func (c *client) RedirectURIs() []string           { return c.c.RedirectURIs }
func (c *client) PostLogoutRedirectURIs() []string { return nil }

// ApplicationType is native for every client, which lets the library accept any port on a
// loopback redirect URI (RFC 8252) like gatehouse does; gatehouse's own, stricter match runs
// first (serveAuthorize) and again in CreateAuthRequest.
func (c *client) ApplicationType() op.ApplicationType { return op.ApplicationTypeNative }

func (c *client) AuthMethod() oidc.AuthMethod {
	if c.c.Public {
		return oidc.AuthMethodNone
	}
	return oidc.AuthMethodBasic
}

func (c *client) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

// GrantTypes are the code and, when the client may ask for offline_access, refresh_token.
func (c *client) GrantTypes() []oidc.GrantType {
	if c.c.AllowsScope(gatehouse.ScopeOfflineAccess) {
		return []oidc.GrantType{oidc.GrantTypeCode, oidc.GrantTypeRefreshToken}
	}
	return []oidc.GrantType{oidc.GrantTypeCode}
}

// LoginURL is where the authorization endpoint sends the browser to sign in.
func (c *client) LoginURL(id string) string { return loginPath + "?id=" + id }

// AccessTokenType is JWT: the token is signed by gatehouse's key set, which every instance
// shares, so any instance's userinfo endpoint accepts it. It names the client as aud and
// client_id, with the granted scope; its type (JWT, not at+jwt) and audience keep gatehouse's
// own API from taking it for one of its access tokens.
func (c *client) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }
func (c *client) IDTokenLifetime() time.Duration      { return c.ttl }
func (c *client) DevMode() bool                       { return false }

func (c *client) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c *client) IsScopeAllowed(scope string) bool     { return c.c.AllowsScope(scope) }
func (c *client) IDTokenUserinfoClaimsAssertion() bool { return false }
func (c *client) ClockSkew() time.Duration             { return 0 }
