package storetest

import (
	"context"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// TestAuditStore runs the gatehouse.AuditStore contract. newStore must return an empty store
// for each subtest. DeleteExpired is tested when the store is a gatehouse.Expirer whose
// retention is longer than an hour and shorter than 1000 days.
func TestAuditStore(t *testing.T, newStore func(t *testing.T) gatehouse.AuditStore) {
	t.Run("AppendAndPage", func(t *testing.T) { testAuditPage(t, newStore(t)) })
	t.Run("Filters", func(t *testing.T) { testAuditFilters(t, newStore(t)) })
	t.Run("DeleteExpired", func(t *testing.T) { testAuditExpire(t, newStore(t)) })
}

func appendEvents(t *testing.T, st gatehouse.AuditStore, base time.Time, n int, edit func(i int, e *gatehouse.AuditEvent)) []*gatehouse.AuditEvent {
	t.Helper()
	var out []*gatehouse.AuditEvent
	for i := 0; i < n; i++ {
		at := base.Add(time.Duration(i) * time.Millisecond)
		e := &gatehouse.AuditEvent{ID: gatehouse.NewID(at), Time: at, Action: gatehouse.AuditLogin,
			Outcome: gatehouse.AuditSuccess, UserID: "u1", IP: "192.0.2.1", UserAgent: "test/1", Detail: "mode=token"}
		if edit != nil {
			edit(i, e)
		}
		if err := st.AppendAudit(context.Background(), e); err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func testAuditPage(t *testing.T, st gatehouse.AuditStore) {
	ctx := context.Background()
	base := time.Now().UTC().Truncate(time.Millisecond)
	events := appendEvents(t, st, base, 7, nil)
	var got []*gatehouse.AuditEvent
	after := ""
	for {
		page, err := st.ListAudit(ctx, gatehouse.AuditQuery{After: after, Limit: 3})
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if len(page) < 3 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(got) != 7 {
		t.Fatalf("paged through %d events, want 7", len(got))
	}
	for i, e := range got {
		want := events[6-i]
		if *e != *want && !(e.ID == want.ID && e.Time.Equal(want.Time)) {
			t.Fatalf("event %d = %+v, want %+v (newest first)", i, e, want)
		}
		if e.Action != want.Action || e.IP != want.IP || e.UserAgent != want.UserAgent || e.Detail != want.Detail || e.UserID != want.UserID {
			t.Fatalf("event %d fields = %+v, want %+v", i, e, want)
		}
	}
}

func testAuditFilters(t *testing.T, st gatehouse.AuditStore) {
	ctx := context.Background()
	appendEvents(t, st, time.Now(), 6, func(i int, e *gatehouse.AuditEvent) {
		switch i % 3 {
		case 1:
			e.UserID, e.ActorID, e.Action = "u2", "admin1", gatehouse.AuditRoleChanged
		case 2:
			e.UserID, e.Action, e.Outcome = "", gatehouse.AuditLogin, gatehouse.AuditFailure
		}
	})
	count := func(q gatehouse.AuditQuery) int {
		q.Limit = 100
		l, err := st.ListAudit(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		return len(l)
	}
	if n := count(gatehouse.AuditQuery{UserID: "u2"}); n != 2 {
		t.Fatalf("user u2: %d events", n)
	}
	if n := count(gatehouse.AuditQuery{UserID: "admin1"}); n != 2 {
		t.Fatalf("actor admin1: %d events", n)
	}
	if n := count(gatehouse.AuditQuery{Action: gatehouse.AuditLogin}); n != 4 {
		t.Fatalf("logins: %d events", n)
	}
	if n := count(gatehouse.AuditQuery{Action: gatehouse.AuditLogin, UserID: "u1"}); n != 2 {
		t.Fatalf("logins of u1: %d events", n)
	}
}

func testAuditExpire(t *testing.T, st gatehouse.AuditStore) {
	ex, ok := st.(gatehouse.Expirer)
	if !ok {
		t.Skip("not an Expirer")
	}
	ctx := context.Background()
	now := time.Now()
	appendEvents(t, st, now.Add(-1000*24*time.Hour), 2, nil)
	appendEvents(t, st, now.Add(-time.Hour), 3, nil)
	n, err := ex.DeleteExpired(ctx, now)
	if err != nil || n != 2 {
		t.Fatalf("DeleteExpired = %d, %v; want 2", n, err)
	}
	l, err := st.ListAudit(ctx, gatehouse.AuditQuery{Limit: 10})
	if err != nil || len(l) != 3 {
		t.Fatalf("%d events left, %v", len(l), err)
	}
}
