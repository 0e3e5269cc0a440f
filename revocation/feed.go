package revocation

import (
	"context"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.RevocationStore  = (*Feed)(nil)
	_ gatehouse.RevocationLister = (*Feed)(nil)
	_ gatehouse.RevocationFeed   = (*Feed)(nil)
)

// Feed is a gatehouse.RevocationStore that passes every call to another store and, after each
// write the store accepted, tells its subscribers (gatehouse.RevocationFeed). Reads go straight
// through and allocate nothing. A write is never held up by a slow subscriber: one whose buffer
// is full is dropped instead.
//
// A Feed knows only the writes made through it: with several gatehouse instances sharing a
// store, each instance's Feed reports that instance's writes.
type Feed struct {
	store gatehouse.RevocationStore
	mu    sync.Mutex
	subs  map[chan gatehouse.RevocationEvent]struct{}
}

// NewFeed returns a Feed in front of store.
func NewFeed(store gatehouse.RevocationStore) *Feed {
	return &Feed{store: store, subs: make(map[chan gatehouse.RevocationEvent]struct{})}
}

// RevokeToken denies jti until exp in the store, then reports it.
func (f *Feed) RevokeToken(ctx context.Context, jti string, exp time.Time) error {
	if err := f.store.RevokeToken(ctx, jti, exp); err != nil {
		return err
	}
	f.publish(gatehouse.RevocationEvent{Kind: gatehouse.RevokedToken, ID: jti, Time: exp})
	return nil
}

// SetNotBefore sets the user's not-before time in the store, then reports it.
func (f *Feed) SetNotBefore(ctx context.Context, userID string, t time.Time) error {
	if err := f.store.SetNotBefore(ctx, userID, t); err != nil {
		return err
	}
	f.publish(gatehouse.RevocationEvent{Kind: gatehouse.NotBeforeChanged, ID: userID, Time: t})
	return nil
}

// TokenRevoked asks the store.
func (f *Feed) TokenRevoked(ctx context.Context, jti string) (bool, error) {
	return f.store.TokenRevoked(ctx, jti)
}

// NotBefore asks the store.
func (f *Feed) NotBefore(ctx context.Context, userID string) (time.Time, error) {
	return f.store.NotBefore(ctx, userID)
}

// ListRevocations asks the store, which must be a gatehouse.RevocationLister (else
// ErrNotListable).
func (f *Feed) ListRevocations(ctx context.Context, now time.Time) (tokens, notBefore map[string]time.Time, err error) {
	l, ok := f.store.(gatehouse.RevocationLister)
	if !ok {
		return nil, nil, ErrNotListable
	}
	return l.ListRevocations(ctx, now)
}

// SubscribeRevocations implements gatehouse.RevocationFeed. buffer below 1 means 1.
func (f *Feed) SubscribeRevocations(buffer int) (<-chan gatehouse.RevocationEvent, func()) {
	ch := make(chan gatehouse.RevocationEvent, max(buffer, 1))
	f.mu.Lock()
	f.subs[ch] = struct{}{}
	f.mu.Unlock()
	return ch, func() { f.drop(ch) }
}

// Subscribers returns the number of current subscribers.
func (f *Feed) Subscribers() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.subs)
}

func (f *Feed) drop(ch chan gatehouse.RevocationEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if _, ok := f.subs[ch]; ok {
		delete(f.subs, ch)
		close(ch)
	}
}

// publish hands ev to every subscriber without blocking; a subscriber whose buffer is full is
// dropped (its channel closed), so it learns that it missed something.
func (f *Feed) publish(ev gatehouse.RevocationEvent) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for ch := range f.subs {
		select {
		case ch <- ev:
		default:
			delete(f.subs, ch)
			close(ch)
		}
	}
}
