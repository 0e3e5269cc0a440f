package oidc

import (
	"slices"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"

	"github.com/gatehouse-auth/gatehouse"
)

// Lifetimes and bounds of what the provider keeps in memory.
const (
	// RequestTTL is how long a user has to sign in once a client sent them to the
	// authorization endpoint.
	RequestTTL = 10 * time.Minute
	// CodeTTL is how long an authorization code may be exchanged, once.
	CodeTTL = 60 * time.Second
	// MaxPending bounds the authorization requests and tokens kept at once, so that a flood
	// of requests cannot exhaust memory; past it new requests are refused until old ones expire.
	MaxPending = 100_000
)

// authRequest is one authorization request, from the authorization endpoint to the exchange
// of its code. It implements op.AuthRequest.
type authRequest struct {
	id            string
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	scopes        []string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	codeChallenge *oidc.CodeChallenge
	createdAt     time.Time

	// Set when the user signed in (the login handler).
	subject   string
	authTime  time.Time
	sessionID string // the public handle of the gatehouse session, the ID token's sid
	amr       []string
	done      bool

	// Set when the code is issued.
	codeHash   gatehouse.Hash
	codeIssued time.Time
}

var _ op.AuthRequest = (*authRequest)(nil)

func (a *authRequest) GetID() string                         { return a.id }
func (a *authRequest) GetACR() string                        { return "" }
func (a *authRequest) GetAMR() []string                      { return a.amr }
func (a *authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a *authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a *authRequest) GetClientID() string                   { return a.clientID }
func (a *authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a *authRequest) GetNonce() string                      { return a.nonce }
func (a *authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a *authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a *authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a *authRequest) GetScopes() []string                   { return a.scopes }
func (a *authRequest) GetState() string                      { return a.state }
func (a *authRequest) GetSubject() string                    { return a.subject }
func (a *authRequest) Done() bool                            { return a.done }

// accessToken is what an opaque access token issued to a client stands for.
type accessToken struct {
	id        string
	clientID  string
	subject   string
	scopes    []string
	expiresAt time.Time
}

// memory keeps authorization requests, codes and access tokens in process. Codes are kept
// only as hashes. Everything expires; a sweep runs on each write.
type memory struct {
	mu       sync.Mutex
	now      func() time.Time
	requests map[string]*authRequest
	codes    map[gatehouse.Hash]string // code hash -> request id
	tokens   map[string]*accessToken
}

func newMemory(now func() time.Time) *memory {
	return &memory{now: now, requests: map[string]*authRequest{}, codes: map[gatehouse.Hash]string{}, tokens: map[string]*accessToken{}}
}

// sweep drops what has expired; the caller holds mu.
func (m *memory) sweep() {
	now := m.now()
	for id, r := range m.requests {
		if now.Sub(r.createdAt) > RequestTTL {
			delete(m.codes, r.codeHash)
			delete(m.requests, id)
		}
	}
	for id, t := range m.tokens {
		if now.After(t.expiresAt) {
			delete(m.tokens, id)
		}
	}
}

func (m *memory) full() bool { return len(m.requests)+len(m.tokens) >= MaxPending }

func (m *memory) putRequest(r *authRequest) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	if m.full() {
		return false
	}
	m.requests[r.id] = r
	return true
}

// request returns a copy of the live request id.
func (m *memory) request(id string) (*authRequest, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[id]
	if !ok || m.now().Sub(r.createdAt) > RequestTTL {
		return nil, false
	}
	cp := *r
	cp.scopes = slices.Clone(r.scopes)
	return &cp, true
}

// update applies fn to the live request id under the lock; false if there is none.
func (m *memory) update(id string, fn func(r *authRequest) bool) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[id]
	if !ok || m.now().Sub(r.createdAt) > RequestTTL {
		return false
	}
	return fn(r)
}

// saveCode binds code to the signed-in request id. A request gets one code.
func (m *memory) saveCode(id, code string) bool {
	h := gatehouse.HashSecret(code)
	m.mu.Lock()
	defer m.mu.Unlock()
	r, ok := m.requests[id]
	if !ok || !r.done || r.codeHash != (gatehouse.Hash{}) || m.now().Sub(r.createdAt) > RequestTTL {
		return false
	}
	r.codeHash, r.codeIssued = h, m.now()
	m.codes[h] = id
	return true
}

// requestByCode returns the request whose code is code while the code is fresh.
func (m *memory) requestByCode(code string) (*authRequest, bool) {
	h := gatehouse.HashSecret(code)
	m.mu.Lock()
	id, ok := m.codes[h]
	m.mu.Unlock()
	if !ok {
		return nil, false
	}
	r, ok := m.request(id)
	if !ok || m.now().Sub(r.codeIssued) > CodeTTL {
		return nil, false
	}
	return r, true
}

func (m *memory) deleteRequest(id string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if r, ok := m.requests[id]; ok {
		delete(m.codes, r.codeHash)
		delete(m.requests, id)
	}
}

func (m *memory) putToken(t *accessToken) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep()
	if m.full() {
		return false
	}
	m.tokens[t.id] = t
	return true
}

func (m *memory) token(id string) (*accessToken, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	t, ok := m.tokens[id]
	if !ok || m.now().After(t.expiresAt) {
		return nil, false
	}
	return t, true
}
