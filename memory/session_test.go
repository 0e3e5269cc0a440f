package memory_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(*testing.T) gatehouse.SessionStore { return memory.NewSessionStore() })
}

// Many sessions of one user, interleaved with another user's, stay listable and deletable one
// by one (from the middle of the user's ring) and all at once, and freed slots are reused.
func TestSessionStoreManySessionsOfOneUser(t *testing.T) {
	ctx := context.Background()
	st := memory.NewSessionStore()
	now := time.Now()
	var hashes []gatehouse.Hash
	other := storetest.NewTestSession("u2", now)
	for i := range 20 {
		if i == 10 {
			if err := st.CreateSession(ctx, other); err != nil {
				t.Fatal(err)
			}
		}
		h := gatehouse.HashSecret(gatehouse.NewSecret())
		hashes = append(hashes, h)
		s := &gatehouse.Session{Hash: h, Handle: gatehouse.SessionHandle(h), User: gatehouse.Principal{UserID: "u1", Username: "u1", Role: gatehouse.RoleUser},
			CreatedAt: now.Add(time.Duration(i)), LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		if got, _ := st.ListSessions(ctx, "u1"); len(got) != i+1 {
			t.Fatalf("after %d sessions: %d listed", i+1, len(got))
		}
	}
	for _, h := range slices.Concat(hashes[5:10], hashes[:5], hashes[10:15]) {
		if found, err := st.DeleteSession(ctx, h); !found || err != nil {
			t.Fatalf("delete: %v %v", found, err)
		}
	}
	if got, _ := st.ListSessions(ctx, "u1"); len(got) != 5 {
		t.Fatalf("after deleting 15 of 20: %d listed", len(got))
	}
	if gone, _ := st.DeleteUserSessions(ctx, "u1"); len(gone) != 5 {
		t.Fatalf("DeleteUserSessions removed %d, want 5", len(gone))
	}
	if got, _ := st.ListSessions(ctx, "u1"); len(got) != 0 {
		t.Fatalf("after deleting all: %d listed", len(got))
	}
	if got, _ := st.ListSessions(ctx, "u2"); len(got) != 1 || storetest.SameSession(got[0], other) != nil {
		t.Fatalf("the other user's session: %v", got)
	}
	again := storetest.NewTestSession("u1", now)
	if err := st.CreateSession(ctx, again); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := st.FindSession(ctx, again.Hash); storetest.SameSession(got, again) != nil {
		t.Fatalf("a session in a reused slot: %v", storetest.SameSession(got, again))
	}
}

// Handles derived from the hash and others live side by side: each is found, and one cannot
// take the other's.
func TestSessionStoreHandles(t *testing.T) {
	ctx := context.Background()
	st := memory.NewSessionStore()
	now := time.Now()
	derived := storetest.NewTestSession("u1", now)
	derived.Handle = gatehouse.SessionHandle(derived.Hash)
	own := storetest.NewTestSession("u1", now)
	own.Handle = "not-an-id"
	for _, s := range []*gatehouse.Session{derived, own} {
		if err := st.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, found, err := st.SessionByHandle(ctx, s.Handle)
		if err != nil || !found || storetest.SameSession(got, s) != nil {
			t.Fatalf("by handle %q: %v %v %v", s.Handle, found, err, storetest.SameSession(got, s))
		}
	}
	clash := storetest.NewTestSession("u2", now)
	clash.Handle = derived.Handle // another hash, but the handle of a session that exists
	if err := st.CreateSession(ctx, clash); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("a taken derived handle: %v, want ErrConflict", err)
	}
	prefix := storetest.NewTestSession("u2", now)
	copy(prefix.Hash[:16], derived.Hash[:16]) // same first 16 bytes: the same key
	if err := st.CreateSession(ctx, prefix); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("a hash sharing the first 16 bytes: %v, want ErrConflict", err)
	}
	if _, found, _ := st.FindSession(ctx, prefix.Hash); found {
		t.Fatal("a hash sharing only the first 16 bytes finds the session")
	}
	if h, found, _ := st.DeleteSessionByHandle(ctx, "u1", own.Handle); !found || h != own.Hash {
		t.Fatalf("delete by own handle: %v", found)
	}
	if _, found, _ := st.SessionByHandle(ctx, own.Handle); found {
		t.Fatal("deleted own handle still found")
	}
}

// Zero times round-trip; times a record cannot hold are refused with an error and store
// nothing.
func TestSessionStoreTimes(t *testing.T) {
	ctx := context.Background()
	st := memory.NewSessionStore()
	zero := storetest.NewTestSession("u1", time.Time{})
	zero.ExpiresAt, zero.LastSeenAt = time.Time{}, time.Time{}
	if err := st.CreateSession(ctx, zero); err != nil {
		t.Fatal(err)
	}
	if got, _, _ := st.FindSession(ctx, zero.Hash); storetest.SameSession(got, zero) != nil {
		t.Fatalf("zero times: %v", storetest.SameSession(got, zero))
	}
	far := storetest.NewTestSession("u1", time.Now())
	far.ExpiresAt = far.CreatedAt.AddDate(300, 0, 0)
	if err := st.CreateSession(ctx, far); err == nil {
		t.Fatal("an expiry after 2262 was accepted")
	}
	if _, found, _ := st.FindSession(ctx, far.Hash); found {
		t.Fatal("a refused session was stored")
	}
	if _, err := st.TouchSession(ctx, zero.Hash, zero.CreatedAt.AddDate(-1, 0, 0)); err == nil {
		t.Fatal("a last-seen time before 1678 was accepted")
	}
}
