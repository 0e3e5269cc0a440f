package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
)

// TestSessionStore runs the gatehouse.SessionStore contract. newStore must return an empty store
// for each subtest. DeleteExpired is tested when the store is a gatehouse.Expirer.
func TestSessionStore(t *testing.T, newStore func(t *testing.T) gatehouse.SessionStore) {
	tests := []struct {
		name string
		fn   func(*testing.T, gatehouse.SessionStore)
	}{
		{"CreateFind", testSessionCreateFind},
		{"CreateConflict", testSessionCreateConflict},
		{"Touch", testSessionTouch},
		{"TouchAfterDelete", testSessionTouchAfterDelete},
		{"Delete", testSessionDelete},
		{"DeleteByHandle", testSessionDeleteByHandle},
		{"SessionByHandle", testSessionByHandle},
		{"ListOrder", testSessionListOrder},
		{"DeleteUserSessions", testSessionDeleteUser},
		{"DeleteExpired", testSessionDeleteExpired},
		{"Copies", testSessionCopies},
		{"AuthFields", testSessionAuthFields},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel() // each case has a store of its own
			tt.fn(t, newStore(t))
		})
	}
}

// sessionBase is a time with nanoseconds that a store with microsecond (or worse) precision
// would lose.
var sessionBase = testkit.Start().Add(123456789)

// NewTestSession returns a session of userID created at created, with a fresh random hash and
// handle, absolute expiry 12 hours later, a non-ASCII user agent, two groups, and a sign-in
// with a password and a one-time code.
func NewTestSession(userID string, created time.Time) *gatehouse.Session {
	return &gatehouse.Session{
		Hash:   gatehouse.HashSecret(gatehouse.NewSecret()),
		Handle: gatehouse.NewID(created),
		User: gatehouse.Principal{UserID: userID, Username: "user-" + userID, Name: "Zoë " + userID,
			Email: userID + "@example.test", Role: gatehouse.RoleUser, Groups: []string{"dev", "ops.on-call"}},
		CreatedAt:  created,
		LastSeenAt: created,
		ExpiresAt:  created.Add(12 * time.Hour),
		IP:         "2001:db8::1",
		UserAgent:  "Mozilla/5.0 (X11; Linux) — test ✓",
		AMR:        gatehouse.MethodPassword | gatehouse.MethodOTP,
	}
}

// SameSession reports the first difference between two sessions, comparing times with Equal.
func SameSession(got, want *gatehouse.Session) error {
	switch {
	case got == nil:
		return errors.New("session is nil")
	case got.Hash != want.Hash:
		return errors.New("hash differs")
	case got.Handle != want.Handle || !samePrincipal(got.User, want.User) || got.IP != want.IP ||
		got.UserAgent != want.UserAgent || got.AMR != want.AMR:
		return fmt.Errorf("fields differ: got %+v, want %+v", *got, *want)
	case !got.CreatedAt.Equal(want.CreatedAt):
		return fmt.Errorf("CreatedAt = %v, want %v", got.CreatedAt, want.CreatedAt)
	case !got.LastSeenAt.Equal(want.LastSeenAt):
		return fmt.Errorf("LastSeenAt = %v, want %v", got.LastSeenAt, want.LastSeenAt)
	case !got.ExpiresAt.Equal(want.ExpiresAt):
		return fmt.Errorf("ExpiresAt = %v, want %v", got.ExpiresAt, want.ExpiresAt)
	}
	return nil
}

// samePrincipal compares two principals; nil and empty group lists are the same.
func samePrincipal(a, b gatehouse.Principal) bool {
	return a.UserID == b.UserID && a.Username == b.Username && a.Name == b.Name &&
		a.Email == b.Email && a.Role == b.Role && slices.Equal(a.Groups, b.Groups)
}

func mustCreateSession(t *testing.T, st gatehouse.SessionStore, s *gatehouse.Session) {
	t.Helper()
	if err := st.CreateSession(context.Background(), s); err != nil {
		t.Fatalf("CreateSession: %v", err)
	}
}

// mustFindSession returns the session h, or nil if the store says it is not found.
func mustFindSession(t *testing.T, st gatehouse.SessionStore, h gatehouse.Hash) *gatehouse.Session {
	t.Helper()
	s, found, err := st.FindSession(context.Background(), h)
	if err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	if found != (s != nil) {
		t.Fatalf("FindSession: found=%v but session=%v", found, s)
	}
	return s
}

func testSessionCreateFind(t *testing.T, st gatehouse.SessionStore) {
	s := NewTestSession("u1", sessionBase)
	mustCreateSession(t, st, s)
	if err := SameSession(mustFindSession(t, st, s.Hash), s); err != nil {
		t.Fatalf("round trip: %v", err)
	}
	if got := mustFindSession(t, st, gatehouse.HashSecret("unknown")); got != nil {
		t.Fatalf("unknown hash found: %+v", got)
	}
}

func testSessionCreateConflict(t *testing.T, st gatehouse.SessionStore) {
	s := NewTestSession("u1", sessionBase)
	mustCreateSession(t, st, s)
	dup := NewTestSession("u2", sessionBase)
	dup.Hash = s.Hash
	if err := st.CreateSession(context.Background(), dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("duplicate hash: err = %v, want ErrConflict", err)
	}
	if err := SameSession(mustFindSession(t, st, s.Hash), s); err != nil {
		t.Fatalf("original after conflict: %v", err)
	}
}

func testSessionTouch(t *testing.T, st gatehouse.SessionStore) {
	s := NewTestSession("u1", sessionBase)
	mustCreateSession(t, st, s)
	seen := sessionBase.Add(7*time.Minute + 1)
	found, err := st.TouchSession(context.Background(), s.Hash, seen)
	if err != nil || !found {
		t.Fatalf("TouchSession = %v, %v; want true, nil", found, err)
	}
	want := *s
	want.LastSeenAt = seen
	if err := SameSession(mustFindSession(t, st, s.Hash), &want); err != nil {
		t.Fatalf("after touch: %v", err)
	}
}

func testSessionTouchAfterDelete(t *testing.T, st gatehouse.SessionStore) {
	ctx := context.Background()
	s := NewTestSession("u1", sessionBase)
	mustCreateSession(t, st, s)
	if found, err := st.DeleteSession(ctx, s.Hash); err != nil || !found {
		t.Fatalf("DeleteSession = %v, %v", found, err)
	}
	found, err := st.TouchSession(ctx, s.Hash, sessionBase.Add(time.Minute))
	if err != nil || found {
		t.Fatalf("TouchSession after delete = %v, %v; want false, nil", found, err)
	}
	if got := mustFindSession(t, st, s.Hash); got != nil {
		t.Fatalf("touch resurrected the session: %+v", got)
	}
	if list, err := st.ListSessions(ctx, "u1"); err != nil || len(list) != 0 {
		t.Fatalf("ListSessions after touch = %d sessions, %v; want none", len(list), err)
	}
}

func testSessionDelete(t *testing.T, st gatehouse.SessionStore) {
	ctx := context.Background()
	a, b := NewTestSession("u1", sessionBase), NewTestSession("u1", sessionBase.Add(time.Second))
	mustCreateSession(t, st, a)
	mustCreateSession(t, st, b)
	if found, err := st.DeleteSession(ctx, a.Hash); err != nil || !found {
		t.Fatalf("DeleteSession = %v, %v; want true, nil", found, err)
	}
	if found, err := st.DeleteSession(ctx, a.Hash); err != nil || found {
		t.Fatalf("second DeleteSession = %v, %v; want false, nil", found, err)
	}
	if mustFindSession(t, st, a.Hash) != nil {
		t.Fatal("deleted session still found")
	}
	if _, found, _ := st.SessionByHandle(ctx, a.Handle); found {
		t.Fatal("deleted session still found by handle")
	}
	if err := SameSession(mustFindSession(t, st, b.Hash), b); err != nil {
		t.Fatalf("other session: %v", err)
	}
}

func testSessionDeleteByHandle(t *testing.T, st gatehouse.SessionStore) {
	ctx := context.Background()
	s := NewTestSession("owner", sessionBase)
	mustCreateSession(t, st, s)
	if _, found, err := st.DeleteSessionByHandle(ctx, "intruder", s.Handle); err != nil || found {
		t.Fatalf("delete by another user = %v, %v; want false, nil", found, err)
	}
	if mustFindSession(t, st, s.Hash) == nil {
		t.Fatal("another user deleted the session")
	}
	h, found, err := st.DeleteSessionByHandle(ctx, "owner", s.Handle)
	if err != nil || !found || h != s.Hash {
		t.Fatalf("delete by owner = %x, %v, %v; want the session's hash", h, found, err)
	}
	if mustFindSession(t, st, s.Hash) != nil {
		t.Fatal("session survived delete by handle")
	}
	if _, found, err := st.DeleteSessionByHandle(ctx, "owner", s.Handle); err != nil || found {
		t.Fatalf("second delete = %v, %v; want false, nil", found, err)
	}
}

func testSessionByHandle(t *testing.T, st gatehouse.SessionStore) {
	ctx := context.Background()
	s := NewTestSession("u1", sessionBase)
	mustCreateSession(t, st, s)
	got, found, err := st.SessionByHandle(ctx, s.Handle)
	if err != nil || !found {
		t.Fatalf("SessionByHandle = %v, %v", found, err)
	}
	if err := SameSession(got, s); err != nil {
		t.Fatalf("SessionByHandle: %v", err)
	}
	if got, found, err := st.SessionByHandle(ctx, gatehouse.NewID(sessionBase)); err != nil || found || got != nil {
		t.Fatalf("unknown handle = %v, %v, %v; want nil, false, nil", got, found, err)
	}
}

func testSessionListOrder(t *testing.T, st gatehouse.SessionStore) {
	ctx := context.Background()
	// Created out of order, with times one nanosecond apart.
	c := NewTestSession("u1", sessionBase.Add(2))
	a := NewTestSession("u1", sessionBase)
	b := NewTestSession("u1", sessionBase.Add(1))
	for _, s := range []*gatehouse.Session{c, a, b, NewTestSession("u2", sessionBase)} {
		mustCreateSession(t, st, s)
	}
	list, err := st.ListSessions(ctx, "u1")
	if err != nil {
		t.Fatalf("ListSessions: %v", err)
	}
	want := []*gatehouse.Session{a, b, c}
	if len(list) != len(want) {
		t.Fatalf("ListSessions returned %d sessions, want %d", len(list), len(want))
	}
	for i := range want {
		if err := SameSession(list[i], want[i]); err != nil {
			t.Fatalf("ListSessions[%d]: %v", i, err)
		}
	}
	if list, err := st.ListSessions(ctx, "nobody"); err != nil || len(list) != 0 {
		t.Fatalf("ListSessions(nobody) = %d sessions, %v; want none", len(list), err)
	}
}

func testSessionDeleteUser(t *testing.T, st gatehouse.SessionStore) {
	ctx := context.Background()
	var want []gatehouse.Hash
	for i := range 3 {
		s := NewTestSession("u1", sessionBase.Add(time.Duration(i)))
		mustCreateSession(t, st, s)
		want = append(want, s.Hash)
	}
	other := NewTestSession("u2", sessionBase)
	mustCreateSession(t, st, other)
	got, err := st.DeleteUserSessions(ctx, "u1")
	if err != nil {
		t.Fatalf("DeleteUserSessions: %v", err)
	}
	if !sameHashes(got, want) {
		t.Fatalf("DeleteUserSessions returned %d hashes, not the user's %d", len(got), len(want))
	}
	for _, h := range want {
		if mustFindSession(t, st, h) != nil {
			t.Fatal("a deleted session is still found")
		}
	}
	if list, _ := st.ListSessions(ctx, "u1"); len(list) != 0 {
		t.Fatalf("ListSessions after delete = %d sessions", len(list))
	}
	if mustFindSession(t, st, other.Hash) == nil {
		t.Fatal("another user's session was deleted")
	}
	if got, err := st.DeleteUserSessions(ctx, "u1"); err != nil || len(got) != 0 {
		t.Fatalf("second DeleteUserSessions = %d, %v; want none", len(got), err)
	}
}

func sameHashes(a, b []gatehouse.Hash) bool {
	if len(a) != len(b) {
		return false
	}
	less := func(s []gatehouse.Hash) func(i, j int) bool {
		return func(i, j int) bool { return string(s[i][:]) < string(s[j][:]) }
	}
	a, b = append([]gatehouse.Hash(nil), a...), append([]gatehouse.Hash(nil), b...)
	sort.Slice(a, less(a))
	sort.Slice(b, less(b))
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testSessionDeleteExpired(t *testing.T, st gatehouse.SessionStore) {
	ex, ok := st.(gatehouse.Expirer)
	if !ok {
		t.Skip("store is not a gatehouse.Expirer")
	}
	dead := NewTestSession("u1", sessionBase)
	dead.ExpiresAt = sessionBase.Add(time.Hour)
	live := NewTestSession("u1", sessionBase)
	live.ExpiresAt = sessionBase.Add(time.Hour + time.Nanosecond)
	mustCreateSession(t, st, dead)
	mustCreateSession(t, st, live)
	n, err := ex.DeleteExpired(context.Background(), sessionBase.Add(time.Hour))
	if err != nil || n != 1 {
		t.Fatalf("DeleteExpired = %d, %v; want 1, nil", n, err)
	}
	if mustFindSession(t, st, dead.Hash) != nil {
		t.Fatal("expired session still found")
	}
	if err := SameSession(mustFindSession(t, st, live.Hash), live); err != nil {
		t.Fatalf("live session: %v", err)
	}
}

func testSessionCopies(t *testing.T, st gatehouse.SessionStore) {
	ctx := context.Background()
	s := NewTestSession("u1", sessionBase)
	want := *s
	want.User.Groups = slices.Clone(s.User.Groups)
	mustCreateSession(t, st, s)
	s.User.Role, s.IP, s.User.Groups[0] = gatehouse.RoleAdmin, "changed after create", "changed"
	got := mustFindSession(t, st, want.Hash)
	got.User.Role, got.LastSeenAt, got.User.Groups[0] = gatehouse.RoleAdmin, time.Time{}, "changed"
	byHandle, _, _ := st.SessionByHandle(ctx, want.Handle)
	byHandle.UserAgent = "changed"
	list, _ := st.ListSessions(ctx, "u1")
	list[0].ExpiresAt = time.Time{}
	if err := SameSession(mustFindSession(t, st, want.Hash), &want); err != nil {
		t.Fatalf("store shares memory with its callers: %v", err)
	}
}

// testSessionAuthFields: the groups and the sign-in methods round-trip whatever they hold,
// including none (a session stored before they were recorded) and every method at once.
func testSessionAuthFields(t *testing.T, st gatehouse.SessionStore) {
	cases := []struct {
		groups []string
		amr    gatehouse.AuthMethods
	}{
		{nil, 0},
		{nil, gatehouse.MethodPassword},
		{[]string{"a"}, 0},
		{[]string{"admins", "dev_team", "z.9-x"}, gatehouse.MethodHardwareKey | gatehouse.MethodUserVerified},
		{[]string{strings.Repeat("g", gatehouse.MaxGroupNameLength)}, gatehouse.MethodPassword | gatehouse.MethodOTP |
			gatehouse.MethodHardwareKey | gatehouse.MethodSoftwareKey | gatehouse.MethodUserVerified},
	}
	for i, c := range cases {
		s := NewTestSession(fmt.Sprintf("auth%d", i), sessionBase)
		s.User.Groups, s.AMR = c.groups, c.amr
		mustCreateSession(t, st, s)
		got := mustFindSession(t, st, s.Hash)
		if err := SameSession(got, s); err != nil {
			t.Fatalf("groups %q, methods %v: %v", c.groups, c.amr.AMR(), err)
		}
		if len(c.groups) == 0 && got.User.Groups != nil {
			t.Fatalf("no groups read back as %#v, want nil", got.User.Groups)
		}
		list, err := st.ListSessions(context.Background(), s.User.UserID)
		if err != nil || len(list) != 1 {
			t.Fatalf("ListSessions = %d sessions, %v", len(list), err)
		}
		if err := SameSession(list[0], s); err != nil {
			t.Fatalf("listed: %v", err)
		}
	}
}
