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
	if _, err := m.store.DeleteSession(ctx, gatehouse.HashSecret(secret)); err != nil {
		return storeErr("revoke", err)
	}
	return nil
}

// RevokeHandle ends the session with that public handle if it belongs to userID. It returns
// gatehouse.ErrNotFound if there is no such session or it is someone else's, and
// gatehouse.ErrUnavailable if the store fails.
func (m *Manager) RevokeHandle(ctx context.Context, userID, handle string) error {
	_, found, err := m.store.DeleteSessionByHandle(ctx, userID, handle)
	if err != nil {
		return storeErr("revoke handle", err)
	}
	if !found {
		return gatehouse.ErrNotFound
	}
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
	if _, err := m.store.DeleteUserSessions(ctx, userID); err != nil {
		return storeErr("revoke user", err)
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
// gatehouse.Expirer (a CachedStore is, and drops every timed-out session from its cache). It
// returns how many the store dropped. Run it from a background ticker.
func (m *Manager) DeleteExpired(ctx context.Context) (int, error) {
	now := m.now()
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
