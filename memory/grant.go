package memory

import (
	"context"
	"slices"
	"sort"
	"sync"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.GrantStore = (*GrantStore)(nil)

// GrantStore is a gatehouse.GrantStore in memory, for tests and single-process use. It hands
// out copies.
type GrantStore struct {
	mu     sync.RWMutex
	grants map[[2]string]gatehouse.Grant
}

// NewGrantStore returns an empty GrantStore.
func NewGrantStore() *GrantStore { return &GrantStore{grants: map[[2]string]gatehouse.Grant{}} }

func copyGrant(g gatehouse.Grant) *gatehouse.Grant {
	g.Scopes = slices.Clone(g.Scopes)
	return &g
}

// SaveGrant stores g, or replaces the scopes and update time of the existing grant.
func (s *GrantStore) SaveGrant(_ context.Context, g *gatehouse.Grant) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{g.UserID, g.ClientID}
	n := *copyGrant(*g)
	if old, ok := s.grants[k]; ok {
		n.CreatedAt = old.CreatedAt
	}
	s.grants[k] = n
	return nil
}

// Grant returns the user's grant to the client.
func (s *GrantStore) Grant(_ context.Context, userID, clientID string) (*gatehouse.Grant, bool, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	g, ok := s.grants[[2]string{userID, clientID}]
	if !ok {
		return nil, false, nil
	}
	return copyGrant(g), true, nil
}

// ListGrants returns the user's grants ordered by client id.
func (s *GrantStore) ListGrants(_ context.Context, userID string) ([]*gatehouse.Grant, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := []*gatehouse.Grant{}
	for k, g := range s.grants {
		if k[0] == userID {
			out = append(out, copyGrant(g))
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ClientID < out[j].ClientID })
	return out, nil
}

// DeleteGrant removes the user's grant to the client.
func (s *GrantStore) DeleteGrant(_ context.Context, userID, clientID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := [2]string{userID, clientID}
	_, ok := s.grants[k]
	delete(s.grants, k)
	return ok, nil
}
