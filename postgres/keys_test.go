package postgres_test

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/gatehouse-auth/gatehouse"
	"github.com/gatehouse-auth/gatehouse/postgres"
)

func TestKeyStore(t *testing.T) {
	st := postgres.NewKeyStore(MustOpen(t, postgres.Options{}))
	if _, err := st.Load(); !errors.Is(err, gatehouse.ErrNotFound) {
		t.Fatalf("Load of an empty store: %v", err)
	}
	if err := st.Store([]byte("one"), true); err != nil {
		t.Fatal(err)
	}
	if err := st.Store([]byte("two"), true); !errors.Is(err, gatehouse.ErrConflict) {
		t.Fatalf("a second create: %v", err)
	}
	if doc, err := st.Load(); err != nil || string(doc) != "one" {
		t.Fatalf("Load = %q, %v", doc, err)
	}
	if err := st.Store([]byte("three"), false); err != nil {
		t.Fatal(err)
	}
	if doc, _ := st.Load(); string(doc) != "three" {
		t.Fatalf("Load after a replace = %q", doc)
	}
}

// TestKeyStoreLockSerialises runs read-increment-write cycles under Lock from several stores
// on pools of their own (as several instances would): none is lost.
func TestKeyStoreLockSerialises(t *testing.T) {
	db := MustOpen(t, postgres.Options{})
	stores := []*postgres.KeyStore{postgres.NewKeyStore(db), postgres.NewKeyStore(reopen(t, db)), postgres.NewKeyStore(reopen(t, db))}
	if err := stores[0].Store([]byte("0"), true); err != nil {
		t.Fatal(err)
	}
	const rounds = 20
	var wg sync.WaitGroup
	errs := make(chan error, len(stores)*rounds)
	for _, st := range stores {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range rounds {
				errs <- increment(st)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if doc, _ := stores[0].Load(); string(doc) != strconv.Itoa(len(stores)*rounds) {
		t.Fatalf("counter = %s after %d increments: an update was lost", doc, len(stores)*rounds)
	}
}

func increment(st *postgres.KeyStore) error {
	unlock, err := st.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	doc, err := st.Load()
	if err != nil {
		return err
	}
	n, _ := strconv.Atoi(string(doc))
	return st.Store([]byte(strconv.Itoa(n+1)), false)
}

// reopen opens a second pool on db's schema, as another instance would.
func reopen(t *testing.T, db *postgres.DB) *postgres.DB {
	t.Helper()
	pool, err := pgxpool.NewWithConfig(context.Background(), db.Pool().Config().Copy())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	other, err := postgres.Open(context.Background(), pool, postgres.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return other
}
