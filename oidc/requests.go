package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
)

// Lifetimes and bounds of what the provider keeps between requests.
const (
	// RequestTTL is how long a user has to sign in once a client sent them to the
	// authorization endpoint.
	RequestTTL = 10 * time.Minute
	// CodeTTL is how long an authorization code may be exchanged, once.
	CodeTTL = 60 * time.Second
	// UsedCodeTTL is how long the record of an exchanged code is kept, so that a replay of
	// the code within it revokes what the exchange issued.
	UsedCodeTTL = RequestTTL
	// MaxPending bounds the authorization requests one instance starts per RequestTTL, so that
	// a flood of requests cannot fill the store; past it new requests are refused until the
	// window turns.
	MaxPending = 100_000
)

// The purposes of the challenges the provider keeps (gatehouse.Challenge.Purpose).
const (
	purposeRequest  = "oidc-request"
	purposeCode     = "oidc-code"
	purposeUsedCode = "oidc-code-used"
)

// authRequest is one authorization request, from the authorization endpoint to the exchange
// of its code. It implements op.AuthRequest. It is kept as JSON in the challenge store, so
// that any instance can continue a flow that another began.
type authRequest struct {
	ID            string              `json:"id"`
	ClientID      string              `json:"client_id"`
	RedirectURI   string              `json:"redirect_uri"`
	State         string              `json:"state,omitempty"`
	Nonce         string              `json:"nonce,omitempty"`
	Scopes        []string            `json:"scopes"`
	ResponseType  oidc.ResponseType   `json:"response_type"`
	ResponseMode  oidc.ResponseMode   `json:"response_mode,omitempty"`
	CodeChallenge *oidc.CodeChallenge `json:"code_challenge,omitempty"`
	CreatedAt     time.Time           `json:"created_at"`
	Prompt        []string            `json:"prompt,omitempty"`
	MaxAge        *uint               `json:"max_age,omitempty"` // seconds
	LoginHint     string              `json:"login_hint,omitempty"`

	// Set when the user signed in (the login handler).
	Subject   string    `json:"sub,omitempty"`
	AuthTime  time.Time `json:"auth_time,omitzero"`
	SessionID string    `json:"sid,omitempty"` // the public handle of the gatehouse session, the ID token's sid
	AMR       []string  `json:"amr,omitempty"`
	// Grant is the creation time of the grant the user's consent is under (sameGrant).
	Grant  time.Time `json:"grant,omitzero"`
	IsDone bool      `json:"done,omitempty"`

	// code is the code the request was found by at the token endpoint; never stored.
	code string
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.ID }
func (a *authRequest) GetACR() string                        { return gatehouse.ParseAMR(a.AMR).ACR() }
func (a *authRequest) GetAMR() []string                      { return a.AMR }
func (a *authRequest) GetAudience() []string                 { return []string{a.ClientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.AuthTime }
func (a *authRequest) GetClientID() string                   { return a.ClientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.CodeChallenge }
func (a *authRequest) GetNonce() string                      { return a.Nonce }
func (a *authRequest) GetRedirectURI() string                { return a.RedirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.ResponseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.ResponseMode }
func (a *authRequest) GetScopes() []string                   { return a.Scopes }
func (a *authRequest) GetState() string                      { return a.State }
func (a *authRequest) GetSubject() string                    { return a.Subject }
func (a *authRequest) Done() bool                            { return a.IsDone }

// hasPrompt reports whether the request's prompt parameter holds p.
func (a *authRequest) hasPrompt(p string) bool { return slices.Contains(a.Prompt, p) }

// usedCode is what the record of an exchanged code holds: what the exchange issued, so that
// a replay of the code can revoke it.
type usedCode struct {
	// Token is the jti of the access token the exchange issued.
	Token string `json:"jti"`
	// Family is the refresh-token family it began, if any.
	Family   string    `json:"family,omitempty"`
	Subject  string    `json:"sub"`
	ClientID string    `json:"client_id"`
	Expires  time.Time `json:"access_expires"`
}

// errFull refuses a request past MaxPending.
var errFull = errors.New("oidc: too many pending sign-ins")

// flows keeps authorization requests, codes and the records of exchanged codes in a
// gatehouse.ChallengeStore: the user store's (SQLite on one node, PostgreSQL for a cluster),
// where a take is atomic, so that of two instances exactly one gets a request or a code.
// Requests and codes are keyed by the SHA-256 of their secret; the store never sees a code.
type flows struct {
	store gatehouse.ChallengeStore
	now   func() time.Time

	mu      sync.Mutex
	window  time.Time // start of the current counting window
	started int       // requests started in it
}

func newFlows(store gatehouse.ChallengeStore, now func() time.Time) *flows {
	return &flows{store: store, now: now}
}

// admit counts a new request against MaxPending; false when the window is full.
func (f *flows) admit() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if now := f.now(); now.Sub(f.window) >= RequestTTL {
		f.window, f.started = now, 0
	}
	if f.started >= MaxPending {
		return false
	}
	f.started++
	return true
}

// usedHash is the key of the record of the exchanged code.
func usedHash(code string) gatehouse.Hash { return gatehouse.HashSecret(purposeUsedCode + ":" + code) }

func (f *flows) put(ctx context.Context, h gatehouse.Hash, purpose string, v any, exp time.Time) error {
	data, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return f.store.PutChallenge(ctx, &gatehouse.Challenge{Hash: h, Purpose: purpose, Data: data, ExpiresAt: exp})
}

// decode reads c's data into v when c is of purpose.
func decode(c *gatehouse.Challenge, purpose string, v any) bool {
	return c.Purpose == purpose && json.Unmarshal(c.Data, v) == nil
}

// putRequest keeps a new request; errFull past MaxPending.
func (f *flows) putRequest(ctx context.Context, r *authRequest) error {
	if !f.admit() {
		return errFull
	}
	return f.put(ctx, gatehouse.HashSecret(r.ID), purposeRequest, r, r.CreatedAt.Add(RequestTTL))
}

// request returns the live request id.
func (f *flows) request(ctx context.Context, id string) (*authRequest, bool, error) {
	return requestIn(f.store.FindChallenge(ctx, gatehouse.HashSecret(id), f.now()))
}

// take removes and returns the live request id: of concurrent takes one gets it.
func (f *flows) take(ctx context.Context, id string) (*authRequest, bool, error) {
	return requestIn(f.store.TakeChallenge(ctx, gatehouse.HashSecret(id), f.now()))
}

// requestIn returns the authorization request that a challenge look-up found; not found when
// the challenge holds something else.
func requestIn(c *gatehouse.Challenge, found bool, err error) (*authRequest, bool, error) {
	if err != nil || !found {
		return nil, false, err
	}
	var r authRequest
	if !decode(c, purposeRequest, &r) {
		return nil, false, nil
	}
	return &r, true, nil
}

// bind records the signed-in user in request id, once: false when there is no such live
// request or it is bound already.
func (f *flows) bind(ctx context.Context, id string, fn func(r *authRequest)) (bool, error) {
	r, found, err := f.take(ctx, id)
	if err != nil || !found {
		return false, err
	}
	if r.IsDone {
		// bound already: a second visit must not change the user; put it back as it was.
		return false, f.put(ctx, gatehouse.HashSecret(id), purposeRequest, r, r.CreatedAt.Add(RequestTTL))
	}
	fn(r)
	r.IsDone = true
	return true, f.put(ctx, gatehouse.HashSecret(id), purposeRequest, r, r.CreatedAt.Add(RequestTTL))
}

// saveCode turns the signed-in request id into code: the request is taken, so it gets one
// code, and the code lives CodeTTL.
func (f *flows) saveCode(ctx context.Context, id, code string) (bool, error) {
	r, found, err := f.take(ctx, id)
	if err != nil || !found {
		return false, err
	}
	if !r.IsDone {
		return false, nil
	}
	return true, f.put(ctx, gatehouse.HashSecret(code), purposeCode, r, f.now().Add(CodeTTL))
}

// requestByCode returns the request of a fresh code that was not exchanged yet. For a code
// that was, it returns the record of that exchange as used.
func (f *flows) requestByCode(ctx context.Context, code string) (r *authRequest, used *usedCode, err error) {
	now := f.now()
	if c, found, err := f.store.FindChallenge(ctx, usedHash(code), now); err != nil {
		return nil, nil, err
	} else if found {
		var u usedCode
		if decode(c, purposeUsedCode, &u) {
			return nil, &u, nil
		}
	}
	c, found, err := f.store.FindChallenge(ctx, gatehouse.HashSecret(code), now)
	if err != nil || !found {
		return nil, nil, err
	}
	r = &authRequest{}
	if !decode(c, purposeCode, r) {
		return nil, nil, nil
	}
	r.code = code
	return r, nil, nil
}

// claimCode marks code exchanged, recording u: exactly one claim of a code succeeds (the
// store refuses a second record under one hash); the others get gatehouse.ErrConflict and
// the record of the claim that won.
func (f *flows) claimCode(ctx context.Context, code string, u *usedCode) (*usedCode, error) {
	err := f.put(ctx, usedHash(code), purposeUsedCode, u, f.now().Add(UsedCodeTTL))
	if !errors.Is(err, gatehouse.ErrConflict) {
		if err == nil {
			// The code is spent; its record can go at once (a failure leaves it to expire).
			_, _, _ = f.store.TakeChallenge(ctx, gatehouse.HashSecret(code), f.now())
		}
		return nil, err
	}
	c, found, ferr := f.store.FindChallenge(ctx, usedHash(code), f.now())
	var won usedCode
	if ferr == nil && found && decode(c, purposeUsedCode, &won) {
		return &won, err
	}
	return nil, err
}

// issuedToken is the record of an access token issued to a client, which the userinfo
// endpoint reads: the token itself is a JWT, but the library hands the endpoint only its jti
// and subject.
type issuedToken struct {
	ClientID string    `json:"client_id"`
	Subject  string    `json:"sub"`
	Scopes   []string  `json:"scopes"`
	Grant    time.Time `json:"grant,omitzero"` // authRequest.Grant of its sign-in
}

// sameGrant reports whether g is the grant a credential was issued under: the one created at
// issuedUnder. A grant revoked and given again is a new grant with a creation time of its own,
// so the credentials of the old one stop working whatever the clocks of the instances that
// issued and check them say. Records written before the creation time was carried (zero)
// fall back to comparing with the credential's issue time.
func sameGrant(g *gatehouse.Grant, issuedUnder, issuedAt time.Time) bool {
	if issuedUnder.IsZero() {
		return !g.CreatedAt.After(issuedAt)
	}
	return g.CreatedAt.Equal(issuedUnder)
}

const purposeAccess = "oidc-access"

func accessHash(jti string) gatehouse.Hash { return gatehouse.HashSecret(purposeAccess + ":" + jti) }

func (f *flows) putToken(ctx context.Context, jti string, t *issuedToken, exp time.Time) error {
	return f.put(ctx, accessHash(jti), purposeAccess, t, exp)
}

func (f *flows) token(ctx context.Context, jti string) (*issuedToken, bool, error) {
	c, found, err := f.store.FindChallenge(ctx, accessHash(jti), f.now())
	if err != nil || !found {
		return nil, false, err
	}
	var t issuedToken
	if !decode(c, purposeAccess, &t) {
		return nil, false, nil
	}
	return &t, true, nil
}
