package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/token"
)

// storage is the op.Storage of the provider: clients from gatehouse's client store, users from
// its user store, signing keys from its key set, requests, codes and tokens in memory.
type storage struct {
	clients  gatehouse.ClientStore
	users    gatehouse.UserStore
	keys     *token.KeySet
	mem      *memory
	now      func() time.Time
	tokenTTL time.Duration
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
	r := &authRequest{id: gatehouse.NewSecret(), clientID: c.ID, redirectURI: req.RedirectURI, state: req.State,
		nonce: req.Nonce, scopes: scopes, responseType: req.ResponseType, responseMode: req.ResponseMode, createdAt: s.now()}
	if req.CodeChallenge != "" {
		r.codeChallenge = &oidc.CodeChallenge{Challenge: req.CodeChallenge, Method: oidc.CodeChallengeMethodS256}
	}
	if !s.mem.putRequest(r) {
		return nil, oidc.ErrServerError().WithDescription("too many pending sign-ins, try again later")
	}
	return r, nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	r, ok := s.mem.request(id)
	if !ok {
		return nil, oidc.ErrInvalidRequest().WithDescription("unknown or expired sign-in request")
	}
	return r, nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	r, ok := s.mem.requestByCode(code)
	if !ok {
		return nil, oidc.ErrInvalidGrant().WithDescription("the code is invalid, expired or used")
	}
	return r, nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	if !s.mem.saveCode(id, code) {
		return oidc.ErrInvalidRequest().WithDescription("unknown or expired sign-in request")
	}
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mem.deleteRequest(id)
	return nil
}

// CreateAccessToken issues an opaque access token for the code's user, if that user still
// exists and is not disabled.
func (s *storage) CreateAccessToken(ctx context.Context, req op.TokenRequest) (string, time.Time, error) {
	if _, err := s.activeUser(ctx, req.GetSubject()); err != nil {
		return "", time.Time{}, err
	}
	clientID := ""
	if ar, ok := req.(*authRequest); ok {
		clientID = ar.clientID
	}
	t := &accessToken{id: gatehouse.NewSecret(), clientID: clientID, subject: req.GetSubject(),
		scopes: slices.Clone(req.GetScopes()), expiresAt: s.now().Add(s.tokenTTL)}
	if !s.mem.putToken(t) {
		return "", time.Time{}, oidc.ErrServerError().WithDescription("too many tokens, try again later")
	}
	return t.id, t.expiresAt, nil
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

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType().WithParent(errUnsupported)
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, oidc.ErrUnsupportedGrantType().WithParent(errUnsupported)
}

func (s *storage) TerminateSession(context.Context, string, string) error { return errUnsupported }

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

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	kid, alg, key, ok := s.keys.PrivateSigningKey()
	if !ok {
		return nil, errors.New("oidc: ID tokens need an EdDSA or ES256 signing key, not HS256")
	}
	return signingKey{kid: kid, alg: jose.SignatureAlgorithm(alg), key: key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.SignatureAlgorithm(s.keys.SigningAlg())}, nil
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
// user signed in with.
func (s *storage) SetUserinfoFromRequest(_ context.Context, ui *oidc.UserInfo, req op.IDTokenRequest, _ []string) error {
	if ar, ok := req.(*authRequest); ok && ar.sessionID != "" {
		ui.AppendClaims("sid", ar.sessionID)
	}
	return nil
}

// SetUserinfoFromToken answers the userinfo endpoint: the token must be live and its user
// active.
func (s *storage) SetUserinfoFromToken(ctx context.Context, ui *oidc.UserInfo, tokenID, subject, _ string) error {
	t, ok := s.mem.token(tokenID)
	if !ok || t.subject != subject {
		return oidc.ErrAccessDenied().WithDescription("the access token is invalid or expired")
	}
	u, err := s.activeUser(ctx, t.subject)
	if err != nil {
		return oidc.ErrAccessDenied().WithDescription("the user is disabled or gone")
	}
	setClaims(ui, u, t.scopes)
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errUnsupported
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
