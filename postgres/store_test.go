package postgres_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

func TestUserStore(t *testing.T) {
	t.Parallel()
	storetest.TestUserStore(t, func(t *testing.T) gatehouse.UserStore {
		return postgres.NewUserStore(MustOpen(t, slowPG))
	})
}

func TestRefreshStore(t *testing.T) {
	t.Parallel()
	storetest.TestRefreshStore(t, func(t *testing.T) gatehouse.RefreshStore {
		return postgres.NewRefreshStore(MustOpen(t, slowPG))
	})
}

func TestRevocationStore(t *testing.T) {
	t.Parallel()
	storetest.TestRevocationStore(t, func(t *testing.T) gatehouse.RevocationStore {
		return postgres.NewRevocationStore(MustOpen(t, slowPG))
	})
}

// TestOpenMigratesOnce opens the same schema twice, and concurrently: the migrations run once.
func TestOpenMigratesOnce(t *testing.T) {
	db := MustOpen(t, slowPG)
	ctx := context.Background()
	errs := make(chan error, 3)
	for range 3 {
		go func() {
			_, err := postgres.Open(ctx, db.Pool(), slowPG)
			errs <- err
		}()
	}
	for range 3 {
		if err := <-errs; err != nil {
			t.Fatalf("second open: %v", err)
		}
	}
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	var n int
	if err := db.Pool().QueryRow(ctx, "SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) {
		t.Fatalf("schema_migrations has %d rows, %v; want %d (one per migration, applied once)", n, err, len(files))
	}
}

// TestRecoversFromTerminatedConnections kills every backend of the pool with
// pg_terminate_backend: calls fail with ErrUnavailable at worst, never another error, and the
// same pool works again without being reopened.
func TestRecoversFromTerminatedConnections(t *testing.T) {
	db := MustOpen(t, postgres.Options{Timeout: 500 * time.Millisecond})
	users := postgres.NewUserStore(db)
	ctx := context.Background()
	u := storetest.NewTestUser("victim", time.Now())
	if err := users.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var app string
	if err := db.Pool().QueryRow(ctx, "SELECT current_setting('application_name')").Scan(&app); err != nil {
		t.Fatal(err)
	}
	// Warm several connections so that there is more than one to kill.
	for range 8 {
		go users.CountUsers(ctx)
	}
	admin := mustAdmin(t)
	var killed int
	if err := admin.QueryRow(ctx, `SELECT count(*) FROM (SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE application_name = $1 AND pid <> pg_backend_pid()) k`, app).Scan(&killed); err != nil {
		t.Fatal(err)
	}
	if killed == 0 {
		t.Fatal("no backend terminated: the test does not test what it should")
	}
	failures := 0
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := users.UserByID(ctx, u.ID)
		if err == nil {
			break
		}
		if !errors.Is(err, gatehouse.ErrUnavailable) {
			t.Fatalf("after terminating backends: %v, want ErrUnavailable or success", err)
		}
		if failures++; time.Now().After(deadline) {
			t.Fatalf("no recovery after %d failures: %v", failures, err)
		}
	}
	t.Logf("%d backends terminated; %d calls failed with ErrUnavailable before the pool recovered", killed, failures)
}

// slowPG are options for tests: a generous timeout, so that a busy machine does not turn into
// store failures. The fault test sets its own.
var slowPG = postgres.Options{Timeout: 10 * time.Second}

func TestIssuerRecorder(t *testing.T) {
	t.Parallel()
	storetest.TestIssuerRecorder(t, func(t *testing.T) gatehouse.IssuerRecorder {
		return postgres.NewUserStore(MustOpen(t, slowPG))
	})
}
