//go:build unix

package sqlite_test

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// TestFilesArePrivate: the database and its -wal and -shm files are created 0600 in a
// directory anyone may read and under a permissive umask: they hold password hashes.
func TestFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(dir, "gatehouse.db"), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	u := &gatehouse.User{ID: gatehouse.NewID(time.Now()), Username: "alice", Role: gatehouse.RoleUser, CreatedAt: time.Now(), PasswordHash: "x"}
	if err := sqlite.NewUserStore(db).CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if perm := st.Mode().Perm(); perm != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, perm)
		}
	}
}
