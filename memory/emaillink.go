package memory

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.EmailLinkStore = (*EmailLinkStore)(nil)
	_ gatehouse.Expirer        = (*EmailLinkStore)(nil)
)

// EmailLinkStore is a gatehouse.EmailLinkStore in the memory of one process.
type EmailLinkStore struct {
	mu    sync.Mutex
	links map[gatehouse.Hash]gatehouse.EmailLink
}

// NewEmailLinkStore returns an empty EmailLinkStore.
func NewEmailLinkStore() *EmailLinkStore {
	return &EmailLinkStore{links: make(map[gatehouse.Hash]gatehouse.EmailLink)}
}

// CreateEmailLink stores a copy of l, first removing the user's other links of the same
// purpose when replace is set; gatehouse.ErrConflict if the hash exists.
func (s *EmailLinkStore) CreateEmailLink(_ context.Context, l *gatehouse.EmailLink, replace bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.links[l.Hash]; ok {
		return fmt.Errorf("memory: create email link: %w", gatehouse.ErrConflict)
	}
	if replace {
		s.deleteUser(l.UserID, l.Purpose)
	}
	s.links[l.Hash] = *l
	return nil
}

// ConsumeEmailLink removes and returns the link if it has purpose p and expires after now.
func (s *EmailLinkStore) ConsumeEmailLink(_ context.Context, h gatehouse.Hash, p gatehouse.LinkPurpose, now time.Time) (*gatehouse.EmailLink, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.links[h]
	if !ok || l.Purpose != p || !l.ExpiresAt.After(now) {
		return nil, false, nil
	}
	delete(s.links, h)
	return &l, true, nil
}

// DeleteUserEmailLinks removes the user's links of purpose p ("" for all).
func (s *EmailLinkStore) DeleteUserEmailLinks(_ context.Context, userID string, p gatehouse.LinkPurpose) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.deleteUser(userID, p), nil
}

func (s *EmailLinkStore) deleteUser(userID string, p gatehouse.LinkPurpose) int {
	n := 0
	for h, l := range s.links {
		if l.UserID == userID && (p == "" || l.Purpose == p) {
			delete(s.links, h)
			n++
		}
	}
	return n
}

// DeleteExpired removes the links that expired at or before now.
func (s *EmailLinkStore) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, l := range s.links {
		if !l.ExpiresAt.After(now) {
			delete(s.links, h)
			n++
		}
	}
	return n, nil
}
