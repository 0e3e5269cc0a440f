// Package authn holds gatehouse's use cases, each written once: authenticate a credential, log
// in, refresh a token pair, log out, revoke everywhere, change a user or a password, revoke and
// introspect a token, and the account and session administration around them. It takes plain
// values (a credential, a username and password, a Client describing where the request came
// from) and returns domain values and gatehouse errors; it never sees an *http.Request. The
// transports (package http for the JSON API and the OAuth endpoints, package web for the pages)
// decode, call a Service method, and encode.
//
// # Rules kept here
//
//   - Every change that affects credentials (a role change, disabling, deleting, a new password,
//     signing out everywhere) moves the user's not-before time FIRST (RevokeEverywhere), then
//     deletes sessions and refresh families, then writes the change. The stores end each revoking
//     write with their own cross-instance barrier (see docs/revocation.md), so every revoking path
//     here waits for every instance exactly as the writes are made.
//   - Every check of a password goes through the login throttles and the audit trail
//     (checkPassword), whether it is a login or the current password of a change.
//   - The revocation rule of access tokens is gatehouse.AccessTokenRevoked, used by Authenticate
//     and Introspect alike.
//
// # Extension points
//
// Login answers a LoginResult whose Step says what happens next. Today it is always StepDone:
// the credential (Session or Tokens) is in the result. A second factor adds a step without
// changing the callers that exist: when the user has a factor, Login would answer
// StepSecondFactor with a pending handle (the single-use mfa_token of
// mfa.Service.StartSecondStep, naming the half-done login and its mode) and no credential, and
// a new method, say CompleteSecondFactor(ctx, token, proof, client), would check the factor
// (mfa.Service.FinishSecondStep) under the same throttles and audit trail and return a
// LoginResult with StepDone, made by the same credential helper as Login. Transports switch on
// Step; a transport that knows only StepDone refuses any other step.
//
// A new transport (forward authentication for a reverse proxy, an OpenID Connect authorization
// endpoint) builds a Credential or a LoginInput from what it receives and calls the same
// methods; a new use case (a password reset, say) is a new method here that composes the
// existing rules (RevokeEverywhere before the write, checkPassword for any password typed,
// audit for the outcome), with a sentinel error in errors.go for what its callers branch on.
package authn

import (
	"context"
	"errors"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/account"
	"github.com/gatehouse-auth/gatehouse/emaillink"
	"github.com/gatehouse-auth/gatehouse/mfa"
	"github.com/gatehouse-auth/gatehouse/refresh"
	"github.com/gatehouse-auth/gatehouse/session"
	"github.com/gatehouse-auth/gatehouse/token"
)

// Deps are the components the use cases run on; cmd/gatehouse builds and wires them.
type Deps struct {
	Accounts    *account.Service
	Users       gatehouse.UserStore
	Sessions    *session.Manager
	Tokens      *token.Service
	Refresh     *refresh.Refresher
	Revocations gatehouse.RevocationStore
	// Throttle counts failed logins and credentials; nil throttles nothing.
	Throttle gatehouse.Throttle
	// Audit keeps the audit trail; nil keeps it in the logs only.
	Audit gatehouse.AuditStore
	// MFA holds the second factors; nil turns them off (a password alone signs in).
	MFA *mfa.Service
	// UnservedFactors, set only when MFA is nil, is where second factors are kept although
	// this server cannot check them (no factor key): a user who has one there is refused
	// with ErrSecondFactorUnavailable instead of signing in with the password alone.
	UnservedFactors gatehouse.FactorStore
	// Mailer and Links send and keep the single-use links of password resets and address
	// verification (recovery.go); without both, those flows answer ErrMailUnavailable.
	// Links are <issuer>/reset?token=... and <issuer>/verify?token=..., the issuer being the
	// token service's.
	Mailer gatehouse.Mailer
	Links  *emaillink.Links
	// Grants and Clients are the OpenID Provider's: what users granted which applications
	// (grants.go); nil keeps none.
	Grants  gatehouse.GrantStore
	Clients gatehouse.ClientStore
}

// Config holds the use cases' settings. The zero value of each field means its default.
type Config struct {
	// Limits are the throttles' backoff policies (zero fields: DefaultLimits).
	Limits Limits
	// Logger receives events and the audit trail's log records (default slog.Default()).
	// Secrets never reach it.
	Logger *slog.Logger
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Hooks are told of outcomes, for metrics.
	Hooks Hooks
	// RequireVerifiedEmail refuses a sign-in (ErrEmailUnverified) until the account's e-mail
	// address is verified. Off by default.
	RequireVerifiedEmail bool
	// RequireMFARoles are the roles whose users must sign in with a second factor (see
	// policy.go): none by default. It needs Deps.MFA.
	RequireMFARoles []gatehouse.Role
}

// Hooks are optional callbacks for metrics; nil fields are skipped. They must be fast and
// must not block.
type Hooks struct {
	// Login is called once per checked login (through any transport) with its outcome (nil,
	// or the error Login returns) and how long checking the password took, its wait for a
	// hashing slot included.
	Login func(err error, took time.Duration)
}

// SignOut is a sign-out that other parties may need to hear of: one session ended (Session is
// its public handle) or, with Everywhere, every session and token of the user.
type SignOut struct {
	UserID     string
	Session    string
	Everywhere bool
}

// OnSignOut adds fn to the listeners of sign-outs (the OpenID Provider's back-channel logout).
// fn runs after the sign-out succeeded and must not block. Call it before serving.
func (s *Service) OnSignOut(fn func(SignOut)) { s.signedOut = append(s.signedOut, fn) }

func (s *Service) announce(o SignOut) {
	for _, fn := range s.signedOut {
		fn(o)
	}
}

// Client is what a transport knows of the party that sent a request, as plain values.
type Client struct {
	// Addr is the client's address as the transport determined it (trusted proxies applied),
	// or the zero Addr when it is unknown. Throttles count under it.
	Addr netip.Addr
	// IP is the address as recorded with sessions and audit events.
	IP string
	// UserAgent is the User-Agent the client sent.
	UserAgent string
	// Channel names the transport in the audit details where one use case has several
	// (such as "page" for the web pages); "" for the JSON API.
	Channel string
}

// Service runs the use cases. It is safe for concurrent use.
type Service struct {
	d      Deps
	limits Limits
	log    *slog.Logger
	// signedOut are the sign-out listeners (OnSignOut); set before serving, read-only after.
	signedOut []func(SignOut)
	now       func() time.Time
	hooks     Hooks
	// foreignTokenLog is when a token of another issuer or audience was last logged (Unix
	// nanoseconds; authenticate.go).
	foreignTokenLog atomic.Int64
	// mailSlots bounds the reset requests handled in the background; background counts them
	// (recovery.go).
	mailSlots  chan struct{}
	background sync.WaitGroup
	// requireVerified refuses sign-in to accounts whose address is not verified.
	requireVerified bool
	// mfaRoles are Config.RequireMFARoles.
	mfaRoles []gatehouse.Role
}

// New returns the use cases over d.
func New(d Deps, cfg Config) *Service {
	s := &Service{d: d, limits: cfg.Limits.normalize(), log: cfg.Logger, now: cfg.Now, hooks: cfg.Hooks,
		mailSlots: make(chan struct{}, maxBackgroundMail), requireVerified: cfg.RequireVerifiedEmail,
		mfaRoles: slices.Clone(cfg.RequireMFARoles)}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s
}

// Tokens returns the access-token service (its issuer, audience, lifetimes and keys, for
// discovery documents and the revocation stream).
func (s *Service) Tokens() *token.Service { return s.d.Tokens }

// SessionExpiresAt returns when sess ends if it stays in use: the earlier of its absolute
// expiry and its idle expiry.
func (s *Service) SessionExpiresAt(sess *gatehouse.Session) time.Time {
	return s.d.Sessions.ExpiresAt(sess)
}

// ErrNoRevocationFeed means the revocation store publishes no feed (see FollowRevocations).
var ErrNoRevocationFeed = gatehouse.Errorf(gatehouse.ENOTFOUND, "this server does not publish revocations")

// RevocationSnapshot is the state FollowRevocations starts from: every token denial still in
// force (jti -> end of the denial) and every not-before time (user id -> time).
type RevocationSnapshot struct {
	Tokens, NotBefore map[string]time.Time
	// At is when the snapshot was read.
	At time.Time
}

// FollowRevocations subscribes to every revocation from now on (at most buffer events behind:
// see gatehouse.RevocationFeed) and then reads the snapshot, so that a revocation accepted in
// between arrives twice, which is harmless, rather than never. It returns ErrNoRevocationFeed
// when the store cannot publish, and the store's error. cancel ends the subscription.
func (s *Service) FollowRevocations(ctx context.Context, buffer int) (snap RevocationSnapshot, events <-chan gatehouse.RevocationEvent, cancel func(), err error) {
	feed, ok := s.d.Revocations.(gatehouse.RevocationFeed)
	lister, ok2 := s.d.Revocations.(gatehouse.RevocationLister)
	if !ok || !ok2 {
		return snap, nil, nil, ErrNoRevocationFeed
	}
	events, cancel = feed.SubscribeRevocations(buffer)
	snap.At = s.now()
	snap.Tokens, snap.NotBefore, err = lister.ListRevocations(ctx, snap.At)
	if err != nil {
		cancel()
		return RevocationSnapshot{}, nil, nil, err
	}
	return snap, events, cancel, nil
}

// isNotFound reports whether err is a not_found error.
func isNotFound(err error) bool {
	var e *gatehouse.Error
	return errors.As(err, &e) && e.Code == gatehouse.ENOTFOUND
}

// channel is the suffix that audit details give the transport, if it named one.
func (c Client) channel() string {
	if c.Channel == "" {
		return ""
	}
	return " " + c.Channel
}
