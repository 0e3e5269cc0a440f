package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// MustOpen opens a fresh database in a temporary directory, closed when the test ends.
func MustOpen(tb testing.TB) *sqlite.DB {
	tb.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(tb.TempDir(), "gatehouse.db"), 0)
	if err != nil {
		tb.Fatalf("open sqlite: %v", err)
	}
	tb.Cleanup(func() { db.Close() })
	return db
}

func TestOpenMigratesTwice(t *testing.T) {
	path := filepath.Join(t.TempDir(), "g.db")
	files, err := filepath.Glob("migrations/*.sql")
	if err != nil || len(files) == 0 {
		t.Fatalf("migrations: %v %v", files, err)
	}
	for i := 0; i < 2; i++ {
		db, err := sqlite.Open(context.Background(), path, 0)
		if err != nil {
			t.Fatalf("open %d: %v", i, err)
		}
		var mode string
		if err := db.SQL().QueryRow("PRAGMA journal_mode").Scan(&mode); err != nil || mode != "wal" {
			t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
		}
		var n int
		if err := db.SQL().QueryRow("SELECT count(*) FROM schema_migrations").Scan(&n); err != nil || n != len(files) {
			t.Fatalf("schema_migrations rows = %d, %v; want %d (one per migration, applied once)", n, err, len(files))
		}
		db.Close()
	}
}
