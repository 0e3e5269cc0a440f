//go:build unix

package main

import (
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestDataFilesArePrivate: every file the server creates in its data directory (the database
// and its -wal and -shm files, the key file and its lock) is 0600, even in a directory anyone
// may read and under a permissive umask.
func TestDataFilesArePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	t.Setenv("GATEHOUSE_ADMIN_PASSWORD", "the first admin password")
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	addr, stop := startServe(t, "--data", dir)
	loginToken(t, "http://"+addr) // a write, so that the -wal file holds something
	seen := map[string]bool{}
	check := func() {
		err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			info, err := d.Info()
			if err != nil {
				return err
			}
			seen[d.Name()] = true
			if perm := info.Mode().Perm(); perm != 0o600 {
				t.Errorf("%s has mode %04o, want 0600", d.Name(), perm)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check()
	stop()
	check()
	for _, name := range []string{"gatehouse.db", "gatehouse.db-wal", "gatehouse.db-shm", "keys.json"} {
		if !seen[name] {
			t.Errorf("%s was never seen in the data directory", name)
		}
	}
}
