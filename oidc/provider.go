// Package oidc is gatehouse's OpenID Provider: other applications (clients, registered in
// gatehouse's client store) send users to it to sign in, and get back an authorization code,
// then an ID token and an access token for the userinfo endpoint. It is built on the OpenID
// Certified provider library github.com/zitadel/oidc/v3 (package op) over gatehouse's stores,
// sign-in page and signing keys.
//
// What it implements: the authorization code flow (response_type=code) with PKCE S256,
// required for public clients, every authorization response carrying iss (RFC 9207);
// confidential clients authenticate with client_secret_basic or client_secret_post; ID tokens
// (iss, sub, aud, exp, iat, auth_time, nonce, sid, amr, acr, at_hash) signed by the key that
// signs gatehouse's access tokens (EdDSA or ES256, in its JWKS) or by an RS256 key; the
// userinfo endpoint; consent; refresh tokens for clients; end-session and back-channel
// logout.
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
	consentPath   = "/oidc/consent"
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
	// IDTokenAlg is the default algorithm of ID tokens: the key set's signing algorithm (the
	// default) or one of its extra algorithms (RS256). A client's IDTokenAlg overrides it.
	IDTokenAlg string
	// Consent renders the consent page (package web's); required.
	Consent func(w http.ResponseWriter, r *http.Request, v ghttp.ConsentView)
}

// Provider is a mounted OpenID Provider.
type Provider struct {
	// op is the library's provider with iss added to its authorization responses.
	op    *issuerResponses
	h     http.Handler
	flows *flows
	// backchannel delivers logout tokens to clients.
	backchannel *backchannel
	grants      gatehouse.GrantStore
	now         func() time.Time
	consent     func(w http.ResponseWriter, r *http.Request, v ghttp.ConsentView)
	api         *ghttp.Server
	authn       *authn.Service
	users       gatehouse.UserStore
	clients     gatehouse.ClientStore
	log         *slog.Logger
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
	if cfg.Flows == nil || cfg.Refresh == nil || cfg.Grants == nil || cfg.Consent == nil {
		return nil, errors.New("oidc: the stores of requests, refresh tokens and grants, and the consent page, are required")
	}
	if cfg.IDTokenAlg == "" {
		cfg.IDTokenAlg = cfg.Keys.SigningAlg()
	}
	if !slices.Contains(idTokenAlgs(cfg.Keys), cfg.IDTokenAlg) {
		return nil, fmt.Errorf("oidc: the key set has no %s key for ID tokens", cfg.IDTokenAlg)
	}
	issuer := uses.Tokens().Issuer()
	fl := newFlows(cfg.Flows, cfg.Now)
	st := &storage{clients: cfg.Clients, users: cfg.Users, keys: cfg.Keys, flows: fl, uses: uses, refresh: cfg.Refresh, grants: cfg.Grants, now: cfg.Now, tokenTTL: cfg.TokenTTL, idTokenAlg: cfg.IDTokenAlg,
		signOutBrowser: s.SignOutBrowser}
	opts := []op.Option{
		op.WithAccessTokenVerifierOpts(op.WithSupportedAccessTokenSigningAlgorithms(idTokenAlgs(cfg.Keys)...)),
		op.WithCustomAuthEndpoint(op.NewEndpoint(AuthorizePath)),
		op.WithCustomTokenEndpoint(op.NewEndpoint(TokenPath)),
		op.WithCustomUserinfoEndpoint(op.NewEndpoint(UserinfoPath)),
		op.WithCustomEndSessionEndpoint(op.NewEndpoint(EndSessionPath)),
		op.WithIDTokenHintVerifierOpts(op.WithSupportedIDTokenHintSigningAlgorithms(idTokenAlgs(cfg.Keys)...)),
		op.WithLogger(cfg.Logger),
		// No CORS from the library: its default reflects any origin with credentials. The
		// token and userinfo endpoints allow the public clients' origins (corsOrigins), the
		// public documents any origin, the rest none.
		op.WithCORSOptions(nil),
	}
	if strings.HasPrefix(issuer, "http://") {
		opts = append(opts, op.WithAllowInsecure())
	}
	p, err := op.NewOpenIDProvider(issuer, &op.Config{
		CryptoKey: cfg.CryptoKey, CodeMethodS256: true, AuthMethodPost: true, GrantTypeRefreshToken: true,
		DefaultLogoutRedirectURI: "/?msg=signed-out",
		SupportedScopes:          gatehouse.ClientScopes,
	}, st, opts...)
	if err != nil {
		return nil, fmt.Errorf("oidc: %w", err)
	}
	bc := &backchannel{issuer: issuer, keys: cfg.Keys, clients: cfg.Clients, grants: cfg.Grants, uses: uses,
		client: &http.Client{Timeout: backchannelTimeout, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		now:    cfg.Now, log: cfg.Logger, alg: cfg.IDTokenAlg, slots: make(chan struct{}, backchannelConcurrency)}
	uses.OnSignOut(bc.notify)
	// The routes are the library's own (op.CreateRouter, as NewOpenIDProvider builds them:
	// no interceptors are configured), over the provider that adds iss.
	withIss := newIssuerResponses(p, issuer)
	pv := &Provider{op: withIss, backchannel: bc, h: op.CreateRouter(withIss), flows: fl, grants: cfg.Grants, now: cfg.Now, consent: cfg.Consent, api: s, authn: uses, users: cfg.Users, clients: cfg.Clients, log: cfg.Logger}
	for _, m := range []string{"GET", "POST"} {
		s.Handle(m, AuthorizePath, pv.serveAuthorize)
		s.Handle(m, UserinfoPath, pv.serveUserinfo)
	}
	s.Handle("OPTIONS", UserinfoPath, s.CORSPreflight("GET, POST"))
	s.Handle("GET", EndSessionPath, pv.serveEndSession)
	s.Handle("POST", EndSessionPath, pv.serveEndSession)
	s.Handle("GET", callbackPath, pv.serveOP)
	s.Handle("GET", loginPath, pv.handleLogin)
	s.Handle("POST", consentPath, pv.handleConsent)
	s.SetOpenIDProvider(ghttp.OpenIDProvider{
		AuthorizationEndpoint: AuthorizePath, UserinfoEndpoint: UserinfoPath, EndSessionEndpoint: EndSessionPath,
		Scopes: gatehouse.ClientScopes, CodeGrant: http.HandlerFunc(pv.serveToken),
		ClientRefreshToken: IsClientRefreshToken, IDTokenAlgs: idTokenAlgs(cfg.Keys),
		CORSOrigin:                    (&corsOrigins{clients: cfg.Clients, now: cfg.Now}).allowed,
		IssuerInAuthorizationResponse: true,
	})
	return pv, nil
}

func (p *Provider) serveOP(w http.ResponseWriter, r *http.Request) { p.h.ServeHTTP(w, r) }

// serveUserinfo is the userinfo endpoint, readable by the browser pages of public clients.
func (p *Provider) serveUserinfo(w http.ResponseWriter, r *http.Request) {
	p.api.AllowClientOrigin(w, r)
	p.h.ServeHTTP(w, r)
}

// serveAuthorize checks the redirect URI with gatehouse's rule (gatehouse.Client's
// RedirectURIAllowed) before the library sees the request: a URI that is not registered gets
// an error page, never a redirect, so that the endpoint cannot be used to redirect anywhere.
// A state or nonce that could not come back exactly (checkEchoed) gets an error page too.
func (p *Provider) serveAuthorize(w http.ResponseWriter, r *http.Request) {
	r.Body = http.MaxBytesReader(w, r.Body, ghttp.MaxBodyBytes)
	if err := r.ParseForm(); err != nil {
		http.Error(w, "malformed request", http.StatusBadRequest)
		return
	}
	if msg := checkEchoed(r.Form); msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
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
	id := r.Form.Get("client_id")
	if u, _, ok := r.BasicAuth(); ok {
		if un, err := url.QueryUnescape(u); err == nil {
			id = un
		}
	}
	r2 := r.Clone(context.WithValue(r.Context(), clientKey{}, id))
	r2.URL.Path, r2.URL.RawPath = TokenPath, ""
	p.h.ServeHTTP(w, r2)
}

// WaitBackchannel blocks until the back-channel logout deliveries started so far ended.
func (p *Provider) WaitBackchannel() { p.backchannel.wait() }
