package storetest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// FactorStores is what the second-factor contract runs on: the factor store, and the user store
// its users must exist in (SQL backends tie factors to users with a foreign key).
type FactorStores struct {
	Factors gatehouse.FactorStore
	Users   gatehouse.UserStore
}

// TestFactorStore runs the gatehouse.FactorStore contract. newStores must return empty stores
// for each subtest.
func TestFactorStore(t *testing.T, newStores func(t *testing.T) FactorStores) {
	tests := []struct {
		name string
		fn   func(*testing.T, FactorStores)
	}{
		{"TOTPPendingAndConfirm", testTOTPPendingConfirm},
		{"TOTPReplaceOnlyPending", testTOTPReplacePending},
		{"TOTPStepIsCompareAndSet", testTOTPStep},
		{"TOTPConcurrentStepOneWins", testTOTPStepConcurrent},
		{"RecoveryCodesSingleUse", testRecoveryCodes},
		{"RecoveryCodesConcurrentUseOneWins", testRecoveryConcurrent},
		{"WebAuthnCredentials", testWebAuthnCredentials},
		{"WebAuthnOwnerOnly", testWebAuthnOwner},
		{"DeleteUserFactors", testDeleteUserFactors},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newStores(t))
		})
	}
}

// factorUser creates a user in s and returns its id.
func factorUser(t *testing.T, s FactorStores, name string) string {
	t.Helper()
	u := NewTestUser(name, time.Now().UTC())
	mustCreateUser(t, s.Users, u)
	return u.ID
}

func pendingTOTP(userID string, sealed string) *gatehouse.TOTPFactor {
	now := time.Now().UTC().Truncate(time.Millisecond)
	return &gatehouse.TOTPFactor{ID: gatehouse.NewID(now), UserID: userID, Sealed: []byte(sealed), CreatedAt: now}
}

func mustTOTP(t *testing.T, st gatehouse.TOTPStore, userID string) *gatehouse.TOTPFactor {
	t.Helper()
	f, found, err := st.TOTP(context.Background(), userID)
	if err != nil || !found {
		t.Fatalf("TOTP(%s) = %v, %v, %v; want found", userID, f, found, err)
	}
	return f
}

func testTOTPPendingConfirm(t *testing.T, s FactorStores) {
	ctx := context.Background()
	st := s.Factors
	uid := factorUser(t, s, "tess")
	if f, found, err := st.TOTP(ctx, uid); err != nil || found {
		t.Fatalf("TOTP of a user without one = %v, %v, %v", f, found, err)
	}
	p := pendingTOTP(uid, "sealed-1")
	if err := st.PutPendingTOTP(ctx, p); err != nil {
		t.Fatal(err)
	}
	got := mustTOTP(t, st, uid)
	if got.Confirmed || got.ID != p.ID || string(got.Sealed) != "sealed-1" || !got.CreatedAt.Equal(p.CreatedAt) || got.LastStep != 0 || !got.ConfirmedAt.IsZero() {
		t.Fatalf("pending TOTP read back as %+v, want %+v", got, p)
	}
	// A code cannot be used against a pending factor.
	if ok, err := st.UseTOTPStep(ctx, uid, p.ID, 100); err != nil || ok {
		t.Fatalf("UseTOTPStep on a pending factor = %v, %v; want false", ok, err)
	}
	if ok, err := st.ConfirmTOTP(ctx, uid, "0000000000000000000000000x", 100, time.Now()); err != nil || ok {
		t.Fatalf("ConfirmTOTP of another enrolment id = %v, %v; want false", ok, err)
	}
	at := time.Now().UTC().Truncate(time.Millisecond)
	if ok, err := st.ConfirmTOTP(ctx, uid, p.ID, 100, at); err != nil || !ok {
		t.Fatalf("ConfirmTOTP = %v, %v; want true", ok, err)
	}
	got = mustTOTP(t, st, uid)
	if !got.Confirmed || got.LastStep != 100 || !got.ConfirmedAt.Equal(at) {
		t.Fatalf("confirmed TOTP read back as %+v", got)
	}
	if ok, err := st.ConfirmTOTP(ctx, uid, p.ID, 101, at); err != nil || ok {
		t.Fatalf("second ConfirmTOTP = %v, %v; want false", ok, err)
	}
	if found, err := st.DeleteTOTP(ctx, uid); err != nil || !found {
		t.Fatalf("DeleteTOTP = %v, %v", found, err)
	}
	if found, err := st.DeleteTOTP(ctx, uid); err != nil || found {
		t.Fatalf("second DeleteTOTP = %v, %v; want not found", found, err)
	}
	if _, found, err := st.TOTP(ctx, uid); err != nil || found {
		t.Fatalf("TOTP after delete: found=%v, %v", found, err)
	}
}

func testTOTPReplacePending(t *testing.T, s FactorStores) {
	ctx := context.Background()
	st := s.Factors
	uid := factorUser(t, s, "rita")
	first, second := pendingTOTP(uid, "first"), pendingTOTP(uid, "second")
	for _, p := range []*gatehouse.TOTPFactor{first, second} {
		if err := st.PutPendingTOTP(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	if got := mustTOTP(t, st, uid); got.ID != second.ID || string(got.Sealed) != "second" {
		t.Fatalf("after a second enrolment the store holds %+v", got)
	}
	// The replaced enrolment can no longer be confirmed.
	if ok, err := st.ConfirmTOTP(ctx, uid, first.ID, 5, time.Now()); err != nil || ok {
		t.Fatalf("ConfirmTOTP of a replaced enrolment = %v, %v; want false", ok, err)
	}
	if ok, err := st.ConfirmTOTP(ctx, uid, second.ID, 5, time.Now()); err != nil || !ok {
		t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
	}
	third := pendingTOTP(uid, "third")
	if err := st.PutPendingTOTP(ctx, third); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("PutPendingTOTP over a confirmed factor = %v, want ErrConflict", err)
	}
	if got := mustTOTP(t, st, uid); got.ID != second.ID || !got.Confirmed {
		t.Fatalf("a refused enrolment changed the factor: %+v", got)
	}
	// Each user has a factor of their own.
	other := factorUser(t, s, "otto")
	if err := st.PutPendingTOTP(ctx, pendingTOTP(other, "otto's")); err != nil {
		t.Fatal(err)
	}
	if got := mustTOTP(t, st, uid); string(got.Sealed) != "second" {
		t.Fatalf("another user's enrolment changed this one: %+v", got)
	}
}

func confirmedTOTP(t *testing.T, s FactorStores, name string, step int64) (uid, id string) {
	t.Helper()
	uid = factorUser(t, s, name)
	p := pendingTOTP(uid, "s")
	if err := s.Factors.PutPendingTOTP(context.Background(), p); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.Factors.ConfirmTOTP(context.Background(), uid, p.ID, step, time.Now()); err != nil || !ok {
		t.Fatalf("ConfirmTOTP = %v, %v", ok, err)
	}
	return uid, p.ID
}

func testTOTPStep(t *testing.T, s FactorStores) {
	ctx := context.Background()
	st := s.Factors
	uid, id := confirmedTOTP(t, s, "stan", 1000)
	for _, c := range []struct {
		step int64
		want bool
	}{{1000, false}, {999, false}, {1001, true}, {1001, false}, {1000, false}, {1003, true}, {1002, false}} {
		if ok, err := st.UseTOTPStep(ctx, uid, id, c.step); err != nil || ok != c.want {
			t.Fatalf("UseTOTPStep(%d) = %v, %v; want %v", c.step, ok, err, c.want)
		}
	}
	if got := mustTOTP(t, st, uid); got.LastStep != 1003 {
		t.Fatalf("LastStep = %d, want 1003", got.LastStep)
	}
	if ok, err := st.UseTOTPStep(ctx, uid, "0000000000000000000000000x", 2000); err != nil || ok {
		t.Fatalf("UseTOTPStep with another factor id = %v, %v; want false", ok, err)
	}
	if ok, err := st.UseTOTPStep(ctx, factorUser(t, s, "nobody"), id, 2000); err != nil || ok {
		t.Fatalf("UseTOTPStep for a user without the factor = %v, %v; want false", ok, err)
	}
}

func testTOTPStepConcurrent(t *testing.T, s FactorStores) {
	uid, id := confirmedTOTP(t, s, "cora", 10)
	for step := int64(11); step < 14; step++ {
		wins := race(t, 8, func() (bool, error) {
			return s.Factors.UseTOTPStep(context.Background(), uid, id, step)
		})
		if wins != 1 {
			t.Fatalf("step %d: %d concurrent uses accepted, want exactly 1", step, wins)
		}
	}
}

// race runs fn n times at once and returns how many returned true; any error fails the test.
func race(t *testing.T, n int, fn func() (bool, error)) int {
	t.Helper()
	var wins atomic.Int32
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			<-start
			ok, err := fn()
			if err != nil {
				errs <- err
			}
			if ok {
				wins.Add(1)
			}
		})
	}
	close(start)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent call: %v", err)
	}
	return int(wins.Load())
}

func codeHashes(prefix string, n int) []gatehouse.Hash {
	hs := make([]gatehouse.Hash, n)
	for i := range hs {
		hs[i] = gatehouse.HashSecret(prefix + string(rune('a'+i)))
	}
	return hs
}

func mustCountCodes(t *testing.T, st gatehouse.RecoveryCodeStore, uid string, want int) {
	t.Helper()
	if n, err := st.CountRecoveryCodes(context.Background(), uid); err != nil || n != want {
		t.Fatalf("CountRecoveryCodes = %d, %v; want %d", n, err, want)
	}
}

func testRecoveryCodes(t *testing.T, s FactorStores) {
	ctx := context.Background()
	st := s.Factors
	uid, other := factorUser(t, s, "rory"), factorUser(t, s, "olga")
	mustCountCodes(t, st, uid, 0)
	old := codeHashes("old", 10)
	if err := st.ReplaceRecoveryCodes(ctx, uid, old); err != nil {
		t.Fatal(err)
	}
	mustCountCodes(t, st, uid, 10)
	if ok, err := st.UseRecoveryCode(ctx, other, old[0]); err != nil || ok {
		t.Fatalf("another user's code = %v, %v; want refused", ok, err)
	}
	if ok, err := st.UseRecoveryCode(ctx, uid, old[0]); err != nil || !ok {
		t.Fatalf("UseRecoveryCode = %v, %v", ok, err)
	}
	if ok, err := st.UseRecoveryCode(ctx, uid, old[0]); err != nil || ok {
		t.Fatalf("second use of a code = %v, %v; want refused", ok, err)
	}
	mustCountCodes(t, st, uid, 9)
	fresh := codeHashes("new", 10)
	if err := st.ReplaceRecoveryCodes(ctx, uid, fresh); err != nil {
		t.Fatal(err)
	}
	mustCountCodes(t, st, uid, 10)
	if ok, err := st.UseRecoveryCode(ctx, uid, old[1]); err != nil || ok {
		t.Fatalf("a voided code = %v, %v; want refused", ok, err)
	}
	if ok, err := st.UseRecoveryCode(ctx, uid, fresh[9]); err != nil || !ok {
		t.Fatalf("a new code = %v, %v", ok, err)
	}
	if err := st.ReplaceRecoveryCodes(ctx, uid, nil); err != nil {
		t.Fatal(err)
	}
	mustCountCodes(t, st, uid, 0)
	mustCountCodes(t, st, other, 0)
}

func testRecoveryConcurrent(t *testing.T, s FactorStores) {
	uid := factorUser(t, s, "cody")
	hs := codeHashes("c", 3)
	if err := s.Factors.ReplaceRecoveryCodes(context.Background(), uid, hs); err != nil {
		t.Fatal(err)
	}
	for _, h := range hs {
		if wins := race(t, 8, func() (bool, error) {
			return s.Factors.UseRecoveryCode(context.Background(), uid, h)
		}); wins != 1 {
			t.Fatalf("%d concurrent uses of one code accepted, want exactly 1", wins)
		}
	}
	mustCountCodes(t, s.Factors, uid, 0)
}

func newCredential(uid string, id string, at time.Time) *gatehouse.WebAuthnCredential {
	return &gatehouse.WebAuthnCredential{
		ID: []byte(id), UserID: uid, Name: "Schlüssel " + id, PublicKey: []byte{0xa5, 0x01, 0x02, 0x03, 0x26},
		AttestationType: "none", Transports: []string{"usb", "nfc"}, AAGUID: bytes.Repeat([]byte{7}, 16),
		SignCount: 3, Discoverable: true, UserVerified: true, BackupEligible: true, BackupState: false,
		CreatedAt: at,
	}
}

func sameCredential(t *testing.T, got, want *gatehouse.WebAuthnCredential) {
	t.Helper()
	if !bytes.Equal(got.ID, want.ID) || got.UserID != want.UserID || got.Name != want.Name ||
		!bytes.Equal(got.PublicKey, want.PublicKey) || got.AttestationType != want.AttestationType ||
		!slices.Equal(got.Transports, want.Transports) || !bytes.Equal(got.AAGUID, want.AAGUID) ||
		got.SignCount != want.SignCount || got.Discoverable != want.Discoverable ||
		got.UserVerified != want.UserVerified || got.BackupEligible != want.BackupEligible ||
		got.BackupState != want.BackupState || !got.CreatedAt.Equal(want.CreatedAt) || !got.LastUsedAt.Equal(want.LastUsedAt) {
		t.Fatalf("credential read back as\n%+v\nwant\n%+v", got, want)
	}
}

func testWebAuthnCredentials(t *testing.T, s FactorStores) {
	ctx := context.Background()
	st := s.Factors
	uid := factorUser(t, s, "wendy")
	if list, err := st.WebAuthnCredentials(ctx, uid); err != nil || len(list) != 0 {
		t.Fatalf("credentials of a new user = %v, %v", list, err)
	}
	base := time.Now().UTC().Truncate(time.Millisecond)
	a, b := newCredential(uid, "cred-a", base), newCredential(uid, "cred-b", base.Add(time.Second))
	b.Transports, b.Discoverable, b.AAGUID = nil, false, make([]byte, 16)
	for _, c := range []*gatehouse.WebAuthnCredential{b, a} {
		if err := st.CreateWebAuthnCredential(ctx, c); err != nil {
			t.Fatal(err)
		}
	}
	list, err := st.WebAuthnCredentials(ctx, uid)
	if err != nil || len(list) != 2 {
		t.Fatalf("WebAuthnCredentials = %d, %v; want 2", len(list), err)
	}
	sameCredential(t, list[0], a)
	sameCredential(t, list[1], b)
	got, found, err := st.WebAuthnCredentialByID(ctx, a.ID)
	if err != nil || !found {
		t.Fatalf("WebAuthnCredentialByID = %v, %v", found, err)
	}
	sameCredential(t, got, a)
	if _, found, err := st.WebAuthnCredentialByID(ctx, []byte("nope")); err != nil || found {
		t.Fatalf("unknown credential id: found=%v, %v", found, err)
	}
	// A credential id is unique among all users.
	dup := newCredential(factorUser(t, s, "mallory"), "cred-a", base)
	if err := st.CreateWebAuthnCredential(ctx, dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("a registered credential id again = %v, want ErrConflict", err)
	}
	use := gatehouse.WebAuthnUse{SignCount: 9, BackupState: true, At: base.Add(time.Minute)}
	if found, err := st.RecordWebAuthnUse(ctx, uid, a.ID, use); err != nil || !found {
		t.Fatalf("RecordWebAuthnUse = %v, %v", found, err)
	}
	if found, err := st.RenameWebAuthnCredential(ctx, uid, a.ID, "phone"); err != nil || !found {
		t.Fatalf("RenameWebAuthnCredential = %v, %v", found, err)
	}
	a.SignCount, a.BackupState, a.LastUsedAt, a.Name = 9, true, use.At, "phone"
	got, _, err = st.WebAuthnCredentialByID(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	sameCredential(t, got, a)
	if found, err := st.DeleteWebAuthnCredential(ctx, uid, a.ID); err != nil || !found {
		t.Fatalf("DeleteWebAuthnCredential = %v, %v", found, err)
	}
	if found, err := st.DeleteWebAuthnCredential(ctx, uid, a.ID); err != nil || found {
		t.Fatalf("second DeleteWebAuthnCredential = %v, %v; want not found", found, err)
	}
	if list, err := st.WebAuthnCredentials(ctx, uid); err != nil || len(list) != 1 || string(list[0].ID) != "cred-b" {
		t.Fatalf("after delete: %v, %v", list, err)
	}
}

func testWebAuthnOwner(t *testing.T, s FactorStores) {
	ctx := context.Background()
	st := s.Factors
	uid, other := factorUser(t, s, "owen"), factorUser(t, s, "eve")
	c := newCredential(uid, "owens-key", time.Now().UTC().Truncate(time.Millisecond))
	if err := st.CreateWebAuthnCredential(ctx, c); err != nil {
		t.Fatal(err)
	}
	if found, err := st.RecordWebAuthnUse(ctx, other, c.ID, gatehouse.WebAuthnUse{SignCount: 50, At: time.Now()}); err != nil || found {
		t.Fatalf("RecordWebAuthnUse by another user = %v, %v; want not found", found, err)
	}
	if found, err := st.RenameWebAuthnCredential(ctx, other, c.ID, "mine now"); err != nil || found {
		t.Fatalf("RenameWebAuthnCredential by another user = %v, %v; want not found", found, err)
	}
	if found, err := st.DeleteWebAuthnCredential(ctx, other, c.ID); err != nil || found {
		t.Fatalf("DeleteWebAuthnCredential by another user = %v, %v; want not found", found, err)
	}
	got, found, err := st.WebAuthnCredentialByID(ctx, c.ID)
	if err != nil || !found {
		t.Fatalf("credential gone: %v, %v", found, err)
	}
	sameCredential(t, got, c)
}

func testDeleteUserFactors(t *testing.T, s FactorStores) {
	ctx := context.Background()
	st := s.Factors
	uid, _ := confirmedTOTP(t, s, "dora", 7)
	keep, _ := confirmedTOTP(t, s, "kate", 7)
	for _, u := range []string{uid, keep} {
		if err := st.ReplaceRecoveryCodes(ctx, u, codeHashes(u, 10)); err != nil {
			t.Fatal(err)
		}
		if err := st.CreateWebAuthnCredential(ctx, newCredential(u, "key-of-"+u, time.Now().UTC())); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.DeleteUserFactors(ctx, uid); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.TOTP(ctx, uid); err != nil || found {
		t.Fatalf("TOTP after DeleteUserFactors: found=%v, %v", found, err)
	}
	mustCountCodes(t, st, uid, 0)
	if list, err := st.WebAuthnCredentials(ctx, uid); err != nil || len(list) != 0 {
		t.Fatalf("credentials after DeleteUserFactors: %d, %v", len(list), err)
	}
	// The other user keeps everything.
	mustTOTP(t, st, keep)
	mustCountCodes(t, st, keep, 10)
	if list, err := st.WebAuthnCredentials(ctx, keep); err != nil || len(list) != 1 {
		t.Fatalf("another user's credentials: %d, %v", len(list), err)
	}
}
