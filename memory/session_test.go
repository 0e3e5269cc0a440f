package memory_test

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/memory"
)

func TestSessionStore(t *testing.T) {
	storetest.TestSessionStore(t, func(*testing.T) gatehouse.SessionStore { return memory.NewSessionStore() })
}

// A user's sessions move from the slice to the set past userSlice and stay listable and
// deletable one by one and all at once.
func TestSessionStoreManySessionsOfOneUser(t *testing.T) {
	ctx := context.Background()
	st := memory.NewSessionStore()
	now := time.Now()
	var hashes []gatehouse.Hash
	for i := range 20 {
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
	for _, h := range hashes[:15] {
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
}
