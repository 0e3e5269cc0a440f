package memory

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.UserStore = (*UserStore)(nil)

// UserStore is a gatehouse.UserStore in the memory of one process, for tests and for programs
// that embed gatehouse with their own persistence. It never fails and hands out copies.
type UserStore struct {
	mu      sync.RWMutex
	byID    map[string]*gatehouse.User
	byName  map[string]string // normalised username -> id
	byEmail map[string]string // normalised e-mail -> id, for users with one
}

// NewUserStore returns an empty UserStore.
func NewUserStore() *UserStore {
	return &UserStore{byID: make(map[string]*gatehouse.User), byName: make(map[string]string),
		byEmail: make(map[string]string)}
}

// CreateUser stores a copy of u; gatehouse.ErrConflict when the username (in any case) or the
// id is taken, gatehouse.ErrEmailTaken when the address (in any case) is, a bad_request
// *gatehouse.Error for an unknown role or a group list that is not normalised.
func (s *UserStore) CreateUser(_ context.Context, u *gatehouse.User) error {
	if err := checkUser(u.Role, u.Groups); err != nil {
		return err
	}
	norm, email := gatehouse.NormalizeUsername(u.Username), gatehouse.NormalizeEmail(u.Email)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.byName[norm]; ok {
		return fmt.Errorf("memory: create user: %w", gatehouse.ErrConflict)
	}
	if _, ok := s.byID[u.ID]; ok {
		return fmt.Errorf("memory: create user: %w", gatehouse.ErrConflict)
	}
	if _, ok := s.byEmail[email]; ok && email != "" {
		return fmt.Errorf("memory: create user: %w", gatehouse.ErrEmailTaken)
	}
	c := *u
	c.Groups = slices.Clone(u.Groups)
	if c.Groups == nil {
		c.Groups = []string{}
	}
	s.byID[u.ID], s.byName[norm] = &c, u.ID
	if email != "" {
		s.byEmail[email] = u.ID
	}
	return nil
}

func checkUser(r gatehouse.Role, groups []string) error {
	if !r.Valid() {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "role: %q is not a known role", string(r))
	}
	return gatehouse.CheckGroups(groups)
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
	c.Groups = slices.Clone(u.Groups)
	return &c, nil
}

// UserByUsername looks the username up without regard to case.
func (s *UserStore) UserByUsername(_ context.Context, username string) (*gatehouse.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.copyOf(s.byName[gatehouse.NormalizeUsername(username)])
}

// UserByEmail looks the address up without regard to case.
func (s *UserStore) UserByEmail(_ context.Context, email string) (*gatehouse.User, error) {
	if email == "" {
		return nil, fmt.Errorf("memory: user by email: %w", gatehouse.ErrNotFound)
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.copyOf(s.byEmail[gatehouse.NormalizeEmail(email)])
}

// ListUsers returns up to limit users ordered by id, after the id after.
func (s *UserStore) ListUsers(ctx context.Context, after string, limit int) ([]*gatehouse.User, error) {
	return s.SearchUsers(ctx, gatehouse.UserQuery{After: after, Limit: limit})
}

// SearchUsers returns up to q.Limit users after q.After, ordered by id, whose username, name
// or e-mail contains q.Search without regard to case.
func (s *UserStore) SearchUsers(_ context.Context, q gatehouse.UserQuery) ([]*gatehouse.User, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	needle := strings.ToLower(q.Search)
	ids := make([]string, 0, len(s.byID))
	for id, u := range s.byID {
		if id > q.After && matches(u, needle) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	out := []*gatehouse.User{}
	for _, id := range ids[:min(len(ids), max(q.Limit, 0))] {
		u, _ := s.copyOf(id)
		out = append(out, u)
	}
	return out, nil
}

func matches(u *gatehouse.User, needle string) bool {
	return needle == "" || strings.Contains(strings.ToLower(u.Username), needle) ||
		strings.Contains(strings.ToLower(u.Name), needle) || strings.Contains(strings.ToLower(u.Email), needle)
}

// UpdateUser applies upd and returns a copy of the updated user.
func (s *UserStore) UpdateUser(_ context.Context, id string, upd gatehouse.UserUpdate) (*gatehouse.User, error) {
	if err := checkUpdate(upd); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.byID[id]
	if !ok {
		return nil, fmt.Errorf("memory: update user: %w", gatehouse.ErrNotFound)
	}
	if upd.Email != nil {
		if err := s.moveEmail(u, *upd.Email); err != nil {
			return nil, err
		}
	}
	apply(u, upd)
	return s.copyOf(id)
}

// checkUpdate checks the fields of upd that stores check: the role and the group list.
func checkUpdate(upd gatehouse.UserUpdate) error {
	if upd.Role != nil && !upd.Role.Valid() {
		return gatehouse.Errorf(gatehouse.EBADREQUEST, "role: %q is not a known role", string(*upd.Role))
	}
	if upd.Groups != nil {
		return gatehouse.CheckGroups(*upd.Groups)
	}
	return nil
}

// moveEmail re-indexes u under its new address, or fails if another user has it.
func (s *UserStore) moveEmail(u *gatehouse.User, email string) error {
	old, norm := gatehouse.NormalizeEmail(u.Email), gatehouse.NormalizeEmail(email)
	if owner, ok := s.byEmail[norm]; ok && norm != "" && owner != u.ID {
		return fmt.Errorf("memory: update user: %w", gatehouse.ErrEmailTaken)
	}
	if old != "" && s.byEmail[old] == u.ID {
		delete(s.byEmail, old)
	}
	if norm != "" {
		s.byEmail[norm] = u.ID
	}
	return nil
}

func apply(u *gatehouse.User, upd gatehouse.UserUpdate) {
	set(&u.Name, upd.Name)
	set(&u.Email, upd.Email)
	set(&u.EmailVerified, upd.EmailVerified)
	set(&u.Role, upd.Role)
	set(&u.Disabled, upd.Disabled)
	set(&u.PasswordHash, upd.PasswordHash)
	if upd.Groups != nil {
		u.Groups = slices.Clone(*upd.Groups)
		if u.Groups == nil {
			u.Groups = []string{}
		}
	}
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
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
	if e := gatehouse.NormalizeEmail(u.Email); e != "" && s.byEmail[e] == id {
		delete(s.byEmail, e)
	}
	delete(s.byID, id)
	return nil
}

// CountUsers returns the number of users.
func (s *UserStore) CountUsers(context.Context) (int, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.byID), nil
}
