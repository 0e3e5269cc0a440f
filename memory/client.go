package memory

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/gatehouse-auth/gatehouse"
)

var _ gatehouse.ClientStore = (*ClientStore)(nil)

// ClientStore is a gatehouse.ClientStore in memory, for tests and single-process use. It hands
// out copies, so callers never share its values.
type ClientStore struct {
	mu      sync.RWMutex
	clients map[string]gatehouse.Client
}

// NewClientStore returns an empty ClientStore.
func NewClientStore() *ClientStore { return &ClientStore{clients: make(map[string]gatehouse.Client)} }

// CreateClient stores a copy of c; gatehouse.ErrConflict if its id exists.
func (s *ClientStore) CreateClient(_ context.Context, c *gatehouse.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[c.ID]; ok {
		return fmt.Errorf("memory: create client: %w", gatehouse.ErrConflict)
	}
	s.clients[c.ID] = copyClient(c)
	return nil
}

// ClientByID returns a copy of the client; gatehouse.ErrNotFound if unknown.
func (s *ClientStore) ClientByID(_ context.Context, id string) (*gatehouse.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, fmt.Errorf("memory: client: %w", gatehouse.ErrNotFound)
	}
	out := copyClient(&c)
	return &out, nil
}

// ListClients returns up to limit clients ordered by id, after the id after.
func (s *ClientStore) ListClients(_ context.Context, after string, limit int) ([]*gatehouse.Client, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	ids := make([]string, 0, len(s.clients))
	for id := range s.clients {
		if id > after {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	out := []*gatehouse.Client{}
	for _, id := range ids {
		if len(out) >= limit {
			break
		}
		c := s.clients[id]
		cp := copyClient(&c)
		out = append(out, &cp)
	}
	return out, nil
}

// DeleteClient removes the client; gatehouse.ErrNotFound if unknown.
func (s *ClientStore) DeleteClient(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.clients[id]; !ok {
		return fmt.Errorf("memory: delete client: %w", gatehouse.ErrNotFound)
	}
	delete(s.clients, id)
	return nil
}

// UpdateClient replaces the stored client's fields but its id and creation time;
// gatehouse.ErrNotFound if unknown.
func (s *ClientStore) UpdateClient(_ context.Context, c *gatehouse.Client) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	old, ok := s.clients[c.ID]
	if !ok {
		return fmt.Errorf("memory: update client: %w", gatehouse.ErrNotFound)
	}
	nc := copyClient(c)
	nc.CreatedAt = old.CreatedAt
	s.clients[c.ID] = nc
	return nil
}

func copyClient(c *gatehouse.Client) gatehouse.Client {
	out := *c
	out.RedirectURIs = slices.Clone(c.RedirectURIs)
	out.Scopes = slices.Clone(c.Scopes)
	out.PostLogoutRedirectURIs = slices.Clone(c.PostLogoutRedirectURIs)
	return out
}
