package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/gatehouse-auth/gatehouse"
)

// KeyStore keeps the signing keys' document in the table signing_keys (migration 004), so
// that instances on different machines share keys, rotation and retirement without sharing a
// file. It stores bytes as it is given them: the server seals them first (AES-256-GCM under
// its key-encryption key), so the database never holds a usable key. It has the methods of
// the token package's KeyStorage: Load, Store, Lock and String.
//
// Lock takes a PostgreSQL advisory lock (per schema) on a connection of its own, held until
// unlock: read-change-write cycles of every instance (a rotation, a retirement) are serialised.
// The lock dies with the connection, so a crashed instance never holds it.
type KeyStore struct {
	db *DB
}

// NewKeyStore returns a KeyStore on db.
func NewKeyStore(db *DB) *KeyStore { return &KeyStore{db: db} }

// keysLock is the first half of the advisory lock key of the signing keys; the second half is
// a hash of the schema (as for migrationLock).
const keysLock = 0x6b657973 // "keys"

// keysLockWait bounds how long Lock waits for another instance's rotation.
const keysLockWait = 30 * time.Second

// Load returns the stored document, or an error wrapping gatehouse.ErrNotFound when there is
// none.
func (s *KeyStore) Load() ([]byte, error) {
	ctx, cancel := s.db.bound(context.Background())
	defer cancel()
	var doc []byte
	err := s.db.pool.QueryRow(ctx, `SELECT sealed FROM signing_keys WHERE id = 1`).Scan(&doc)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, fmt.Errorf("postgres: no signing keys stored: %w", gatehouse.ErrNotFound)
	}
	if err != nil {
		return nil, storeErr("load signing keys", err)
	}
	return doc, nil
}

// Store writes doc. With create it writes only when nothing is stored, and returns an error
// wrapping gatehouse.ErrConflict otherwise.
func (s *KeyStore) Store(doc []byte, create bool) error {
	ctx, cancel := s.db.bound(context.Background())
	defer cancel()
	q := `INSERT INTO signing_keys (id, sealed, updated_at) VALUES (1, $1, $2)
		ON CONFLICT (id) DO UPDATE SET sealed = EXCLUDED.sealed, updated_at = EXCLUDED.updated_at`
	if create {
		q = `INSERT INTO signing_keys (id, sealed, updated_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`
	}
	tag, err := s.db.pool.Exec(ctx, q, doc, time.Now().UnixNano())
	if err != nil {
		return storeErr("store signing keys", err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("postgres: signing keys are stored already: %w", gatehouse.ErrConflict)
	}
	return nil
}

// Lock takes the signing keys' advisory lock, waiting at most keysLockWait.
func (s *KeyStore) Lock() (unlock func(), err error) {
	ctx, cancel := context.WithTimeout(context.Background(), keysLockWait)
	defer cancel()
	conn, err := s.db.pool.Acquire(ctx)
	if err != nil {
		return nil, storeErr("lock signing keys", err)
	}
	if _, err := conn.Exec(ctx, `SELECT pg_advisory_lock($1, hashtext(current_schema()))`, int32(keysLock)); err != nil {
		conn.Release()
		return nil, storeErr("lock signing keys", err)
	}
	return func() {
		ctx, cancel := s.db.bound(context.Background())
		defer cancel()
		if _, err := conn.Exec(ctx, `SELECT pg_advisory_unlock($1, hashtext(current_schema()))`, int32(keysLock)); err != nil {
			// The lock must not stay with a pooled connection: closing it ends the session,
			// and the lock with it.
			_ = conn.Conn().Close(ctx)
		}
		conn.Release()
	}, nil
}

func (s *KeyStore) String() string { return "PostgreSQL table signing_keys" }
