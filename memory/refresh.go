package memory

import (
	"bytes"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.RefreshStore = (*RefreshStore)(nil)
	_ gatehouse.Expirer      = (*RefreshStore)(nil)
)

// RefreshStore is a gatehouse.RefreshStore in memory. One mutex guards everything, so of
// concurrent rotations of one token exactly one wins trivially.
type RefreshStore struct {
	mu       sync.Mutex
	families map[string]*refreshFamily
	tokens   map[gatehouse.Hash]string      // token hash -> family id
	byUser   map[string]map[string]struct{} // user id -> family ids
}

// refreshFamily is a family with every token hash it ever had; current is the live one, prev
// the one its latest rotation retired, with that rotation's time and sealed blob.
type refreshFamily struct {
	f          gatehouse.RefreshFamily
	current    gatehouse.Hash
	hashes     []gatehouse.Hash
	prev       gatehouse.Hash
	prevAt     time.Time
	prevSealed []byte
}

// NewRefreshStore returns an empty RefreshStore.
func NewRefreshStore() *RefreshStore {
	return &RefreshStore{
		families: make(map[string]*refreshFamily),
		tokens:   make(map[gatehouse.Hash]string),
		byUser:   make(map[string]map[string]struct{}),
	}
}

// CreateRefreshFamily stores f with h as its current token. It returns gatehouse.ErrConflict
// when the family id or the token hash is already known.
func (s *RefreshStore) CreateRefreshFamily(_ context.Context, f *gatehouse.RefreshFamily, h gatehouse.Hash) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.families[f.ID]; ok {
		return fmt.Errorf("memory: refresh family %s: %w", f.ID, gatehouse.ErrConflict)
	}
	if _, ok := s.tokens[h]; ok {
		return fmt.Errorf("memory: refresh token: %w", gatehouse.ErrConflict)
	}
	s.families[f.ID] = &refreshFamily{f: *f, current: h, hashes: []gatehouse.Hash{h}}
	s.tokens[h] = f.ID
	if s.byUser[f.UserID] == nil {
		s.byUser[f.UserID] = make(map[string]struct{})
	}
	s.byUser[f.UserID][f.ID] = struct{}{}
	return nil
}

// RotateRefresh makes rot.Next the current token of the family whose current token is rot.Old,
// or answers a replay within rot.Grace with the sealed blob of the latest rotation (see
// gatehouse.RefreshStore). It returns gatehouse.ErrNotFound for an unknown old,
// gatehouse.ErrTokenExpired (deleting the family) when the family is past ExpiresAt at now,
// gatehouse.ErrRefreshReuse (deleting the family) when old was already rotated, and
// gatehouse.ErrConflict when next is already known.
func (s *RefreshStore) RotateRefresh(_ context.Context, rot gatehouse.RefreshRotation) (*gatehouse.RefreshFamily, []byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.tokens[rot.Old]
	if !ok {
		return nil, nil, fmt.Errorf("memory: refresh token: %w", gatehouse.ErrNotFound)
	}
	fam := s.families[id]
	f := fam.f // a copy: the caller never shares the store's state
	switch {
	case !rot.Now.Before(fam.f.ExpiresAt):
		s.deleteFamily(id)
		return nil, nil, fmt.Errorf("memory: refresh family %s: %w", id, gatehouse.ErrTokenExpired)
	case rot.Old == fam.prev && rot.ReplayWithinGrace(fam.prevAt, fam.prevSealed):
		return &f, bytes.Clone(fam.prevSealed), nil
	case fam.current != rot.Old:
		s.deleteFamily(id)
		return &f, nil, fmt.Errorf("memory: refresh family %s: %w", id, gatehouse.ErrRefreshReuse) // the revoked family, for the audit trail
	}
	if _, ok := s.tokens[rot.Next]; ok {
		return nil, nil, fmt.Errorf("memory: refresh token: %w", gatehouse.ErrConflict)
	}
	fam.prev, fam.prevAt, fam.prevSealed = rot.Old, rot.Now, bytes.Clone(rot.Sealed)
	fam.current = rot.Next
	fam.hashes = append(fam.hashes, rot.Next)
	s.tokens[rot.Next] = id
	return &f, nil, nil
}

// RevokeRefreshFamily deletes the family and its tokens; found is false if it is unknown.
func (s *RefreshStore) RevokeRefreshFamily(_ context.Context, familyID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.families[familyID]; !ok {
		return false, nil
	}
	s.deleteFamily(familyID)
	return true, nil
}

// RefreshFamilyByToken returns the family that h belongs to, current or rotated.
func (s *RefreshStore) RefreshFamilyByToken(_ context.Context, h gatehouse.Hash) (*gatehouse.RefreshFamily, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.tokens[h]
	if !ok {
		return nil, false, nil
	}
	f := s.families[id].f
	return &f, true, nil
}

// RevokeUserRefresh deletes every family of the user.
func (s *RefreshStore) RevokeUserRefresh(_ context.Context, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for id := range s.byUser[userID] {
		s.deleteFamily(id)
	}
	return nil
}

// DeleteExpired deletes the families whose ExpiresAt is not after now and returns how many.
func (s *RefreshStore) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for id, fam := range s.families {
		if !now.Before(fam.f.ExpiresAt) {
			s.deleteFamily(id)
			n++
		}
	}
	return n, nil
}

// deleteFamily removes a known family, its tokens and its index entry. The caller holds mu.
func (s *RefreshStore) deleteFamily(id string) {
	fam := s.families[id]
	for _, h := range fam.hashes {
		delete(s.tokens, h)
	}
	delete(s.families, id)
	if ids := s.byUser[fam.f.UserID]; ids != nil {
		delete(ids, id)
		if len(ids) == 0 {
			delete(s.byUser, fam.f.UserID)
		}
	}
}
