// Package revocation keeps an exact in-process mirror of a gatehouse.RevocationStore, so that
// the request path checks token revocations and "not before" times without a store round trip.
package revocation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/shardmap"
)

var (
	_ gatehouse.RevocationStore  = (*Mirror)(nil)
	_ gatehouse.RevocationLister = (*Mirror)(nil)
	_ gatehouse.Expirer          = (*Mirror)(nil)
)

// ErrNotListable is returned by NewMirror for a store that cannot list its revocations
// (it does not implement gatehouse.RevocationLister).
var ErrNotListable = errors.New("revocation: the store does not implement gatehouse.RevocationLister")

// Mirror is a gatehouse.RevocationStore that serves reads from memory and writes through to a
// backing store. It is exact when every write to the backing store passes through this Mirror,
// which is the case for a single gatehouse process on its own database (SQLite). It knows
// nothing of writes made by other processes: instances that share a store need a store that
// tells them (such as Redis client-side caching) instead.
//
// BenchmarkTokenRevoked: 0.35 µs and no allocation from a Mirror, 43 to 61 µs and 17 allocations
// from SQLite (the benchmark of that name in sqlite/), on a loaded 2-core machine.
//
// Reads take the read lock of one of several shards (picked by a hash of the key, so that
// concurrent readers do not contend on one lock) and allocate nothing. A token revocation stops being reported once the
// clock passes its expiry, and Sweep (or DeleteExpired) frees the memory it used; callers that
// accept tokens for a while after their exp (clock-skew leeway) must revoke them until exp plus
// that leeway.
type Mirror struct {
	store     gatehouse.RevocationStore
	now       func() time.Time
	tokens    *shardmap.Map[string, time.Time] // jti -> expiry
	notBefore *shardmap.Map[string, time.Time] // user id -> not-before time
}

// mirrorShards is the number of independently locked parts of each of a Mirror's maps (see
// internal/shardmap for what the split measures).
const mirrorShards = 32

// NewMirror loads every revocation in force and every not-before time from store, which must
// implement gatehouse.RevocationLister (else ErrNotListable). now is the clock that decides
// whether a token revocation has expired; nil means time.Now. It returns the store's error if the
// load fails.
func NewMirror(ctx context.Context, store gatehouse.RevocationStore, now func() time.Time) (*Mirror, error) {
	lister, ok := store.(gatehouse.RevocationLister)
	if !ok {
		return nil, ErrNotListable
	}
	if now == nil {
		now = time.Now
	}
	tokens, notBefore, err := lister.ListRevocations(ctx, now())
	if err != nil {
		return nil, fmt.Errorf("revocation: load mirror: %w", err)
	}
	hash := shardmap.String()
	m := &Mirror{store: store, now: now,
		tokens: shardmap.New[string, time.Time](mirrorShards, hash), notBefore: shardmap.New[string, time.Time](mirrorShards, hash)}
	for jti, exp := range tokens {
		m.tokens.Of(jti).M[jti] = exp
	}
	for userID, t := range notBefore {
		m.notBefore.Of(userID).M[userID] = t
	}
	return m, nil
}

// RevokeToken denies jti until exp: first in the backing store, then in memory. If the store
// fails, memory is unchanged and the store's error is returned. A revocation is never shortened.
func (m *Mirror) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	if err := m.store.RevokeToken(ctx, jti, exp); err != nil {
		return err
	}
	// Keeping the later expiry makes concurrent writers converge on what the store keeps,
	// whatever order they reach the lock in.
	keepLater(m.tokens, jti, exp)
	return nil
}

// TokenRevoked reports from memory whether jti is revoked and its revocation has not expired.
// It never fails.
func (m *Mirror) TokenRevoked(_ context.Context, jti string) (bool, error) {
	exp, ok := m.tokens.Get(jti)
	return ok && m.now().Before(exp), nil
}

// SetNotBefore sets the user's not-before time to t, first in the backing store, then in memory;
// an earlier t than the current one is ignored. If the store fails, memory is unchanged and the
// store's error is returned.
func (m *Mirror) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	if err := m.store.SetNotBefore(ctx, userID, t); err != nil {
		return err
	}
	keepLater(m.notBefore, userID, t)
	return nil
}

// keepLater sets key to t in sm unless it holds a later time already.
func keepLater(sm *shardmap.Map[string, time.Time], key string, t time.Time) {
	sh := sm.Of(key)
	sh.Lock()
	if cur, ok := sh.M[key]; !ok || t.After(cur) {
		sh.M[key] = t
	}
	sh.Unlock()
}

// NotBefore returns the user's not-before time from memory, or the zero time. It never fails.
func (m *Mirror) NotBefore(_ context.Context, userID string) (time.Time, error) {
	t, _ := m.notBefore.Get(userID)
	return t, nil
}

// ListRevocations returns copies, from memory, of the token revocations whose expiry is after now
// and of every not-before time.
func (m *Mirror) ListRevocations(_ context.Context, now time.Time) (tokens, notBefore map[string]time.Time, err error) {
	tokens, notBefore = make(map[string]time.Time), make(map[string]time.Time)
	for i := range m.tokens.Shards() {
		sh := m.tokens.At(i)
		sh.RLock()
		for jti, exp := range sh.M {
			if exp.After(now) {
				tokens[jti] = exp
			}
		}
		sh.RUnlock()
	}
	for i := range m.notBefore.Shards() {
		sh := m.notBefore.At(i)
		sh.RLock()
		maps.Copy(notBefore, sh.M)
		sh.RUnlock()
	}
	return tokens, notBefore, nil
}

// Sweep drops from memory the token revocations whose expiry is not after now and returns how
// many it dropped. It does not touch the backing store.
func (m *Mirror) Sweep(now time.Time) int {
	n := 0
	for i := range m.tokens.Shards() {
		sh := m.tokens.At(i)
		sh.Lock()
		for jti, exp := range sh.M {
			if !exp.After(now) {
				delete(sh.M, jti)
				n++
			}
		}
		sh.Unlock()
	}
	return n
}

// DeleteExpired drops expired token revocations from the backing store, when it is a
// gatehouse.Expirer, and from memory. It returns the number the store dropped (or, for a store
// that is not an Expirer, the number dropped from memory) and the store's error, if any; memory
// is swept either way.
func (m *Mirror) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	swept := m.Sweep(now)
	ex, ok := m.store.(gatehouse.Expirer)
	if !ok {
		return swept, nil
	}
	return ex.DeleteExpired(ctx, now)
}

// Len returns the number of token revocations and not-before times held in memory.
func (m *Mirror) Len() (tokens, notBefore int) {
	return m.tokens.Len(), m.notBefore.Len()
}
