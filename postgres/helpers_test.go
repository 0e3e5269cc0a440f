package postgres_test

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

// testURL is the local PostgreSQL every development and CI machine runs.
// synchronous_commit=off: each test creates and drops a schema, and a commit that waits for
// the disk makes that most of the suite's time; losing the last commits in a crash is harmless here.
const testURL = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable&synchronous_commit=off"

// mustAdmin connects to the test database, or skips the test when it is unreachable and CI is
// unset (under CI it fails).
func mustAdmin(tb testing.TB) *pgx.Conn {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, testURL)
	if err != nil {
		if os.Getenv("CI") != "" {
			tb.Fatalf("PostgreSQL at %s is unreachable (CI is set, so this fails): %v", testURL, err)
		}
		tb.Skipf("PostgreSQL at %s is unreachable, skipping (set CI to make this fail): %v", testURL, err)
	}
	tb.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// MustOpen creates a schema of the test's own, opens a pool whose search_path is that schema,
// migrates it, and drops it all when the test ends.
func MustOpen(tb testing.TB, opts postgres.Options) *postgres.DB {
	tb.Helper()
	admin := mustAdmin(tb)
	ctx := context.Background()
	schema := "gh_test_" + strings.ToLower(gatehouse.NewID(time.Now()))
	if _, err := admin.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA "+schema+" CASCADE") })
	cfg, err := pgxpool.ParseConfig(testURL)
	if err != nil {
		tb.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	cfg.ConnConfig.RuntimeParams["application_name"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(pool.Close)
	db, err := postgres.Open(ctx, pool, opts)
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	return db
}
