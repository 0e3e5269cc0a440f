package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/token"
)

// storage is the op.Storage of the provider: clients from gatehouse's client store, users from
// its user store, signing keys from its key set, requests, codes and the records of issued
// tokens in its challenge store (flows), revocations through the authn use cases.
type storage struct {
	clients  gatehouse.ClientStore
	users    gatehouse.UserStore
	keys     *token.KeySet
	flows    *flows
	uses     *authn.Service
	refresh  *refresh.Refresher
	grants   gatehouse.GrantStore
	now      func() time.Time
	tokenTTL time.Duration
	// idTokenAlg is the server's default ID-token algorithm.
	idTokenAlg string
	// signOutBrowser clears the session cookie (the end-session endpoint).
	signOutBrowser func(http.ResponseWriter)
}

var _ op.Storage = (*storage)(nil)

// errUnsupported answers the grants and features the provider does not implement.
var errUnsupported = errors.New("not supported")

func (s *storage) client(ctx context.Context, id string) (*gatehouse.Client, error) {
	if !gatehouse.ValidID(id) {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	c, err := s.clients.ClientByID(ctx, id)
	if errors.Is(err, gatehouse.ErrNotFound) {
		return nil, oidc.ErrInvalidClient().WithDescription("unknown client")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithDescription("the client store is unavailable").WithParent(err)
	}
	return c, nil
}

// CreateAuthRequest keeps a validated authorization request. It adds gatehouse's rules to the
// library's: the redirect URI matches the client's exactly (RFC 8252 loopback ports aside),
// a public client must use PKCE, only S256 is accepted, and scopes the client is not allowed
// are dropped.
func (s *storage) CreateAuthRequest(ctx context.Context, req *oidc.AuthRequest, _ string) (op.AuthRequest, error) {
	c, err := s.client(ctx, req.ClientID)
	if err != nil {
		return nil, err
	}
	if !c.RedirectURIAllowed(req.RedirectURI) {
		return nil, oidc.ErrInvalidRequestRedirectURI().WithDescription("the redirect_uri is not registered for this client")
	}
	if req.CodeChallenge != "" && req.CodeChallengeMethod != oidc.CodeChallengeMethodS256 {
		return nil, oidc.ErrInvalidRequest().WithDescription("code_challenge_method must be S256")
	}
	if c.Public && req.CodeChallenge == "" {
		return nil, oidc.ErrInvalidRequest().WithDescription("a public client must use PKCE (code_challenge with S256)")
	}
	var scopes []string
	for _, sc := range req.Scopes {
		if c.AllowsScope(sc) && !slices.Contains(scopes, sc) {
			scopes = append(scopes, sc)
		}
	}
	r := &authRequest{ID: gatehouse.NewSecret(), ClientID: c.ID, RedirectURI: req.RedirectURI, State: req.State,
		Nonce: req.Nonce, Scopes: scopes, ResponseType: req.ResponseType, ResponseMode: req.ResponseMode, CreatedAt: s.now(),
		Prompt: req.Prompt, MaxAge: req.MaxAge, LoginHint: req.LoginHint}
	if req.CodeChallenge != "" {
		r.CodeChallenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
	}
	switch err := s.flows.putRequest(ctx, r); {
	case errors.Is(err, errFull):
		return nil, oidc.ErrServerError().WithDescription("too many pending sign-ins, try again later")
	case err != nil:
		return nil, unavailable(err)
	}
	return r, nil
}

// unavailable answers a store failure: the flow cannot go on, and nothing was decided.
func unavailable(err error) error {
	return oidc.ErrServerError().WithDescription("the store is unavailable, try again later").WithParent(err)
}

func (s *storage) AuthRequestByID(ctx context.Context, id string) (op.AuthRequest, error) {
	if !gatehouse.ValidSecret(id) {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired sign-in request")
	}
	r, found, err := s.flows.request(ctx, id)
	if err != nil {
		return nil, unavailable(err)
	}
	if !found {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired sign-in request")
	}
	return r, nil
}

// AuthRequestByCode finds the request of a fresh code. A code that was exchanged already is
// a replay (the code leaked, or the client is confused): what its exchange issued is revoked.
func (s *storage) AuthRequestByCode(ctx context.Context, code string) (op.AuthRequest, error) {
	r, used, err := s.flows.requestByCode(ctx, code)
	switch {
	case err != nil:
		return nil, unavailable(err)
	case used != nil:
		s.revokeExchange(ctx, used)
		return nil, oidc.ErrInvalidGrant().WithDescription("the code was used already; what it issued is revoked")
	case r == nil:
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, expired or used")
	}
	return r, nil
}

// revokeExchange revokes what the exchange of a replayed code issued.
func (s *storage) revokeExchange(ctx context.Context, u *usedCode) {
	err := s.uses.RevokeAccessToken(ctx, u.Token, u.Expires)
	if err == nil && u.Family != "" {
		err = s.refresh.RevokeFamily(ctx, u.Family)
	}
	if err != nil {
		s.uses.Logger().Warn("revoking the tokens of a replayed code", "client_id", u.ClientID, "err", err)
		return
	}
	s.uses.Logger().Warn("a code was replayed; its tokens are revoked", "client_id", u.ClientID, "user_id", u.Subject)
}

func (s *storage) SaveAuthCode(ctx context.Context, id, code string) error {
	ok, err := s.flows.saveCode(ctx, id, code)
	if err != nil {
		return unavailable(err)
	}
	if !ok {
		return oidc.ErrInvalidRequest().WithDescription("unknown or expired sign-in request")
	}
	return nil
}

// DeleteAuthRequest removes a request that did not get a code (one that did was taken then).
func (s *storage) DeleteAuthRequest(ctx context.Context, id string) error {
	if gatehouse.ValidSecret(id) {
		_, _, _ = s.flows.take(ctx, id)
	}
	return nil
}

// CreateAccessToken issues an access token (a JWT the library signs, whose jti it returns
// here) for the request's user, if that user still exists and is not disabled. For a code it
// first claims the code: of concurrent exchanges one wins, and a later one is a replay.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	if _, err := s.activeUser(ctx, req.GetSubject()); err != nil {
		return "", time.Time{}, err
	}
	now := s.now()
	jti, exp := gatehouse.NewID(now), now.Add(s.tokenTTL)
	clientID := ""
	if ar, ok := req.(*authRequest); ok {
		clientID = ar.ClientID
		if err := s.claim(ctx, ar, &usedCode{Token: jti, Subject: ar.Subject, ClientID: clientID, Expires: exp}); err != nil {
			return "", time.Time{}, err
		}
	}
	t := &issuedToken{ClientID: clientID, Subject: req.GetSubject(), Scopes: slices.Clone(req.GetScopes())}
	if ar, ok := req.(*authRequest); ok {
		t.Grant = ar.Grant
	}
	if err := s.flows.putToken(ctx, jti, t, exp); err != nil {
		return "", time.Time{}, unavailable(err)
	}
	return jti, exp, nil
}

// claim spends the code of ar, recording what its exchange issues.
func (s *storage) claim(ctx context.Context, ar *authRequest, u *usedCode) error {
	if ar.code == "" {
		return oidc.ErrInvalidGrant().WithDescription("the code is invalid, expired or used")
	}
	won, err := s.flows.claimCode(ctx, ar.code, u)
	switch {
	case errors.Is(err, gatehouse.ErrConflict):
		if won != nil {
			s.revokeExchange(ctx, won)
		}
		return oidc.ErrInvalidGrant().WithDescription("the code was used already; what it issued is revoked")
	case err != nil:
		return unavailable(err)
	}
	return nil
}

// activeUser returns the user id if it exists and is not disabled; invalid_grant otherwise.
func (s *storage) activeUser(ctx context.Context, id string) (*gatehouse.User, error) {
	u, err := s.users.UserByID(ctx, id)
	if errors.Is(err, gatehouse.ErrNotFound) || err == nil && u.Disabled {
		return nil, oidc.ErrInvalidGrant().WithDescription("the user is disabled or gone")
	}
	if err != nil {
		return nil, oidc.ErrServerError().WithDescription("the user store is unavailable").WithParent(err)
	}
	return u, nil
}

func (s *storage) RevokeToken(context.Context, string, string, string) *oidc.Error {
	return oidc.ErrUnsupportedGrantType().WithDescription("revocation of provider tokens is not supported")
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

// signingKey is gatehouse's current signing key, as the library wants it.
type signingKey struct {
	kid string
	alg jose.SignatureAlgorithm
	key any
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return k.alg }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.kid }

// clientKey is the context key of the client a token request names (serveToken sets it), so
// that SigningKey signs with the client's ID-token algorithm.
type clientKey struct{}

// SigningKey is the key of the requesting client's id_token_signed_response_alg, or of the
// server's default: the ID token and the access token of a token request are signed with it.
func (s *storage) SigningKey(ctx context.Context) (op.SigningKey, error) {
	alg := s.idTokenAlg
	if id, _ := ctx.Value(clientKey{}).(string); id != "" {
		if c, err := s.client(ctx, id); err == nil && c.IDTokenAlg != "" {
			alg = c.IDTokenAlg
		}
	}
	kid, key, ok := s.keys.PrivateSigningKeyFor(alg)
	if !ok {
		return nil, oidc.ErrServerError().WithDescription("the server has no %s key for ID tokens", alg)
	}
	return signingKey{kid: kid, alg: jose.SignatureAlgorithm(alg), key: key}, nil
}

// idTokenAlgs are the algorithms ID tokens may be signed with: the signing algorithm and the
// key set's extra ones (RS256).
func idTokenAlgs(keys *token.KeySet) []string {
	return append([]string{keys.SigningAlg()}, keys.ExtraAlgs()...)
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	var out []jose.SignatureAlgorithm
	for _, a := range idTokenAlgs(s.keys) {
		out = append(out, jose.SignatureAlgorithm(a))
	}
	return out, nil
}

// publicKey is a key of gatehouse's JWKS, as the library wants it.
type publicKey struct{ jose.JSONWebKey }

func (k publicKey) ID() string { return k.KeyID }
func (k publicKey) Algorithm() jose.SignatureAlgorithm {
	return jose.SignatureAlgorithm(k.JSONWebKey.Algorithm)
}
func (k publicKey) Use() string { return k.JSONWebKey.Use }
func (k publicKey) Key() any    { return k.JSONWebKey.Key }

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(s.keys.JWKS(), &set); err != nil {
		return nil, err
	}
	out := make([]op.Key, 0, len(set.Keys))
	for _, k := range set.Keys {
		out = append(out, publicKey{k})
	}
	return out, nil
}

func (s *storage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.client(ctx, id)
	if err != nil {
		return nil, err
	}
	return &client{c: c, ttl: s.tokenTTL}, nil
}

// AuthorizeClientIDSecret checks a confidential client's secret in constant time.
func (s *storage) AuthorizeClientIDSecret(ctx context.Context, id, secret string) error {
	c, err := s.client(ctx, id)
	if err != nil {
		return err
	}
	if !c.VerifySecret(secret) {
		return oidc.ErrInvalidClient().WithDescription("invalid client credentials")
	}
	return nil
}

// setClaims fills userinfo with the claims of scopes.
func setClaims(ui *oidc.UserInfo, u *gatehouse.User, scopes []string) {
	ui.Subject = u.ID
	for _, sc := range scopes {
		switch sc {
		case oidc.ScopeProfile:
			ui.Name = u.Name
			ui.PreferredUsername = u.Username
		case oidc.ScopeEmail:
			ui.Email = u.Email
			if u.Email != "" {
				// Said either way: the library's field drops false, and relying parties such
				// as oauth2-proxy trust an address whose email_verified is absent.
				ui.AppendClaims("email_verified", u.EmailVerified)
			}
		case gatehouse.ScopeGroups:
			ui.AppendClaims("groups", append([]string{}, u.Groups...))
		}
	}
}

func (s *storage) SetUserinfoFromScopes(ctx context.Context, ui *oidc.UserInfo, userID, _ string, scopes []string) error {
	u, err := s.activeUser(ctx, userID)
	if err != nil {
		return err
	}
	setClaims(ui, u, scopes)
	return nil
}

// SetUserinfoFromRequest adds the sid claim: the public handle of the gatehouse session the
// user signed in with. The ID token of a refresh gets the sid and the acr of that sign-in
// too (the library sets acr only for a code's ID token), so that it names the same session
// and the same strength as the first one (OpenID Connect Core 12.2).
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	switch r := req.(type) {
	case *authRequest:
		if r.SessionID != "" {
			ui.AppendClaims("sid", r.SessionID)
		}
	case *refreshRequest:
		if r.grant.SessionID != "" {
			ui.AppendClaims("sid", r.grant.SessionID)
		}
		if acr := gatehouse.ParseAMR(r.grant.AMR).ACR(); acr != "" {
			ui.AppendClaims("acr", acr)
		}
	}
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint for an access token the library
// verified: its record must be live, the token not revoked (by jti, or by a sign-out
// everywhere of its user since it was issued), and its user active.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	denied := oidc.ErrAccessDenied().WithDescription("the access token is invalid, expired or revoked")
	iat, ok := gatehouse.IDTime(tokenID)
	if !ok {
		return denied
	}
	t, found, err := s.flows.token(ctx, tokenID)
	switch {
	case err != nil:
		return unavailable(err)
	case !found || t.Subject != subject:
		return denied
	}
	err = s.uses.CheckToken(ctx, &gatehouse.Token{Principal: gatehouse.Principal{UserID: subject}, ID: tokenID, IssuedAt: iat})
	switch {
	case errors.Is(err, authn.ErrTokenRevoked):
		return denied
	case err != nil:
		return unavailable(err)
	}
	g, found, err := s.grants.Grant(ctx, subject, t.ClientID)
	switch {
	case err != nil:
		return unavailable(err)
	case !found || !sameGrant(g, t.Grant, iat):
		return denied // the user revoked the client's grant since
	}
	u, err := s.activeUser(ctx, t.Subject)
	if err != nil {
		return oidc.ErrAccessDenied().WithDescription("the user is disabled or gone")
	}
	setClaims(ui, u, t.Scopes)
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errUnsupported
}

// GetPrivateClaimsFromRequest adds the granted scope to the access tokens issued to clients
// (RFC 9068, 2.2.3), which the library leaves out.
func (s *storage) GetPrivateClaimsFromRequest(_ context.Context, req op.TokenRequest, _ []string) (map[string]any, error) {
	return map[string]any{"scope": strings.Join(req.GetScopes(), " ")}, nil
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errUnsupported
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errUnsupported
}

func (s *storage) Health(context.Context) error { return nil }
