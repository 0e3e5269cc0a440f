// Package oidc is gatehouse's OpenID Provider: other applications (clients, registered in
// gatehouse's client store) send users to it to sign in, and get back an authorization code,
// then an ID token and an access token for the userinfo endpoint. It is built on the OpenID
// Certified provider library github.com/zitadel/oidc/v3 (package op) over gatehouse's stores,
// sign-in page and signing keys.
//
// What it implements: the authorization code flow (response_type=code) with PKCE S256,
// required for public clients; confidential clients authenticate with client_secret_basic or
// client_secret_post; ID tokens (iss, sub, aud, exp, iat, auth_time, nonce, sid, at_hash)
// signed by the key that signs gatehouse's access tokens (EdDSA or ES256, in its JWKS); the
// userinfo endpoint. Not yet: refresh tokens for clients, consent, end-session, back-channel
// logout, RS256.
//
// Authorization requests, codes and the records of the clients' access tokens live in the
// challenge store given (the user store's: SQLite on one node, PostgreSQL for a cluster), so
// any instance can finish a flow that another began.
package oidc

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	ghttp "github.com/gatehouse-auth/gatehouse/http"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Paths of the provider's endpoints.
const (
	AuthorizePath = "/oidc/authorize"
	TokenPath     = "/oidc/token"
	UserinfoPath  = "/oidc/userinfo"
	loginPath     = "/oidc/login"
	callbackPath  = AuthorizePath + "/callback"
)

// Config is what the provider needs.
type Config struct {
	Clients gatehouse.ClientStore
	Users   gatehouse.UserStore
	Keys    *token.KeySet
	// Flows keeps authorization requests, codes and the records of issued tokens; every
	// instance of a cluster needs the same.
	Flows gatehouse.ChallengeStore
	// Refresh keeps the clients' refresh-token families (with gatehouse's own, so that a
	// sign-out everywhere ends them too). It should have no reuse grace: a client's refresh
	// token rotates strictly.
	Refresh *refresh.Refresher
	// Grants keeps what users granted to clients.
	Grants gatehouse.GrantStore
	// TokenTTL is the lifetime of ID tokens and of the access tokens issued to clients
	// (default 15 minutes).
	TokenTTL time.Duration
	// CryptoKey is the library's key for the codes it builds; crypto/rand when zero. Codes
	// are looked up by hash, never decrypted, so instances need not share it.
	CryptoKey [32]byte
	Logger    *slog.Logger
	Now       func() time.Time
}

// Provider is a mounted OpenID Provider.
type Provider struct {
	op      *op.Provider
	h       http.Handler
	flows   *flows
	grants  gatehouse.GrantStore
	now     func() time.Time
	api     *ghttp.Server
	authn   *authn.Service
	users   gatehouse.UserStore
	clients gatehouse.ClientStore
	log     *slog.Logger
}

// Mount builds the provider and mounts its endpoints on s: the authorization endpoint (and
// the sign-in step behind it), the userinfo endpoint and the authorization_code grant of the
// token endpoint. The discovery document then lists them.
func Mount(s *ghttp.Server, uses *authn.Service, cfg Config) (*Provider, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.TokenTTL <= 0 {
		cfg.TokenTTL = 15 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.CryptoKey == ([32]byte{}) {
		copy(cfg.CryptoKey[:], gatehouse.NewSecret())
	}
	if _, _, _, ok := cfg.Keys.PrivateSigningKey(); !ok {
		return nil, errors.New("oidc: ID tokens need an EdDSA or ES256 signing key (--token-alg), not HS256")
	}
	if cfg.Flows == nil || cfg.Refresh == nil || cfg.Grants == nil {
		return nil, errors.New("oidc: the stores of requests, refresh tokens and grants are required")
	}
	issuer := uses.Tokens().Issuer()
	fl := newFlows(cfg.Flows, cfg.Now)
	st := &storage{clients: cfg.Clients, users: cfg.Users, keys: cfg.Keys, flows: fl, uses: uses, refresh: cfg.Refresh, grants: cfg.Grants, now: cfg.Now, tokenTTL: cfg.TokenTTL}
	opts := []op.Option{
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(cfg.Keys.SigningAlg())),
		op.WithCustomAuthEndpoint(op.NewEndpoint(AuthorizePath)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(TokenPath)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(UserinfoPath)),
		op.WithLogger(cfg.Logger),
	}
	if strings.HasPrefix(issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewOpenIDProvider(issuer, &op.Config{
		CryptoKey: cfg.CryptoKey, CodeMethodS256: true, AuthMethodPost: true, GrantTypeRefreshToken: true,
		SupportedScopes: gatehouse.ClientScopes,
	}, st, opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	pv := &Provider{op: p, h: p.HttpHandler(), flows: fl, grants: cfg.Grants, now: cfg.Now, api: s, authn: uses, users: cfg.Users, clients: cfg.Clients, log: cfg.Logger}
	for _, m := range []string{"GET", "POST"} {
		s.Handle(m, AuthorizePath, pv.serveAuthorize)
		s.Handle(m, UserinfoPath, pv.serveOP)
	}
	s.Handle("GET", callbackPath, pv.serveOP)
	s.Handle("GET", loginPath, pv.handleLogin)
	s.SetOpenIDProvider(ghttp.OpenIDProvider{
		AuthorizationEndpoint: AuthorizePath, UserinfoEndpoint: UserinfoPath,
		Scopes: gatehouse.ClientScopes, CodeGrant: http.HandlerFunc(pv.serveToken),
		ClientRefreshToken: IsClientRefreshToken,
	})
	return pv, nil
}

func (p *Provider) serveOP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

// serveAuthorize checks the redirect URI with gatehouse's rule (gatehouse.Client's
// RedirectURIAllowed) before the library sees the request: a URI that is not registered gets
// an error page, never a redirect, so that the endpoint cannot be used to redirect anywhere.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, ghttp.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if id := r.Form.Get("client_id"); gatehouse.ValidID(id) {
		c, err := p.clients.ClientByID(r.Context(), id)
		switch {
		case err == nil && !c.RedirectURIAllowed(r.Form.Get("redirect_uri")):
			http.Error(w, "the redirect_uri is not registered for this client", http.StatusBadRequest)
			return
		case err != nil && !errors.Is(err, gatehouse.ErrNotFound):
			http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
			return
		}
	}
	p.h.ServeHTTP(w, r)
}

// serveToken answers the authorization_code grant of the token endpoint, which gatehouse's
// token endpoint hands over.
func (p *Provider) serveToken(w http.ResponseWriter, r *http.Request) {
	r2 := r.Clone(r.Context())
	r2.URL.Path, r2.URL.RawPath = TokenPath, ""
	p.h.ServeHTTP(w, r2)
}

// handleLogin is where the authorization endpoint sends the browser: with a live gatehouse
// session (authn.Authenticate on the session cookie) the request is bound to its user and the
// browser goes on to the callback that issues the code; without one, to the sign-in page,
// which comes back here afterwards.
func (p *Provider) handleLogin(w http.ResponseWriter, r *http.Request) {
	id := r.URL.Query().Get("id")
	if !gatehouse.ValidSecret(id) {
		http.Error(w, "unknown or expired sign-in request", http.StatusBadRequest)
		return
	}
	req, found, err := p.flows.request(r.Context(), id)
	switch {
	case err != nil:
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return
	case !found:
		http.Error(w, "unknown or expired sign-in request: go back to the application and start again", http.StatusBadRequest)
		return
	}
	sid, _ := p.api.SessionCookie(r)
	auth, err := p.authn.Authenticate(r.Context(), authn.Credential{SessionID: sid})
	switch code := gatehouse.ErrorCode(err); {
	case err == nil:
	case code == gatehouse.ESESSIONEXPIRED || code == gatehouse.ETOKENMISSING || code == gatehouse.EINSUFFICIENTAUTH:
		// A one-factor session of a user whose role requires two signs in again, with both.
		http.Redirect(w, r, "/?"+url.Values{"next": {loginPath + "?id=" + id}}.Encode(), http.StatusSeeOther)
		return
	default:
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return
	}
	if !p.bind(r.Context(), w, req, auth) {
		return
	}
	http.Redirect(w, r, callbackPath+"?id="+url.QueryEscape(id), http.StatusSeeOther)
}

// bind records the signed-in user in request req, and the user's grant of the request's
// scopes to its client.
func (p *Provider) bind(ctx context.Context, w http.ResponseWriter, req *authRequest, auth gatehouse.Auth) bool {
	id := req.ID
	u, err := p.users.UserByID(ctx, auth.UserID)
	if err != nil || u.Disabled {
		if err != nil && !errors.Is(err, gatehouse.ErrNotFound) {
			http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
			return false
		}
		http.Error(w, "this account cannot sign in", http.StatusForbidden)
		return false
	}
	if err := p.grant(ctx, u.ID, req.ClientID, req.Scopes); err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return false
	}
	ok, err := p.flows.bind(ctx, id, func(r *authRequest) {
		r.Subject = u.ID
		if auth.Session != nil {
			r.AuthTime, r.SessionID = auth.Session.CreatedAt, auth.Session.Handle
		}
	})
	if err != nil {
		http.Error(w, gatehouse.ErrorMessage(err), http.StatusServiceUnavailable)
		return false
	}
	if !ok {
		http.Error(w, "unknown, expired or finished sign-in request", http.StatusBadRequest)
	}
	return ok
}

// grant records that the user grants scopes to the client, widening an existing grant.
func (p *Provider) grant(ctx context.Context, userID, clientID string, scopes []string) error {
	now := p.now()
	g, found, err := p.grants.Grant(ctx, userID, clientID)
	if err != nil {
		return err
	}
	if !found {
		g = &gatehouse.Grant{UserID: userID, ClientID: clientID, CreatedAt: now}
	} else if g.Covers(scopes) {
		return nil
	}
	for _, sc := range scopes {
		if !slices.Contains(g.Scopes, sc) {
			g.Scopes = append(g.Scopes, sc)
		}
	}
	g.UpdatedAt = now
	return p.grants.SaveGrant(ctx, g)
}
