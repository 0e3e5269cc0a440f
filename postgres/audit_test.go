package postgres_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

func TestAuditStore(t *testing.T) {
	t.Parallel()
	storetest.TestAuditStore(t, func(t *testing.T) gatehouse.AuditStore {
		return postgres.NewAuditStore(MustOpen(t, slowPG), 0)
	})
}

// TestAuditStoreClosed: a store whose pool is closed answers ErrUnavailable, for writes and
// reads alike.
func TestAuditStoreClosed(t *testing.T) {
	db := MustOpen(t, postgres.Options{Timeout: 500 * time.Millisecond})
	st := postgres.NewAuditStore(db, 0)
	db.Pool().Close()
	e := &gatehouse.AuditEvent{ID: gatehouse.NewID(time.Now()), Time: time.Now(), Action: gatehouse.AuditLogin, Outcome: gatehouse.AuditSuccess}
	if err := st.AppendAudit(context.Background(), e); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("AppendAudit on a closed pool = %v", err)
	}
	if _, err := st.ListAudit(context.Background(), gatehouse.AuditQuery{Limit: 1}); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("ListAudit on a closed pool = %v", err)
	}
}

// TestAuditStoreKeepsEveryCharacter stores what a hostile client can put in an event (the
// user agent, after the server's clean-up, keeps any printable Unicode) and reads it back the
// same; a duplicate id is a conflict, not a silent overwrite.
func TestAuditStoreKeepsEveryCharacter(t *testing.T) {
	t.Parallel()
	st := postgres.NewAuditStore(MustOpen(t, slowPG), 0)
	ctx := context.Background()
	now := time.Now().UTC()
	e := &gatehouse.AuditEvent{ID: gatehouse.NewID(now), Time: now, Action: gatehouse.AuditLogin, Outcome: gatehouse.AuditFailure,
		IP: "2001:db8::1", UserAgent: `Mozilla/5.0 '; DROP TABLE audit_events; -- "ｐａｓｓ" 🦀 \ $1`, Detail: "unknown account"}
	if err := st.AppendAudit(ctx, e); err != nil {
		t.Fatal(err)
	}
	got, err := st.ListAudit(ctx, gatehouse.AuditQuery{Limit: 10, Action: gatehouse.AuditLogin})
	if err != nil || len(got) != 1 {
		t.Fatalf("ListAudit = %d events, %v", len(got), err)
	}
	if g := got[0]; g.UserAgent != e.UserAgent || g.IP != e.IP || !g.Time.Equal(e.Time) || g.Outcome != e.Outcome {
		t.Fatalf("read back %+v, want %+v", g, e)
	}
	if err := st.AppendAudit(ctx, e); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("a second event with the same id = %v, want ErrConflict", err)
	}
}
