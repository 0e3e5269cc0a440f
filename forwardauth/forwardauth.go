// Package forwardauth answers reverse proxies that ask, before passing a request on to the app
// behind them, whether the request may pass and who sent it: Traefik's ForwardAuth and Caddy's
// forward_auth (GET /api/authz/forward-auth) and nginx's auth_request
// (GET /api/authz/auth-request).
//
// The proxy describes the original request in headers, which are believed only from trusted
// proxies. The access rules (package access) decide what the request needs; when it needs a
// user, the credential the browser or client sent (the session cookie or a bearer token) is
// turned into an identity by an Authenticator. A check of a request without a credential reads
// and writes no store and keeps nothing.
package forwardauth

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/access"
)

// Credential is what the browser or API client presented with the original request. At most
// one field is used: a bearer token wins over a session cookie, as everywhere in gatehouse.
type Credential struct {
	// Bearer is the access token of an "Authorization: Bearer" header.
	Bearer string
	// Session is the secret of the session cookie.
	Session string
}

// Identity is who sent the original request.
type Identity struct {
	gatehouse.Principal
	// Groups are the user's group names, for group:NAME rules and the Remote-Groups header.
	// An Authenticator that knows no groups leaves it nil; then group rules let nobody through.
	Groups []string
}

// Authenticator turns a credential into the identity it carries. It returns an error with
// the code gatehouse.ETOKENMISSING, EINVALIDTOKEN, ETOKENEXPIRED or ESESSIONEXPIRED for a
// credential that does not sign anyone in, and gatehouse.ErrUnavailable when a store cannot
// answer.
type Authenticator interface {
	Authenticate(ctx context.Context, c Credential) (Identity, error)
}

// Config configures a Handler. Authenticator is required; without Rules every check is denied.
type Config struct {
	// Rules holds the access rules in force; a reload swaps them (access.Holder).
	Rules *access.Holder
	// Authenticator turns credentials into identities.
	Authenticator Authenticator
	// TrustedProxies are the addresses whose X-Forwarded-* and X-Original-* headers are
	// believed. A request from any other address is refused with 403.
	TrustedProxies []netip.Prefix
	// SignInURL is the sign-in page a browser is sent to (with ?rd=<original URL>) when it is
	// not signed in, such as "https://auth.example.com/".
	SignInURL string
	// CookieName is the name of the session cookie as browsers send it.
	CookieName string
	// Assertions, if set, signs a short-lived JWT of the identity for the app behind the proxy
	// (audience: the app's origin, such as "https://app.example.com") into the allowed
	// answer's Remote-JWT header.
	Assertions Asserter
	// AssertionReuse is how long an assertion signed for a credential and an app is handed out
	// again for the same credential, app and identity instead of signing a new one. Keep it a
	// fraction of the assertion's lifetime (the app receives an assertion with at least its
	// lifetime minus AssertionReuse left). Zero signs every allowed answer.
	AssertionReuse time.Duration
	// AssertionCacheSize bounds the assertions kept for reuse; 0 means
	// DefaultAssertionCacheSize.
	AssertionCacheSize int
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Failures, if set, counts the credentials that sign no one in against the original
	// client's address; over its budget the check is answered 429 (auth-request: 401 with
	// Retry-After, see Handler.AuthRequest). A valid credential and a check without one are
	// never counted, so they cost no throttle round trip.
	Failures FailureCounter
	// Logger receives refusals of untrusted peers and store failures (default slog.Default()).
	Logger *slog.Logger
}

// FailureCounter counts a credential that signed no one in (err is what the Authenticator
// returned) against the client's address, and returns how long the client must wait when the
// address is over its budget (0 otherwise). authn.Service.CredentialFailed is one.
type FailureCounter interface {
	CredentialFailed(ctx context.Context, client netip.Addr, err error) time.Duration
}

// Asserter signs a statement of id's identity for the app at audience (the origin of the
// original request: scheme, host and a port other than the scheme's default), issued at now.
type Asserter interface {
	Assert(id *Identity, audience string, now time.Time) (string, error)
}

// Handler answers the proxies' questions. Its methods are http.HandlerFuncs.
type Handler struct {
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	assertions *assertionCache // nil without Assertions or AssertionReuse
}

// Mount registers GET /api/authz/forward-auth and GET /api/authz/auth-request with handle
// (such as the API server's Handle).
func (h *Handler) Mount(handle func(method, path string, f http.HandlerFunc)) {
	handle("GET", "/api/authz/forward-auth", h.ForwardAuth)
	handle("GET", "/api/authz/auth-request", h.AuthRequest)
}

// New returns a handler for cfg.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.cfg.Rules == nil {
		h.cfg.Rules = access.NewHolder(nil) // deny everything
	}
	h.now = cfg.Now
	if h.now == nil {
		h.now = time.Now
	}
	if cfg.Assertions != nil && cfg.AssertionReuse > 0 {
		h.assertions = newAssertionCache(cfg.AssertionReuse, cfg.AssertionCacheSize)
	}
	return h
}
