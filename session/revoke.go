package session

import (
	"context"

	"github.com/gatehouse-auth/gatehouse"
)

// Revoke ends the session whose secret is secret (logout). An unknown or malformed secret is not
// an error. It returns gatehouse.ErrUnavailable if the store fails.
func (m *Manager) Revoke(ctx context.Context, secret string) error {
	if !gatehouse.ValidSecret(secret) {
		return nil
	}
	h := gatehouse.HashSecret(secret)
	_, err := m.store.DeleteSession(ctx, h)
	// Uncache even on failure: the store may have deleted it, and a cache miss is harmless.
	m.uncache(h)
	if err != nil {
		return storeErr("revoke", err)
	}
	return nil
}

// RevokeHandle ends the session with that public handle if it belongs to userID. It returns
// gatehouse.ErrNotFound if there is no such session or it is someone else's, and
// gatehouse.ErrUnavailable if the store fails.
func (m *Manager) RevokeHandle(ctx context.Context, userID, handle string) error {
	h, found, err := m.store.DeleteSessionByHandle(ctx, userID, handle)
	if err != nil {
		// The hash is unknown but the store may have deleted the session.
		m.uncacheWhere(func(s *gatehouse.Session) bool { return s.Handle == handle })
		return storeErr("revoke handle", err)
	}
	if !found {
		return gatehouse.ErrNotFound
	}
	m.uncache(h)
	return nil
}

// RevokeAnyHandle ends the session with that public handle, whoever owns it (for admins), and
// returns its owner's id. It returns gatehouse.ErrNotFound if there is no such session and
// gatehouse.ErrUnavailable if the store fails.
func (m *Manager) RevokeAnyHandle(ctx context.Context, handle string) (string, error) {
	s, found, err := m.store.SessionByHandle(ctx, handle)
	if err != nil {
		return "", storeErr("revoke any handle", err)
	}
	if !found {
		return "", gatehouse.ErrNotFound
	}
	if err := m.RevokeHandle(ctx, s.User.UserID, handle); err != nil {
		return "", err
	}
	return s.User.UserID, nil
}

// RevokeUser ends every session of the user. It does not move the user's not-before time: do
// that too to also reject the user's access tokens. It returns gatehouse.ErrUnavailable if the
// store fails.
func (m *Manager) RevokeUser(ctx context.Context, userID string) error {
	hashes, err := m.store.DeleteUserSessions(ctx, userID)
	if err != nil {
		m.uncacheWhere(func(s *gatehouse.Session) bool { return s.User.UserID == userID })
		return storeErr("revoke user", err)
	}
	for _, h := range hashes {
		m.uncache(h)
	}
	return nil
}

// List returns the user's live sessions, oldest first: not idle- or absolute-expired, and not
// created before the user's not-before time. It returns gatehouse.ErrUnavailable if a store
// fails.
func (m *Manager) List(ctx context.Context, userID string) ([]*gatehouse.Session, error) {
	all, err := m.store.ListSessions(ctx, userID)
	if err != nil {
		return nil, storeErr("list", err)
	}
	nb, err := m.revs.NotBefore(ctx, userID)
	if err != nil {
		return nil, storeErr("list: not before", err)
	}
	now := m.now()
	live := all[:0]
	for _, s := range all {
		if !m.timedOut(s, now) && !gatehouse.IssuedBefore(s.CreatedAt, nb) {
			live = append(live, s)
		}
	}
	return live, nil
}

// DeleteExpired drops the sessions past their absolute expiry from the store, when it is a
// gatehouse.Expirer, and every timed-out session from the cache. It returns how many the store
// dropped. Run it from a background ticker.
func (m *Manager) DeleteExpired(ctx context.Context) (int, error) {
	now := m.now()
	m.uncacheWhere(func(s *gatehouse.Session) bool { return m.timedOut(s, now) })
	ex, ok := m.store.(gatehouse.Expirer)
	if !ok {
		return 0, nil
	}
	n, err := ex.DeleteExpired(ctx, now)
	if err != nil {
		return n, storeErr("delete expired", err)
	}
	return n, nil
}

// uncacheWhere drops every cached session for which drop is true (a full scan).
func (m *Manager) uncacheWhere(drop func(*gatehouse.Session) bool) {
	if m.cache != nil {
		m.cache.removeWhere(drop)
	}
}
