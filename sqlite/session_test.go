package sqlite_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func TestSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(t *testing.T) gatehouse.SessionStore {
		return sqlite.NewSessionStore(MustOpen(t))
	})
}

// TestSessionStoreClosed checks that a dead database gives ErrUnavailable, also for the
// prepared queries, whether they were prepared before the close or not.
func TestSessionStoreClosed(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	st := sqlite.NewSessionStore(db)
	s := storetest.NewTestSession("u1", time.Now())
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	if _, found, err := st.FindSession(ctx, s.Hash); err != nil || !found {
		t.Fatalf("FindSession = %v, %v", found, err)
	}
	db.Close()
	if _, _, err := st.FindSession(ctx, s.Hash); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("FindSession on a closed database = %v, want ErrUnavailable", err)
	}
	if _, err := st.TouchSession(ctx, s.Hash, time.Now()); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("TouchSession on a closed database = %v, want ErrUnavailable", err)
	}
	if _, err := st.ListSessions(ctx, "u1"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("ListSessions on a closed database = %v, want ErrUnavailable", err)
	}
	if _, err := st.DeleteUserSessions(ctx, "u1"); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("DeleteUserSessions on a closed database = %v, want ErrUnavailable", err)
	}
}

// newCompactUser stores a user and returns it with a session of theirs made as a sign-in makes
// it: the handle derived from the hash, the principal the user's row.
func newCompactUser(t *testing.T, users *sqlite.UserStore, name string) (*gatehouse.User, *gatehouse.Session) {
	t.Helper()
	now := gatehouse.Now()
	u := storetest.NewTestUser(name, now)
	u.Groups = []string{"dev", "ops"}
	if err := users.CreateUser(context.Background(), u); err != nil {
		t.Fatal(err)
	}
	s := storetest.NewTestSession(u.ID, now)
	s.Handle, s.User = gatehouse.SessionHandle(s.Hash), u.Principal()
	return u, s
}

// TestSessionCompactRow: a session made by a sign-in stores neither its handle nor its
// principal, and reads both back, by hash, by handle and in the user's list; a change of name
// is read as it is now; a session whose user is gone is not found; a principal that is not the
// user's row is stored in full.
func TestSessionCompactRow(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	users, st := sqlite.NewUserStore(db), sqlite.NewSessionStore(db)
	u, s := newCompactUser(t, users, "carol")
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	var stored int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM sessions WHERE handle IS NULL AND username IS NULL
		AND name IS NULL AND email IS NULL AND role IS NULL AND groups IS NULL`).Scan(&stored); err != nil || stored != 1 {
		t.Fatalf("compact rows = %d, %v; want 1", stored, err)
	}
	got, found, err := st.FindSession(ctx, s.Hash)
	if err != nil || !found {
		t.Fatalf("FindSession = %v, %v", found, err)
	}
	if err := storetest.SameSession(got, s); err != nil {
		t.Fatalf("FindSession: %v", err)
	}
	if got, found, err := st.SessionByHandle(ctx, s.Handle); err != nil || !found || storetest.SameSession(got, s) != nil {
		t.Fatalf("SessionByHandle = %+v, %v, %v", got, found, err)
	}
	if list, err := st.ListSessions(ctx, u.ID); err != nil || len(list) != 1 || storetest.SameSession(list[0], s) != nil {
		t.Fatalf("ListSessions = %v, %v", list, err)
	}

	// Another principal for the same user (an admin at sign-in, a user now) is kept as it was.
	other := storetest.NewTestSession(u.ID, gatehouse.Now())
	other.Handle, other.User = gatehouse.SessionHandle(other.Hash), u.Principal()
	other.User.Role = gatehouse.RoleAdmin
	if err := st.CreateSession(ctx, other); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st.FindSession(ctx, other.Hash); err != nil || storetest.SameSession(got, other) != nil {
		t.Fatalf("session with its own principal = %+v, %v", got, err)
	}

	name := "Carol Renamed"
	if _, err := users.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if got, _, err := st.FindSession(ctx, s.Hash); err != nil || got.User.Name != name {
		t.Fatalf("after a change of name: %+v, %v; want the new name", got, err)
	}

	if _, _, err := st.DeleteSessionByHandle(ctx, "intruder", s.Handle); err != nil {
		t.Fatal(err)
	}
	if _, found, _ := st.FindSession(ctx, s.Hash); !found {
		t.Fatal("another user deleted the session by its handle")
	}
	if err := users.DeleteUser(ctx, u.ID); err != nil {
		t.Fatal(err)
	}
	if got, found, err := st.FindSession(ctx, s.Hash); err != nil || found {
		t.Fatalf("session of a deleted user = %+v, %v, %v; want not found", got, found, err)
	}
	if got, found, err := st.SessionByHandle(ctx, s.Handle); err != nil || found {
		t.Fatalf("session of a deleted user by handle = %+v, %v, %v; want not found", got, found, err)
	}
	if list, err := st.ListSessions(ctx, u.ID); err != nil || len(list) != 1 || storetest.SameSession(list[0], other) != nil {
		t.Fatalf("ListSessions of a deleted user = %d sessions, %v; want the one with its own principal", len(list), err)
	}
	h, found, err := st.DeleteSessionByHandle(ctx, u.ID, s.Handle)
	if err != nil || !found || h != s.Hash {
		t.Fatalf("DeleteSessionByHandle = %x, %v, %v; want the session's hash", h, found, err)
	}
}

// TestSessionKeyPrefix: the row is found by the first 8 bytes of the hash, but a hash that
// shares only those is not the session: it finds, touches and deletes nothing, and cannot be
// stored beside it.
func TestSessionKeyPrefix(t *testing.T) {
	ctx := context.Background()
	st := sqlite.NewSessionStore(MustOpen(t))
	s := storetest.NewTestSession("u1", gatehouse.Now())
	s.Handle = gatehouse.SessionHandle(s.Hash)
	if err := st.CreateSession(ctx, s); err != nil {
		t.Fatal(err)
	}
	twin := s.Hash
	twin[31] ^= 1
	if got, found, err := st.FindSession(ctx, twin); err != nil || found || got != nil {
		t.Fatalf("FindSession(same first 8 bytes) = %+v, %v, %v; want not found", got, found, err)
	}
	if found, err := st.TouchSession(ctx, twin, gatehouse.Now()); err != nil || found {
		t.Fatalf("TouchSession(same first 8 bytes) = %v, %v", found, err)
	}
	if found, err := st.DeleteSession(ctx, twin); err != nil || found {
		t.Fatalf("DeleteSession(same first 8 bytes) = %v, %v", found, err)
	}
	dup := storetest.NewTestSession("u2", gatehouse.Now())
	dup.Hash = twin
	if err := st.CreateSession(ctx, dup); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("CreateSession(same first 8 bytes) = %v, want ErrConflict", err)
	}
	// A handle that spells the first 16 bytes of another hash does not find the session.
	h2 := s.Hash
	h2[12] ^= 1
	if _, found, err := st.SessionByHandle(ctx, gatehouse.SessionHandle(h2)); err != nil || found {
		t.Fatalf("SessionByHandle(another handle, same key) = %v, %v", found, err)
	}
	if got, found, err := st.FindSession(ctx, s.Hash); err != nil || !found || storetest.SameSession(got, s) != nil {
		t.Fatalf("the session after all that = %+v, %v, %v", got, found, err)
	}
}

// TestTouchSessions writes a batch of last-seen times in one transaction: every existing
// session gets its time, a deleted one is not created again, and an empty batch is nothing.
func TestTouchSessions(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	st := sqlite.NewSessionStore(db)
	now := time.Now()
	var ss []*gatehouse.Session
	for i := range 3 {
		s := storetest.NewTestSession("u1", now)
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatalf("session %d: %v", i, err)
		}
		ss = append(ss, s)
	}
	if _, err := st.DeleteSession(ctx, ss[2].Hash); err != nil {
		t.Fatal(err)
	}
	if err := st.TouchSessions(ctx, nil); err != nil {
		t.Fatalf("TouchSessions(nil) = %v", err)
	}
	seen := now.Add(time.Minute)
	batch := []gatehouse.SessionTouch{{Hash: ss[0].Hash, LastSeen: seen}, {Hash: ss[1].Hash, LastSeen: seen.Add(time.Second)},
		{Hash: ss[2].Hash, LastSeen: seen}}
	if err := st.TouchSessions(ctx, batch); err != nil {
		t.Fatalf("TouchSessions = %v", err)
	}
	for i, want := range []time.Time{seen, seen.Add(time.Second)} {
		got, found, err := st.FindSession(ctx, ss[i].Hash)
		if err != nil || !found || !got.LastSeenAt.Equal(want) {
			t.Fatalf("session %d: %v, %v, %v; want LastSeenAt %v", i, got, found, err, want)
		}
	}
	if _, found, _ := st.FindSession(ctx, ss[2].Hash); found {
		t.Fatal("TouchSessions brought a deleted session back")
	}
	db.Close()
	if err := st.TouchSessions(ctx, batch); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("TouchSessions on a closed database = %v, want ErrUnavailable", err)
	}
}
