package postgres_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

// TestOpensSchemaOfEarlierRelease opens a schema that an earlier gatehouse created and migrated
// (testdata/schema-v6.sql): the versions it records are not applied again, the later ones are,
// and the stores work on it.
func TestOpensSchemaOfEarlierRelease(t *testing.T) {
	admin := mustAdmin(t)
	ctx := context.Background()
	dump, err := os.ReadFile("testdata/schema-v6.sql")
	if err != nil {
		t.Fatal(err)
	}
	schema := "gh_test_" + strings.ToLower(gatehouse.NewID(time.Now()))
	t.Cleanup(func() { admin.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+schema+" CASCADE") })
	if _, err := admin.Exec(ctx, strings.ReplaceAll(string(dump), "gh_compat_main", schema)); err != nil {
		t.Fatalf("load the old schema: %v", err)
	}
	before := appliedAt(t, admin, schema)

	cfg, err := pgxpool.ParseConfig(testURL)
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	db, err := postgres.Open(ctx, pool, postgres.Options{})
	if err != nil {
		t.Fatalf("open the old schema: %v", err)
	}
	after := appliedAt(t, admin, schema)
	for v, at := range before {
		if after[v] != at {
			t.Errorf("migration %d recorded at %d, then %d: applied again", v, at, after[v])
		}
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if len(after) != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", len(after), len(files))
	}
	users := postgres.NewUserStore(db)
	u := storetest.NewTestUser("olive", gatehouse.Now())
	if err := users.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser on the old schema: %v", err)
	}
	if got, err := users.UserByID(ctx, u.ID); err != nil || got.Username != "olive" {
		t.Fatalf("UserByID = %+v, %v", got, err)
	}
}

// appliedAt returns the schema's schema_migrations as a map from version to applied_at.
func appliedAt(t *testing.T, conn *pgx.Conn, schema string) map[int]int64 {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT version, applied_at FROM `+schema+`.schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	m := map[int]int64{}
	var v int
	var at int64
	if _, err := pgx.ForEachRow(rows, []any{&v, &at}, func() error { m[v] = at; return nil }); err != nil {
		t.Fatal(err)
	}
	return m
}
