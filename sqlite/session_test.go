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
