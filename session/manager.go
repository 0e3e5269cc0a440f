// Package session manages stateful logins: it creates sessions with fresh random secrets,
// authenticates the secret a client presents, enforces idle and absolute timeouts and the
// user's "not before" time, renews the idle timeout as the session is used, and revokes sessions
// one by one or all of a user's at once.
//
// Only the SHA-256 hash of a secret reaches the store. For a process that is the only writer of
// its store, Cached puts an exact in-process cache in front of it.
package session

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"github.com/gatehouse-auth/gatehouse"
)

// Defaults of Options.
const (
	DefaultIdleTimeout     = 30 * time.Minute
	DefaultAbsoluteTimeout = 12 * time.Hour
	DefaultTouchInterval   = time.Minute
	DefaultCacheSize       = 100_000
)

// MaxClockSkew is how far ahead of this process's clock a user's not-before time may be for
// Create to date a new session at that time rather than now.
const MaxClockSkew = time.Second

// MaxUserAgent is the longest user agent, in bytes, that a session keeps; longer ones are cut at
// a character boundary.
const MaxUserAgent = gatehouse.MaxUserAgent

// Options configures a Manager. Zero fields take the defaults.
type Options struct {
	// IdleTimeout ends a session that has not been used for that long. Default 30 minutes.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session that long after its creation, however active. Default 12
	// hours.
	AbsoluteTimeout time.Duration
	// TouchInterval is the least time between two writes of a session's last-seen time, which
	// is what renews the idle timeout. Default 1 minute; it is capped at half the idle timeout so
	// that an active session never idles out.
	TouchInterval time.Duration
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Cache puts the store behind Cached, an exact in-process cache of sessions. It is only
	// correct when this process is the only writer of the store (such as SQLite); leave it off
	// for a shared store.
	Cache bool
	// CacheSize bounds the number of cached sessions, rounded down to a multiple of 64 and at
	// least 64. Default 100,000. It is ignored when CacheBytes is set.
	CacheSize int
	// CacheBytes, when positive, bounds the cache by the heap its sessions hold instead (see
	// CacheOptions.MaxBytes).
	CacheBytes int64
	// TouchDelay, with Cache, writes cached sessions' last-seen times in the background, in
	// batches, at most that long after the request that renewed them (see
	// CacheOptions.TouchDelay); zero writes each on its request. Call Close when done.
	TouchDelay time.Duration
	// OnTouchWriteError is told of each failed background write of last-seen times (see
	// CacheOptions.OnTouchWriteError).
	OnTouchWriteError func(error)
}

// Stats describes a Manager's cache, for metrics. All are zero without a cache.
type Stats struct {
	CachedSessions int
	CacheHits      uint64
	CacheMisses    uint64
	CacheEvictions uint64
	// PendingTouches is how many last-seen times wait to be written (Options.TouchDelay);
	// TouchWriteFailures counts the background writes of them that failed.
	PendingTouches     int
	TouchWriteFailures uint64
}

// Manager creates, authenticates and revokes sessions. It is safe for concurrent use. It treats
// the sessions its store returns as read-only, so that a cache may share them.
type Manager struct {
	store      gatehouse.SessionStore // a *CachedStore with Options.Cache
	find       findFunc               // the store's FindSharedSession if it has one, else FindSession
	revs       gatehouse.RevocationStore
	idle       time.Duration
	absolute   time.Duration
	touchEvery time.Duration
	now        func() time.Time
}

// NewManager returns a Manager on store that checks not-before times in revs. On the request
// path revs should answer from memory (a revocation.Mirror, or a store that caches).
func NewManager(store gatehouse.SessionStore, revs gatehouse.RevocationStore, opts Options) *Manager {
	m := &Manager{
		store:      store,
		revs:       revs,
		idle:       orDefault(opts.IdleTimeout, DefaultIdleTimeout),
		absolute:   orDefault(opts.AbsoluteTimeout, DefaultAbsoluteTimeout),
		touchEvery: orDefault(opts.TouchInterval, DefaultTouchInterval),
		now:        opts.Now,
	}
	m.touchEvery = min(m.touchEvery, m.idle/2)
	if m.now == nil {
		m.now = time.Now
	}
	if opts.Cache {
		m.store = Cached(store, CacheOptions{Size: opts.CacheSize, MaxBytes: opts.CacheBytes, Now: m.now, IdleTimeout: m.idle,
			TouchDelay: opts.TouchDelay, OnTouchWriteError: opts.OnTouchWriteError})
	}
	m.find = m.store.FindSession
	if sf, ok := m.store.(sharedFinder); ok {
		m.find = sf.FindSharedSession
	}
	return m
}

type findFunc func(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error)

// sharedFinder is an optional capability of a SessionStore (CachedStore has it): FindSession
// without the copy, for a caller that never writes the session it gets.
type sharedFinder interface {
	FindSharedSession(ctx context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error)
}

func orDefault(v, def time.Duration) time.Duration {
	if v <= 0 {
		return def
	}
	return v
}

// Create starts a session for p, who signed in with the methods amr, and returns its secret, to be sent to the client once, and the
// session. Every call makes a fresh secret, so a session id set before login is never reused.
// The user agent is cut to MaxUserAgent bytes of valid UTF-8. The session's creation time is
// now, or the user's not-before time if that is later by at most MaxClockSkew (set by an
// instance whose clock is ahead), so that a login right after a revocation is not caught by it.
// The session's public handle is gatehouse.SessionHandle of its hash. It returns
// gatehouse.ErrUnavailable if a store fails.
func (m *Manager) Create(ctx context.Context, p gatehouse.Principal, amr gatehouse.AuthMethods, ip, userAgent string) (string, *gatehouse.Session, error) {
	secret, s, err := m.NewSession(ctx, p, amr, ip, userAgent)
	if err != nil {
		return "", nil, err
	}
	if err := m.store.CreateSession(ctx, s); err != nil {
		return "", nil, storeErr("create", err)
	}
	return secret, s, nil
}

// NewSession returns the secret and the session that Create would store, without storing it:
// for a tool that fills a store in bulk, as logins would.
func (m *Manager) NewSession(ctx context.Context, p gatehouse.Principal, amr gatehouse.AuthMethods, ip, userAgent string) (string, *gatehouse.Session, error) {
	if p.UserID == "" {
		return "", nil, errors.New("session: create: empty user id")
	}
	nb, err := m.revs.NotBefore(ctx, p.UserID)
	if err != nil {
		return "", nil, storeErr("create: not before", err)
	}
	now := m.now()
	created := now
	if nb.After(now) && !nb.After(now.Add(MaxClockSkew)) {
		created = nb // see gatehouse.IssueStamp
	}
	secret := gatehouse.NewSecret()
	h := gatehouse.HashSecret(secret)
	s := &gatehouse.Session{
		Hash: h, Handle: gatehouse.SessionHandle(h), User: p,
		CreatedAt: created, LastSeenAt: created, ExpiresAt: created.Add(m.absolute),
		IP: ip, UserAgent: cleanUserAgent(userAgent), AMR: amr,
	}
	return secret, s, nil
}

// Authenticate returns the live session whose secret is secret, renewing its idle timeout at
// most once per TouchInterval. The returned session may be shared with other callers and the
// cache: it must not be modified.
//
// A malformed secret is rejected before any hashing or lookup. An unknown, idle-expired,
// absolute-expired or revoked session (created before the user's not-before time) gives
// gatehouse.ErrSessionExpired, and a dead session is deleted from the store on the way. A store
// failure gives gatehouse.ErrUnavailable, never a session.
func (m *Manager) Authenticate(ctx context.Context, secret string) (*gatehouse.Session, error) {
	if !gatehouse.ValidSecret(secret) {
		return nil, gatehouse.ErrSessionExpired
	}
	h := gatehouse.HashSecret(secret)
	now := m.now()
	s, found, err := m.find(ctx, h)
	if err != nil {
		return nil, storeErr("find", err)
	}
	if !found {
		return nil, gatehouse.ErrSessionExpired
	}
	if err := m.check(ctx, h, s, now); err != nil {
		return nil, err
	}
	if now.Sub(s.LastSeenAt) < m.touchEvery {
		return s, nil
	}
	if err := m.touch(ctx, h, now); err != nil {
		return nil, err
	}
	next := *s // s may be shared: the renewed session is a copy
	next.LastSeenAt = now
	return &next, nil
}

// check returns gatehouse.ErrSessionExpired, after deleting the session, if s is dead at now.
func (m *Manager) check(ctx context.Context, h gatehouse.Hash, s *gatehouse.Session, now time.Time) error {
	if m.timedOut(s, now) {
		m.discard(ctx, h)
		return gatehouse.ErrSessionExpired
	}
	nb, err := m.revs.NotBefore(ctx, s.User.UserID)
	if err != nil {
		return storeErr("not before", err)
	}
	if gatehouse.IssuedBefore(s.CreatedAt, nb) {
		m.discard(ctx, h)
		return gatehouse.ErrSessionExpired
	}
	return nil
}

// touch writes the last-seen time; a session deleted meanwhile gives ErrSessionExpired.
func (m *Manager) touch(ctx context.Context, h gatehouse.Hash, now time.Time) error {
	found, err := m.store.TouchSession(ctx, h, now)
	if err != nil {
		return storeErr("touch", err)
	}
	if !found {
		return gatehouse.ErrSessionExpired
	}
	return nil
}

// timedOut reports whether s is past its absolute or idle expiry at now.
func (m *Manager) timedOut(s *gatehouse.Session, now time.Time) bool {
	return !now.Before(m.ExpiresAt(s))
}

// ExpiresAt returns when s ends unless it is used again: the earlier of its absolute expiry and
// its last use plus the idle timeout.
func (m *Manager) ExpiresAt(s *gatehouse.Session) time.Time {
	idle := s.LastSeenAt.Add(m.idle)
	if idle.Before(s.ExpiresAt) {
		return idle
	}
	return s.ExpiresAt
}

// discard deletes a dead session, best effort: its death does not depend on the delete.
func (m *Manager) discard(ctx context.Context, h gatehouse.Hash) {
	_, _ = m.store.DeleteSession(ctx, h)
}

// Close writes the last-seen times that wait to be written (Options.TouchDelay) and stops
// the background writer. The Manager stays usable: later touches are written on the request.
func (m *Manager) Close(ctx context.Context) error {
	if c, ok := m.store.(*CachedStore); ok {
		if err := c.Close(ctx); err != nil {
			return storeErr("close", err)
		}
	}
	return nil
}

// Stats returns the statistics of the store's cache when it is a *CachedStore; else all zero.
func (m *Manager) Stats() Stats {
	if c, ok := m.store.(*CachedStore); ok {
		return c.Stats()
	}
	return Stats{}
}

// cleanUserAgent is gatehouse.CleanUserAgent with U+FFFD for what it replaces.
func cleanUserAgent(ua string) string { return gatehouse.CleanUserAgent(ua, utf8.RuneError) }

// storeErr wraps a store failure as gatehouse.ErrUnavailable, unless it already carries a
// gatehouse error (such as ErrUnavailable from an adapter), which it keeps.
func storeErr(op string, err error) error {
	var ge *gatehouse.Error
	if errors.As(err, &ge) {
		return fmt.Errorf("session: %s: %w", op, err)
	}
	return gatehouse.Unavailable("session: "+op, err)
}
