package sqlite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func TestAuditStore(t *testing.T) {
	storetest.TestAuditStore(t, func(t *testing.T) gatehouse.AuditStore {
		return sqlite.NewAuditStore(MustOpen(t), 0)
	})
}

func TestAuditStoreClosed(t *testing.T) {
	db := MustOpen(t)
	st := sqlite.NewAuditStore(db, 0)
	db.Close()
	if err := st.AppendAudit(context.Background(), &gatehouse.AuditEvent{ID: "x"}); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("AppendAudit on a closed database = %v", err)
	}
	if _, err := st.ListAudit(context.Background(), gatehouse.AuditQuery{Limit: 1}); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("ListAudit on a closed database = %v", err)
	}
}
