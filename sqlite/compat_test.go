package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/storetest"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// TestOpensDatabaseOfEarlierRelease opens a database that an earlier gatehouse created and
// migrated (testdata/schema-v4.sql): the versions it records are not applied again, the later
// ones are, and the stores work on it.
func TestOpensDatabaseOfEarlierRelease(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "old.db")
	dump, err := os.ReadFile("testdata/schema-v4.sql")
	if err != nil {
		t.Fatal(err)
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.ExecContext(ctx, string(dump)); err != nil {
		t.Fatalf("load the old database: %v", err)
	}
	before := appliedAt(t, raw)
	raw.Close()

	db, err := sqlite.Open(ctx, path, 0)
	if err != nil {
		t.Fatalf("open the old database: %v", err)
	}
	defer db.Close()
	after := appliedAt(t, db.SQL())
	for v, at := range before {
		if after[v] != at {
			t.Errorf("migration %d recorded at %d, then %d: applied again", v, at, after[v])
		}
	}
	files, _ := filepath.Glob("migrations/*.sql")
	if len(after) != len(files) {
		t.Errorf("schema_migrations has %d rows, want %d (one per migration)", len(after), len(files))
	}
	users := sqlite.NewUserStore(db)
	u := storetest.NewTestUser("olive", gatehouse.Now())
	if err := users.CreateUser(ctx, u); err != nil {
		t.Fatalf("CreateUser on the old database: %v", err)
	}
	if got, err := users.UserByID(ctx, u.ID); err != nil || got.Username != "olive" {
		t.Fatalf("UserByID = %+v, %v", got, err)
	}
}

// appliedAt returns schema_migrations as a map from version to applied_at.
func appliedAt(t *testing.T, db *sql.DB) map[int]int64 {
	t.Helper()
	rows, err := db.Query(`SELECT version, applied_at FROM schema_migrations`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	m := map[int]int64{}
	for rows.Next() {
		var v int
		var at int64
		if err := rows.Scan(&v, &at); err != nil {
			t.Fatal(err)
		}
		m[v] = at
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return m
}
