package schema_test

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	_ "modernc.org/sqlite"

	"github.com/gatehouse-auth/gatehouse/internal/schema"
)

func TestLoadRejectsBadNames(t *testing.T) {
	for name, fsys := range map[string]fstest.MapFS{
		"no version":   {"m/init.sql": {Data: []byte("SELECT 1")}},
		"same version": {"m/001_a.sql": {Data: []byte("SELECT 1")}, "m/1_b.sql": {Data: []byte("SELECT 1")}},
	} {
		if _, err := schema.Load(fsys, "m"); err == nil {
			t.Errorf("%s: Load succeeded", name)
		}
	}
}

func TestLoadSortsByVersion(t *testing.T) {
	fsys := fstest.MapFS{
		"m/10_c.sql": {Data: []byte("c")}, "m/002_b.sql": {Data: []byte("b")}, "m/001_a.sql": {Data: []byte("a")},
	}
	ms, err := schema.Load(fsys, "m")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range ms {
		got = append(got, m.SQL)
	}
	if strings.Join(got, "") != "abc" {
		t.Fatalf("order %v, want a b c", got)
	}
}

// TestFailedMigrationIsNotRecorded runs a migration that fails half-way: neither its first
// statement nor its version stays, the migrations before it do, and a fixed file applies later.
func TestFailedMigrationIsNotRecorded(t *testing.T) {
	ctx := context.Background()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(t.TempDir(), "m.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	good := schema.Migration{Version: 1, Name: "001_a.sql", SQL: "CREATE TABLE a (x INTEGER)"}
	bad := schema.Migration{Version: 2, Name: "002_b.sql", SQL: "CREATE TABLE b (x INTEGER); INSERT INTO nowhere VALUES (1)"}
	err = schema.Migrate(ctx, db, schema.SQLite, []schema.Migration{good, bad})
	if err == nil || !strings.Contains(err.Error(), "002_b.sql") {
		t.Fatalf("Migrate = %v, want an error naming 002_b.sql", err)
	}
	if n := count(t, db, "SELECT count(*) FROM sqlite_master WHERE name = 'b'"); n != 0 {
		t.Fatal("the failed migration's table stayed")
	}
	bad.SQL = "CREATE TABLE b (x INTEGER)"
	if err := schema.Migrate(ctx, db, schema.SQLite, []schema.Migration{good, bad}); err != nil {
		t.Fatal(err)
	}
	if n := count(t, db, "SELECT count(*) FROM schema_migrations"); n != 2 {
		t.Fatalf("%d versions recorded, want 2", n)
	}
}

func count(t *testing.T, db *sql.DB, q string) int {
	t.Helper()
	var n int
	if err := db.QueryRow(q).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}
