package memory

import (
	"context"
	"fmt"
	"slices"
	"sync"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.UserStore = (*UserStore)(nil)

// UserStore is a gatehouse.UserStore in the memory of one process, for tests and for programs
// that embed gatehouse with their own persistence. It never fails and hands out copies.
type UserStore struct {
	mu     sync.RWMutex
	byID   map[string]*gatehouse.User
	byName map[string]string // normalised username -> id
}

// NewUserStore returns an empty UserStore.
func NewUserStore() *UserStore {
	return &UserStore{byID: make(map[string]*gatehouse.User), byName: make(map[string]string)}
}

// CreateUser stores a copy of u; gatehouse.ErrConflict when the username (in any case) or the
// id is taken, a bad_request *gatehouse.Error for an unknown role.
func (s *UserStore) CreateUser(_ context.Context, u *gatehouse.User) error {
	if !u.Role.Valid() {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "role: %q is not a known role", string(u.Role))
	}
	norm := gatehouse.NormalizeUsername(u.Username)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[norm]; ok {
		return fmt.Errorf("memory: create user: %w", gatehouse.ErrConflict)
	}
	if _, ok := s.byID[u.ID]; ok {
		return fmt.Errorf("memory: create user: %w", gatehouse.ErrConflict)
	}
	c := *u
	s.byID[u.ID], s.byName[norm] = &c, u.ID
	return nil
}

// UserByID returns a copy of the user, or an error wrapping gatehouse.ErrNotFound.
func (s *UserStore) UserByID(_ context.Context, id string) (*gatehouse.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.copyOf(id)
}

func (s *UserStore) copyOf(id string) (*gatehouse.User, error) {
	u, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("memory: user: %w", gatehouse.ErrNotFound)
	}
	c := *u
	return &c, nil
}

// UserByUsername looks the username up without regard to case.
func (s *UserStore) UserByUsername(_ context.Context, username string) (*gatehouse.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.copyOf(s.byName[gatehouse.NormalizeUsername(username)])
}

// ListUsers returns up to limit users ordered by id, after the id after.
func (s *UserStore) ListUsers(_ context.Context, after string, limit int) ([]*gatehouse.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.byID))
	for id := range s.byID {
		if id > after {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := []*gatehouse.User{}
	for _, id := range ids[:min(len(ids), max(limit, 0))] {
		u, _ := s.copyOf(id)
		out = append(out, u)
	}
	return out, nil
}

// UpdateUser applies upd and returns a copy of the updated user.
func (s *UserStore) UpdateUser(_ context.Context, id string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	if upd.Role != nil && !upd.Role.Valid() {
		return nil, gatehouse.Errorf(gatehouse.EBADREQUEST, "role: %q is not a known role", string(*upd.Role))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("memory: update user: %w", gatehouse.ErrNotFound)
	}
	if upd.Role != nil {
		u.Role = *upd.Role
	}
	if upd.Disabled != nil {
		u.Disabled = *upd.Disabled
	}
	if upd.PasswordHash != nil {
		u.PasswordHash = *upd.PasswordHash
	}
	return s.copyOf(id)
}

// DeleteUser removes the user, or returns an error wrapping gatehouse.ErrNotFound.
func (s *UserStore) DeleteUser(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return fmt.Errorf("memory: delete user: %w", gatehouse.ErrNotFound)
	}
	delete(s.byName, gatehouse.NormalizeUsername(u.Username))
	delete(s.byID, id)
	return nil
}

// CountUsers returns the number of users.
func (s *UserStore) CountUsers(context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID), nil
}
