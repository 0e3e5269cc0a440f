package memory

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.RevocationStore  = (*RevocationStore)(nil)
	_ gatehouse.RevocationLister = (*RevocationStore)(nil)
	_ gatehouse.Expirer          = (*RevocationStore)(nil)
)

// RevocationStore is a gatehouse.RevocationStore in the memory of one process: token ids with
// the time until which they are denied, and per-user "not before" times. Reads take a read lock
// and allocate nothing. It never fails.
//
// It has no clock: a revoked token id stays reported as revoked until DeleteExpired drops it
// (the token itself no longer verifies after its expiry anyway).
type RevocationStore struct {
	mu        sync.RWMutex
	tokens    map[string]time.Time
	notBefore map[string]time.Time
}

// NewRevocationStore returns an empty RevocationStore.
func NewRevocationStore() *RevocationStore {
	return &RevocationStore{
		tokens:    make(map[string]time.Time),
		notBefore: make(map[string]time.Time),
	}
}

// RevokeToken denies jti until exp. Revoking a token id again never shortens its revocation.
func (st *RevocationStore) RevokeToken(_ context.Context, jti string, exp time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if cur, ok := st.tokens[jti]; !ok || exp.After(cur) {
		st.tokens[jti] = exp
	}
	return nil
}

// TokenRevoked reports whether jti was revoked (and not yet dropped by DeleteExpired).
func (st *RevocationStore) TokenRevoked(_ context.Context, jti string) (bool, error) {
	st.mu.RLock()
	_, ok := st.tokens[jti]
	st.mu.RUnlock()
	return ok, nil
}

// SetNotBefore rejects everything of the user issued before t. An earlier t than the one
// stored is ignored: the time never moves backwards.
func (st *RevocationStore) SetNotBefore(_ context.Context, userID string, t time.Time) error {
	st.mu.Lock()
	defer st.mu.Unlock()
	if cur, ok := st.notBefore[userID]; !ok || t.After(cur) {
		st.notBefore[userID] = t
	}
	return nil
}

// NotBefore returns the user's "not before" time, or the zero time if there is none.
func (st *RevocationStore) NotBefore(_ context.Context, userID string) (time.Time, error) {
	st.mu.RLock()
	t := st.notBefore[userID]
	st.mu.RUnlock()
	return t, nil
}

// ListRevocations returns copies of every token revocation whose expiry is after now and of
// every not-before time.
func (st *RevocationStore) ListRevocations(_ context.Context, now time.Time) (tokens, notBefore map[string]time.Time, err error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	tokens = make(map[string]time.Time, len(st.tokens))
	for jti, exp := range st.tokens {
		if exp.After(now) {
			tokens[jti] = exp
		}
	}
	return tokens, maps.Clone(st.notBefore), nil
}

// DeleteExpired drops the token revocations whose expiry is not after now and returns how many.
// Not-before times are kept: they are one small entry per user.
func (st *RevocationStore) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for jti, exp := range st.tokens {
		if !exp.After(now) {
			delete(st.tokens, jti)
			n++
		}
	}
	return n, nil
}
