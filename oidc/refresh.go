package oidc

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/authn"
	"github.com/gatehouse-auth/gatehouse/refresh"
)

// RefreshPrefix starts every refresh token issued to a client, and no refresh token of
// gatehouse's own: the token endpoint hands a refresh_token grant to the provider by it, and
// gatehouse's own refresh grant refuses such a token (it is not a bare secret), so that a
// client's refresh token can never be turned into one of gatehouse's own access tokens.
const RefreshPrefix = "ghc."

// IsClientRefreshToken reports whether raw is a refresh token issued to a client.
func IsClientRefreshToken(raw string) bool { return strings.HasPrefix(raw, RefreshPrefix) }

// grantRecord is what the provider keeps with a client's refresh-token family (a family of
// package refresh, in gatehouse's refresh store, so that a sign-out everywhere revokes it):
// whose it is and what it was granted, for the ID and access tokens of each refresh.
type grantRecord struct {
	ClientID  string    `json:"client_id"`
	Scopes    []string  `json:"scopes"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	AMR       []string  `json:"amr,omitempty"`
	SessionID string    `json:"sid,omitempty"`
	Grant     time.Time `json:"grant,omitzero"` // authRequest.Grant of the sign-in
}

const purposeFamily = "oidc-family"

func familyHash(id string) gatehouse.Hash { return gatehouse.HashSecret(purposeFamily + ":" + id) }

func (f *flows) putFamily(ctx context.Context, fam *gatehouse.RefreshFamily, g *grantRecord) error {
	return f.put(ctx, familyHash(fam.ID), purposeFamily, g, fam.ExpiresAt)
}

func (f *flows) family(ctx context.Context, id string) (*grantRecord, bool, error) {
	c, found, err := f.store.FindChallenge(ctx, familyHash(id), f.now())
	if err != nil || !found {
		return nil, false, err
	}
	var g grantRecord
	if !decode(c, purposeFamily, &g) {
		return nil, false, nil
	}
	return &g, true, nil
}

// refreshRequest is a refresh_token grant: the presented token, its family and what the
// family was granted. It implements op.RefreshTokenRequest.
type refreshRequest struct {
	secret string // the presented token without RefreshPrefix
	family *gatehouse.RefreshFamily
	grant  *grantRecord
	scopes []string
}

var _ op.RefreshTokenRequest = (*refreshRequest)(nil)

func (r *refreshRequest) GetAMR() []string             { return r.grant.AMR }
func (r *refreshRequest) GetAudience() []string        { return []string{r.grant.ClientID} }
func (r *refreshRequest) GetAuthTime() time.Time       { return r.grant.AuthTime }
func (r *refreshRequest) GetClientID() string          { return r.grant.ClientID }
func (r *refreshRequest) GetScopes() []string          { return r.scopes }
func (r *refreshRequest) GetSubject() string           { return r.family.UserID }
func (r *refreshRequest) SetCurrentScopes(sc []string) { r.scopes = slices.Clone(sc) }
func (r *refreshRequest) GetSessionID() string         { return r.grant.SessionID }
func (r *refreshRequest) invalid(desc string) *oidc.Error {
	return oidc.ErrInvalidGrant().WithDescription("%s", desc)
}

// errUnknownRefresh answers a refresh token that is not a live client's one.
func errUnknownRefresh() *oidc.Error {
	return oidc.ErrInvalidGrant().WithDescription("the refresh token is invalid, expired or revoked")
}

// TokenRequestByRefreshToken finds the family of a client's refresh token without rotating
// it: the library checks the client and the scopes first, then CreateAccessAndRefreshTokens
// rotates. A rotated token is found too; its rotation is then a reuse, which revokes the
// family.
func (s *storage) TokenRequestByRefreshToken(ctx context.Context, raw string) (op.RefreshTokenRequest, error) {
	secret, ok := strings.CutPrefix(raw, RefreshPrefix)
	if !ok || !gatehouse.ValidSecret(secret) {
		return nil, errUnknownRefresh()
	}
	fam, found, err := s.refresh.Family(ctx, secret)
	if err != nil {
		return nil, unavailable(err)
	}
	if !found {
		return nil, errUnknownRefresh()
	}
	g, found, err := s.flows.family(ctx, fam.ID)
	if err != nil {
		return nil, unavailable(err)
	}
	if !found {
		return nil, errUnknownRefresh() // one of gatehouse's own families: not a client's
	}
	return &refreshRequest{secret: secret, family: fam, grant: g, scopes: slices.Clone(g.Scopes)}, nil
}

// CreateAccessAndRefreshTokens issues an access token with a refresh token: for a code whose
// request has offline_access, a new family; for a refresh, the rotation of the presented
// token, after checking that the user may go on (not disabled, not signed out everywhere
// since) and that the client still holds the grant. A rotated token presented again revokes
// its family.
func (s *storage) CreateAccessAndRefreshTokens(ctx context.Context, req op.TokenRequest, _ string) (string, string, time.Time, error) {
	switch r := req.(type) {
	case *authRequest:
		return s.startFamily(ctx, r)
	case *refreshRequest:
		return s.rotate(ctx, r)
	}
	return "", "", time.Time{}, oidc.ErrUnsupportedGrantType()
}

func (s *storage) startFamily(ctx context.Context, r *authRequest) (string, string, time.Time, error) {
	if _, err := s.activeUser(ctx, r.Subject); err != nil {
		return "", "", time.Time{}, err
	}
	secret, fam, err := s.refresh.Start(ctx, r.Subject, gatehouse.ParseAMR(r.AMR))
	if err != nil {
		return "", "", time.Time{}, unavailable(err)
	}
	now := s.now()
	jti, exp := gatehouse.NewID(now), now.Add(s.tokenTTL)
	err = s.claim(ctx, r, &usedCode{Token: jti, Family: fam.ID, Subject: r.Subject, ClientID: r.ClientID, Expires: exp})
	if err == nil {
		err = s.flows.putFamily(ctx, fam, &grantRecord{ClientID: r.ClientID, Scopes: r.Scopes, AuthTime: r.AuthTime, AMR: r.AMR, SessionID: r.SessionID, Grant: r.Grant})
		if err != nil {
			err = unavailable(err)
		}
	}
	if err != nil {
		_ = s.refresh.RevokeFamily(ctx, fam.ID)
		return "", "", time.Time{}, err
	}
	if err := s.flows.putToken(ctx, jti, &issuedToken{ClientID: r.ClientID, Subject: r.Subject, Scopes: r.Scopes, Grant: r.Grant}, exp); err != nil {
		return "", "", time.Time{}, unavailable(err)
	}
	return jti, RefreshPrefix + secret, exp, nil
}

func (s *storage) rotate(ctx context.Context, r *refreshRequest) (string, string, time.Time, error) {
	p, err := s.refresh.Begin(ctx, r.secret)
	switch {
	case errors.Is(err, gatehouse.ErrRefreshReuse):
		s.uses.Logger().Warn("a client's refresh token was used again; its family is revoked", "client_id", r.grant.ClientID, "user_id", r.family.UserID)
		return "", "", time.Time{}, r.invalid("the refresh token was used already; its family is revoked")
	case errors.Is(err, gatehouse.ErrInvalidToken) || errors.Is(err, gatehouse.ErrTokenExpired):
		return "", "", time.Time{}, errUnknownRefresh()
	case err != nil:
		return "", "", time.Time{}, unavailable(err)
	}
	if err := s.mayRefresh(ctx, r); err != nil {
		return "", "", time.Time{}, err
	}
	now := s.now()
	jti, exp := gatehouse.NewID(now), now.Add(s.tokenTTL)
	rot, err := p.Finish(ctx, refresh.Issued{AccessToken: jti, ExpiresAt: exp})
	if err != nil {
		return "", "", time.Time{}, unavailable(err)
	}
	t := &issuedToken{ClientID: r.grant.ClientID, Subject: r.family.UserID, Scopes: r.scopes, Grant: r.grant.Grant}
	if err := s.flows.putToken(ctx, jti, t, exp); err != nil {
		return "", "", time.Time{}, unavailable(err)
	}
	return jti, RefreshPrefix + rot.RefreshToken, exp, nil
}

// mayRefresh checks that the family's user may go on (authn.CheckRefreshFamily revokes the
// family when not) and that the client and its grant still exist.
func (s *storage) mayRefresh(ctx context.Context, r *refreshRequest) error {
	_, err := s.uses.CheckRefreshFamily(ctx, r.family)
	switch {
	case errors.Is(err, authn.ErrRefreshDead):
		return r.invalid("the user is disabled, gone or signed out everywhere")
	case err != nil:
		return unavailable(err)
	}
	if _, err := s.client(ctx, r.grant.ClientID); err != nil {
		_ = s.refresh.RevokeFamily(ctx, r.family.ID)
		return r.invalid("the client is gone")
	}
	return s.grantHeld(ctx, r)
}

// grantHeld checks that the user still grants the client, under the grant the family began
// with: a grant revoked since (and perhaps given again) ends the family.
func (s *storage) grantHeld(ctx context.Context, r *refreshRequest) error {
	g, found, err := s.grants.Grant(ctx, r.family.UserID, r.grant.ClientID)
	switch {
	case err != nil:
		return unavailable(err)
	case !found || !sameGrant(g, r.grant.Grant, r.family.CreatedAt):
		_ = s.refresh.RevokeFamily(ctx, r.family.ID)
		return r.invalid("the user revoked this application's access")
	}
	return nil
}
