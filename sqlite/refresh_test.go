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

func TestRefreshStore(t *testing.T) {
	storetest.TestRefreshStore(t, func(t *testing.T) gatehouse.RefreshStore { return sqlite.NewRefreshStore(MustOpen(t)) })
}

// TestRefreshStoreCascade checks that deleting a family removes its token rows, so that no
// orphan token hash is left behind.
func TestRefreshStoreCascade(t *testing.T) {
	db := MustOpen(t)
	s := sqlite.NewRefreshStore(db)
	ctx := context.Background()
	now := time.Now()
	f := &gatehouse.RefreshFamily{ID: gatehouse.NewID(now), UserID: "u1", CreatedAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := s.CreateRefreshFamily(ctx, f, gatehouse.HashSecret("a")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.RotateRefresh(ctx, gatehouse.RefreshRotation{Old: gatehouse.HashSecret("a"), Next: gatehouse.HashSecret("b"), Now: now}); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := db.SQL().QueryRow(`SELECT count(*) FROM refresh_tokens WHERE current = 1`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("current tokens = %d, %v; want 1", n, err)
	}
	if _, err := s.RevokeRefreshFamily(ctx, f.ID); err != nil {
		t.Fatal(err)
	}
	if err := db.SQL().QueryRow(`SELECT count(*) FROM refresh_tokens`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("token rows after revoke = %d, %v; want 0", n, err)
	}
}

// TestRefreshStoreClosed checks that a store whose database is gone fails closed.
func TestRefreshStoreClosed(t *testing.T) {
	db := MustOpen(t)
	s := sqlite.NewRefreshStore(db)
	db.Close()
	_, _, err := s.RotateRefresh(context.Background(), gatehouse.RefreshRotation{Old: gatehouse.HashSecret("a"), Next: gatehouse.HashSecret("b"), Now: time.Now()})
	if !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Fatalf("RotateRefresh on a closed database: %v, want ErrUnavailable", err)
	}
}
