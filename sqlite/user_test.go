package sqlite_test

import (
	"context"
	"errors"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

func TestUserStore(t *testing.T) {
	storetest.TestUserStore(t, func(t *testing.T) gatehouse.UserStore {
		return sqlite.NewUserStore(MustOpen(t))
	})
}

func TestUserStoreRejectsUnknownRole(t *testing.T) {
	ctx := context.Background()
	s := sqlite.NewUserStore(MustOpen(t))
	u := storetest.NewTestUser("oscar", gatehouse.Now())
	u.Role = "root"
	if err := s.CreateUser(ctx, u); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
		t.Fatalf("CreateUser(role root) = %v, want bad_request", err)
	}
	u.Role = gatehouse.RoleUser
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	root := gatehouse.Role("root")
	if _, err := s.UpdateUser(ctx, u.ID, gatehouse.UserUpdate{Role: &root}); gatehouse.ErrorCode(err) != gatehouse.EBADREQUEST {
		t.Fatalf("UpdateUser(role root) = %v, want bad_request", err)
	}
}

func TestUserStoreClosed(t *testing.T) {
	ctx := context.Background()
	db := MustOpen(t)
	s := sqlite.NewUserStore(db)
	db.Close()
	if _, err := s.UserByID(ctx, gatehouse.NewID(gatehouse.Now())); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("UserByID on a closed database = %v, want ErrUnavailable", err)
	}
	if err := s.CreateUser(ctx, storetest.NewTestUser("peggy", gatehouse.Now())); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("CreateUser on a closed database = %v, want ErrUnavailable", err)
	}
	if _, err := s.CountUsers(ctx); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("CountUsers on a closed database = %v, want ErrUnavailable", err)
	}
	if _, err := s.ListUsers(ctx, "", 10); !errors.Is(err, gatehouse.ErrUnavailable) {
		t.Errorf("ListUsers on a closed database = %v, want ErrUnavailable", err)
	}
}

func TestIssuerRecorder(t *testing.T) {
	storetest.TestIssuerRecorder(t, func(t *testing.T) gatehouse.IssuerRecorder {
		return sqlite.NewUserStore(MustOpen(t))
	})
}
