package memory

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

var (
	_ gatehouse.FactorStore    = (*FactorStore)(nil)
	_ gatehouse.ChallengeStore = (*ChallengeStore)(nil)
	_ gatehouse.Expirer        = (*ChallengeStore)(nil)
)

// FactorStore is a gatehouse.FactorStore in memory. One mutex guards everything, so every
// compare-and-set (a TOTP step, a recovery code) is trivially atomic. It hands out copies.
type FactorStore struct {
	mu    sync.Mutex
	totp  map[string]gatehouse.TOTPFactor
	codes map[string]map[gatehouse.Hash]struct{}
	creds map[string]*gatehouse.WebAuthnCredential // string(credential id) -> credential
}

// NewFactorStore returns an empty FactorStore.
func NewFactorStore() *FactorStore {
	return &FactorStore{
		totp:  make(map[string]gatehouse.TOTPFactor),
		codes: make(map[string]map[gatehouse.Hash]struct{}),
		creds: make(map[string]*gatehouse.WebAuthnCredential),
	}
}

// PutPendingTOTP stores f as the user's pending enrolment; gatehouse.ErrConflict when the user
// has a confirmed factor.
func (s *FactorStore) PutPendingTOTP(_ context.Context, f *gatehouse.TOTPFactor) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if cur, ok := s.totp[f.UserID]; ok && cur.Confirmed {
		return fmt.Errorf("memory: put pending TOTP: %w", gatehouse.ErrConflict)
	}
	c := *f
	c.Sealed, c.Confirmed, c.ConfirmedAt, c.LastStep = bytes.Clone(f.Sealed), false, time.Time{}, 0
	s.totp[f.UserID] = c
	return nil
}

// TOTP returns a copy of the user's TOTP factor.
func (s *FactorStore) TOTP(_ context.Context, userID string) (*gatehouse.TOTPFactor, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.totp[userID]
	if !ok {
		return nil, false, nil
	}
	f.Sealed = bytes.Clone(f.Sealed)
	return &f, true, nil
}

// ConfirmTOTP confirms the pending enrolment id.
func (s *FactorStore) ConfirmTOTP(_ context.Context, userID, id string, step int64, at time.Time) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.totp[userID]
	if !ok || f.ID != id || f.Confirmed {
		return false, nil
	}
	f.Confirmed, f.ConfirmedAt, f.LastStep = true, at, step
	s.totp[userID] = f
	return true, nil
}

// UseTOTPStep records step if it is later than the last accepted one.
func (s *FactorStore) UseTOTPStep(_ context.Context, userID, id string, step int64) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f, ok := s.totp[userID]
	if !ok || f.ID != id || !f.Confirmed || step <= f.LastStep {
		return false, nil
	}
	f.LastStep = step
	s.totp[userID] = f
	return true, nil
}

// DeleteTOTP removes the user's TOTP factor.
func (s *FactorStore) DeleteTOTP(_ context.Context, userID string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.totp[userID]
	delete(s.totp, userID)
	return ok, nil
}

// ReplaceRecoveryCodes makes hashes the user's recovery codes.
func (s *FactorStore) ReplaceRecoveryCodes(_ context.Context, userID string, hashes []gatehouse.Hash) error {
	set := make(map[gatehouse.Hash]struct{}, len(hashes))
	for _, h := range hashes {
		set[h] = struct{}{}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(set) == 0 {
		delete(s.codes, userID)
		return nil
	}
	s.codes[userID] = set
	return nil
}

// UseRecoveryCode removes the user's code whose hash is h.
func (s *FactorStore) UseRecoveryCode(_ context.Context, userID string, h gatehouse.Hash) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.codes[userID]
	if _, ok := set[h]; !ok {
		return false, nil
	}
	delete(set, h)
	return true, nil
}

// CountRecoveryCodes returns the number of the user's unused codes.
func (s *FactorStore) CountRecoveryCodes(_ context.Context, userID string) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.codes[userID]), nil
}

func cloneCredential(c *gatehouse.WebAuthnCredential) *gatehouse.WebAuthnCredential {
	d := *c
	d.ID, d.PublicKey, d.AAGUID = bytes.Clone(c.ID), bytes.Clone(c.PublicKey), bytes.Clone(c.AAGUID)
	d.Transports = slices.Clone(c.Transports)
	return &d
}

// CreateWebAuthnCredential stores a copy of c; gatehouse.ErrConflict when its id is known.
func (s *FactorStore) CreateWebAuthnCredential(_ context.Context, c *gatehouse.WebAuthnCredential) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.creds[string(c.ID)]; ok {
		return fmt.Errorf("memory: create WebAuthn credential: %w", gatehouse.ErrConflict)
	}
	s.creds[string(c.ID)] = cloneCredential(c)
	return nil
}

// WebAuthnCredentials returns copies of the user's credentials, oldest first.
func (s *FactorStore) WebAuthnCredentials(_ context.Context, userID string) ([]*gatehouse.WebAuthnCredential, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*gatehouse.WebAuthnCredential
	for _, c := range s.creds {
		if c.UserID == userID {
			out = append(out, cloneCredential(c))
		}
	}
	slices.SortFunc(out, func(a, b *gatehouse.WebAuthnCredential) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return bytes.Compare(a.ID, b.ID)
	})
	return out, nil
}

// WebAuthnCredentialByID returns a copy of the credential with that id.
func (s *FactorStore) WebAuthnCredentialByID(_ context.Context, id []byte) (*gatehouse.WebAuthnCredential, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.creds[string(id)]
	if !ok {
		return nil, false, nil
	}
	return cloneCredential(c), true, nil
}

// owned returns the user's credential id, or nil. The caller holds s.mu.
func (s *FactorStore) owned(userID string, id []byte) *gatehouse.WebAuthnCredential {
	if c, ok := s.creds[string(id)]; ok && c.UserID == userID {
		return c
	}
	return nil
}

// RecordWebAuthnUse records an assertion with the user's credential id.
func (s *FactorStore) RecordWebAuthnUse(_ context.Context, userID string, id []byte, use gatehouse.WebAuthnUse) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.owned(userID, id)
	if c == nil {
		return false, nil
	}
	c.SignCount, c.BackupState, c.LastUsedAt = use.SignCount, use.BackupState, use.At
	return true, nil
}

// RenameWebAuthnCredential renames the user's credential id.
func (s *FactorStore) RenameWebAuthnCredential(_ context.Context, userID string, id []byte, name string) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.owned(userID, id)
	if c == nil {
		return false, nil
	}
	c.Name = name
	return true, nil
}

// DeleteWebAuthnCredential removes the user's credential id.
func (s *FactorStore) DeleteWebAuthnCredential(_ context.Context, userID string, id []byte) (bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.owned(userID, id) == nil {
		return false, nil
	}
	delete(s.creds, string(id))
	return true, nil
}

// DeleteUserFactors removes every factor of the user.
func (s *FactorStore) DeleteUserFactors(_ context.Context, userID string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.totp, userID)
	delete(s.codes, userID)
	for id, c := range s.creds {
		if c.UserID == userID {
			delete(s.creds, id)
		}
	}
	return nil
}

// ChallengeStore is a gatehouse.ChallengeStore in memory: it suits one instance (a challenge
// started on one instance is unknown to the others).
type ChallengeStore struct {
	mu sync.Mutex
	m  map[gatehouse.Hash]*gatehouse.Challenge
}

// NewChallengeStore returns an empty ChallengeStore.
func NewChallengeStore() *ChallengeStore {
	return &ChallengeStore{m: make(map[gatehouse.Hash]*gatehouse.Challenge)}
}

func cloneChallenge(c *gatehouse.Challenge) *gatehouse.Challenge {
	d := *c
	d.AMR, d.Data = slices.Clone(c.AMR), bytes.Clone(c.Data)
	return &d
}

// PutChallenge stores a copy of c; gatehouse.ErrConflict if its hash is known.
func (s *ChallengeStore) PutChallenge(_ context.Context, c *gatehouse.Challenge) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.m[c.Hash]; ok {
		return fmt.Errorf("memory: put challenge: %w", gatehouse.ErrConflict)
	}
	s.m[c.Hash] = cloneChallenge(c)
	return nil
}

// FindChallenge returns a copy of the live challenge h.
func (s *ChallengeStore) FindChallenge(_ context.Context, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[h]
	if !ok || !now.Before(c.ExpiresAt) {
		return nil, false, nil
	}
	return cloneChallenge(c), true, nil
}

// TakeChallenge removes and returns the live challenge h.
func (s *ChallengeStore) TakeChallenge(_ context.Context, h gatehouse.Hash, now time.Time) (*gatehouse.Challenge, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.m[h]
	if !ok {
		return nil, false, nil
	}
	delete(s.m, h)
	if !now.Before(c.ExpiresAt) {
		return nil, false, nil
	}
	return c, true, nil
}

// DeleteExpired removes the challenges that expired at now.
func (s *ChallengeStore) DeleteExpired(_ context.Context, now time.Time) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for h, c := range s.m {
		if !now.Before(c.ExpiresAt) {
			delete(s.m, h)
			n++
		}
	}
	return n, nil
}
