package sqlite_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/internal/testkit"
	"github.com/gatehouse-auth/gatehouse/sqlite"
)

// TestBackupWhileWriting copies the database while writers insert users: the copy passes the
// integrity check, holds every user committed before the copy began and no half of anything,
// and is readable by a server (Open migrates nothing more on it).
func TestBackupWhileWriting(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	src := filepath.Join(dir, "gatehouse.db")
	db, err := sqlite.Open(ctx, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	users := sqlite.NewUserStore(db)
	clock := testkit.NewSteppingClock(time.Millisecond)
	var committed atomic.Int64
	add := func(name string) {
		u := &gatehouse.User{ID: gatehouse.NewID(clock.Now()), Username: name, Role: gatehouse.RoleUser, PasswordHash: "x", CreatedAt: clock.Now()}
		if err := users.CreateUser(ctx, u); err != nil {
			t.Error(err)
			return
		}
		committed.Add(1)
	}
	for i := range 50 {
		add("before-" + string(rune('a'+i%26)) + string(rune('a'+i/26)))
	}
	before := committed.Load()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				add(gatehouse.NewID(clock.Now()) + string(rune('a'+w)))
			}
		}()
	}
	dst := filepath.Join(t.TempDir(), "copy.db")
	err = sqlite.Backup(ctx, src, dst)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(dst)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("copy: %v %v", st, err)
	}
	facts, err := sqlite.Check(ctx, dst)
	if err != nil {
		t.Fatal(err)
	}
	if n := int64(facts.Rows["users"]); n < before || n > committed.Load() {
		t.Fatalf("the copy holds %d users; %d were committed before it began, %d by its end", n, before, committed.Load())
	}
	if facts.SchemaVersion < 3 {
		t.Fatalf("schema version %d", facts.SchemaVersion)
	}
	if err := sqlite.Backup(ctx, src, dst); err == nil {
		t.Fatal("a backup overwrote an existing file")
	}
}

func TestBackupOfAStoppedDatabase(t *testing.T) {
	ctx := context.Background()
	src := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := sqlite.Open(ctx, src, 0)
	if err != nil {
		t.Fatal(err)
	}
	db.Close() // the last connection checkpoints and removes the WAL
	dst := filepath.Join(t.TempDir(), "copy.db")
	if err := sqlite.Backup(ctx, src, dst); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Check(ctx, dst); err != nil {
		t.Fatal(err)
	}
	if err := sqlite.Backup(ctx, filepath.Join(t.TempDir(), "none.db"), filepath.Join(t.TempDir(), "x.db")); !errors.Is(err, sqlite.ErrNoDatabase) {
		t.Fatalf("backup of a missing database: %v", err)
	}
}

func TestCheckFindsCorruption(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	db, err := sqlite.Open(ctx, path, 0)
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	raw, _ := os.ReadFile(path)
	for i := 4096; i < len(raw) && i < 4096*3; i++ { // the second and third pages
		raw[i] ^= 0x5a
	}
	if err := os.WriteFile(path, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Check(ctx, path); err == nil {
		t.Fatal("a corrupt database passed the check")
	}
	if err := os.WriteFile(path, []byte("not a database at all"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := sqlite.Check(ctx, path); err == nil {
		t.Fatal("a text file passed the check")
	}
}
