package memory

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.SessionStore = (*SessionStore)(nil)
	_ gatehouse.Expirer      = (*SessionStore)(nil)
)

// SessionStore is a gatehouse.SessionStore in the memory of one process. Sessions are kept by
// hash, with indexes by handle and by user so that listing and deleting a user's sessions do
// not scan the whole store. Every method copies sessions in and out, so callers may change what
// they pass and what they get back. It never fails and never drops a session by itself: call
// DeleteExpired now and then.
type SessionStore struct {
	mu       sync.RWMutex
	byHash   map[gatehouse.Hash]*gatehouse.Session
	byHandle map[string]gatehouse.Hash
	byUser   map[string]userSessions
}

// userSessions are the hashes of one user's sessions: a slice while they are few, a set beyond
// userSlice. Most users have a session or two, and a map of one entry costs about 300 bytes of
// heap where a slice of one costs 32 (BenchmarkSessionHeap: 979 to 714 B per session with one
// session per user); a user with thousands of sessions keeps constant-time deletes.
type userSessions struct {
	few  []gatehouse.Hash
	many map[gatehouse.Hash]struct{}
}

// userSlice is the most sessions a user keeps in userSessions.few.
const userSlice = 8

func (u *userSessions) add(h gatehouse.Hash) {
	if u.many == nil && len(u.few) < userSlice {
		u.few = append(u.few, h)
		return
	}
	if u.many == nil {
		u.many = make(map[gatehouse.Hash]struct{}, 2*userSlice)
		for _, x := range u.few {
			u.many[x] = struct{}{}
		}
		u.few = nil
	}
	u.many[h] = struct{}{}
}

func (u *userSessions) remove(h gatehouse.Hash) {
	if u.many != nil {
		delete(u.many, h)
		return
	}
	for i, x := range u.few {
		if x == h {
			last := len(u.few) - 1
			u.few[i] = u.few[last]
			u.few = u.few[:last]
			return
		}
	}
}

func (u *userSessions) len() int { return len(u.few) + len(u.many) }

// hashes returns a new slice of the hashes.
func (u *userSessions) hashes() []gatehouse.Hash {
	out := make([]gatehouse.Hash, 0, u.len())
	out = append(out, u.few...)
	for h := range u.many {
		out = append(out, h)
	}
	return out
}

// NewSessionStore returns an empty SessionStore.
func NewSessionStore() *SessionStore {
	return &SessionStore{
		byHash:   make(map[gatehouse.Hash]*gatehouse.Session),
		byHandle: make(map[string]gatehouse.Hash),
		byUser:   make(map[string]userSessions),
	}
}

// CreateSession stores a copy of s. It returns gatehouse.ErrConflict if a session with the same
// hash or handle exists.
func (st *SessionStore) CreateSession(_ context.Context, s *gatehouse.Session) error {
	c := s.Clone()
	st.mu.Lock()
	defer st.mu.Unlock()
	if _, ok := st.byHash[c.Hash]; ok {
		return gatehouse.ErrConflict
	}
	if _, ok := st.byHandle[c.Handle]; ok {
		return gatehouse.ErrConflict
	}
	st.byHash[c.Hash] = c
	st.byHandle[c.Handle] = c.Hash
	u := st.byUser[c.User.UserID]
	u.add(c.Hash)
	st.byUser[c.User.UserID] = u
	return nil
}

// FindSession returns a copy of the session whose secret hashes to h; found=false if none.
func (st *SessionStore) FindSession(_ context.Context, h gatehouse.Hash) (*gatehouse.Session, bool, error) {
	st.mu.RLock()
	s, ok := st.byHash[h]
	if !ok {
		st.mu.RUnlock()
		return nil, false, nil
	}
	c := s.Clone()
	st.mu.RUnlock()
	return c, true, nil
}

// TouchSession sets LastSeenAt of the session h. It never creates a session: found=false if
// there is none.
func (st *SessionStore) TouchSession(_ context.Context, h gatehouse.Hash, lastSeen time.Time) (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s, ok := st.byHash[h]
	if !ok {
		return false, nil
	}
	// Mutating in place is safe: every read hands out a copy made under the lock.
	s.LastSeenAt = lastSeen
	return true, nil
}

// DeleteSession removes the session h; found=false if there is none.
func (st *SessionStore) DeleteSession(_ context.Context, h gatehouse.Hash) (bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	return st.deleteLocked(h), nil
}

// DeleteSessionByHandle removes the session with that handle if it belongs to userID and returns
// its hash; found=false if there is none or it belongs to someone else.
func (st *SessionStore) DeleteSessionByHandle(_ context.Context, userID, handle string) (gatehouse.Hash, bool, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	h, ok := st.byHandle[handle]
	if !ok || st.byHash[h].User.UserID != userID {
		return gatehouse.Hash{}, false, nil
	}
	st.deleteLocked(h)
	return h, true, nil
}

// SessionByHandle returns a copy of the session with that handle, whoever owns it.
func (st *SessionStore) SessionByHandle(_ context.Context, handle string) (*gatehouse.Session, bool, error) {
	st.mu.RLock()
	defer st.mu.RUnlock()
	h, ok := st.byHandle[handle]
	if !ok {
		return nil, false, nil
	}
	return st.byHash[h].Clone(), true, nil
}

// ListSessions returns copies of the user's sessions, oldest first (ties broken by handle),
// expired ones included.
func (st *SessionStore) ListSessions(_ context.Context, userID string) ([]*gatehouse.Session, error) {
	st.mu.RLock()
	u := st.byUser[userID]
	out := make([]*gatehouse.Session, 0, u.len())
	for _, h := range u.hashes() {
		out = append(out, st.byHash[h].Clone())
	}
	st.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if !a.CreatedAt.Equal(b.CreatedAt) {
			return a.CreatedAt.Before(b.CreatedAt)
		}
		return a.Handle < b.Handle
	})
	return out, nil
}

// DeleteUserSessions removes every session of the user and returns their hashes.
func (st *SessionStore) DeleteUserSessions(_ context.Context, userID string) ([]gatehouse.Hash, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	u := st.byUser[userID]
	out := u.hashes()
	for _, h := range out {
		st.deleteLocked(h)
	}
	return out, nil
}

// DeleteExpired removes the sessions whose ExpiresAt is not after now and returns how many. It
// scans every session; run it from a background ticker, not on the request path.
func (st *SessionStore) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	st.mu.Lock()
	defer st.mu.Unlock()
	n := 0
	for h, s := range st.byHash {
		if !s.ExpiresAt.After(now) {
			st.deleteLocked(h)
			n++
		}
	}
	return n, nil
}

// Len returns the number of stored sessions.
func (st *SessionStore) Len() int {
	st.mu.RLock()
	defer st.mu.RUnlock()
	return len(st.byHash)
}

// deleteLocked removes h from every index and reports whether it was there. st.mu must be held
// for writing.
func (st *SessionStore) deleteLocked(h gatehouse.Hash) bool {
	s, ok := st.byHash[h]
	if !ok {
		return false
	}
	delete(st.byHash, h)
	delete(st.byHandle, s.Handle)
	if u, ok := st.byUser[s.User.UserID]; ok {
		u.remove(h)
		if u.len() == 0 {
			delete(st.byUser, s.User.UserID)
		} else {
			st.byUser[s.User.UserID] = u
		}
	}
	return true
}

// CountSessions returns the number of stored sessions (gatehouse.SessionCounter).
func (st *SessionStore) CountSessions(context.Context) (int, error) { return st.Len(), nil }

var _ gatehouse.SessionCounter = (*SessionStore)(nil)
