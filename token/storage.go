package token

import (
	"errors"
	"fmt"
	"os"

	"github.com/gatehouse-auth/gatehouse"
)

// KeyStorage is where a KeySet keeps its keys: one document, the JSON of the key file (see
// keyFile), that the set reads, changes and writes back whole. FileStorage keeps it in a file,
// the default; a database adapter keeps it in a table (wrapped in SealedStorage, so that it is
// encrypted at rest), which lets instances on different machines share keys, rotation and
// retirement without sharing a file system.
//
// The KeySet decides everything (which key signs, when to rotate and retire); a storage only
// keeps bytes and serialises writers. Calls are bounded by the storage itself.
type KeyStorage interface {
	// Load returns the stored document, or an error wrapping gatehouse.ErrNotFound when
	// nothing is stored yet.
	Load() ([]byte, error)
	// Store writes doc. With create, it writes only when nothing is stored yet and returns an
	// error wrapping gatehouse.ErrConflict otherwise (another process stored keys first).
	Store(doc []byte, create bool) error
	// Lock takes an exclusive lock that serialises read-change-write cycles across every
	// process sharing the storage, blocking until it is free; unlock releases it.
	Lock() (unlock func(), err error)
	// String names the storage in messages, such as "key file /var/lib/gatehouse/keys.json".
	String() string
}

// FileStorage is the key file at its path: read refusing a file that group or others may
// access, written atomically (a 0600 temporary file, fsync, rename; a directory created 0700),
// locked with an advisory lock on path+".lock" where the platform has one.
type FileStorage string

var _ KeyStorage = FileStorage("")

// Load reads the key file.
func (p FileStorage) Load() ([]byte, error) {
	raw, err := readKeyFile(string(p))
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("token: %s: %w (%w)", p, gatehouse.ErrNotFound, err)
	}
	return raw, err
}

// Store writes the key file; with create it never replaces an existing file.
func (p FileStorage) Store(doc []byte, create bool) error {
	return writeKeyBytes(string(p), doc, create)
}

// Lock takes the advisory lock of the key file.
func (p FileStorage) Lock() (func(), error) { return lockKeyFile(string(p)) }

func (p FileStorage) String() string { return "key file " + string(p) }

// ReadKeys loads and checks the key document of store without creating or changing anything
// (backups copy it), and returns it with the kids it holds, oldest first.
func ReadKeys(store KeyStorage) (doc []byte, kids []string, err error) {
	doc, err = store.Load()
	if err != nil {
		return nil, nil, err
	}
	f, err := parseKeyFile(store, doc)
	if err != nil {
		return nil, nil, err
	}
	for _, k := range f.Keys {
		kids = append(kids, k.KID)
	}
	return doc, kids, nil
}

// CopyKeys stores the key document doc (as ReadKeys returns it) in an empty storage to, after
// checking it. When to already holds the very same keys (an earlier copy), it does nothing;
// when it holds other keys it returns an error wrapping gatehouse.ErrConflict and changes
// nothing: keys are never replaced by a copy.
func CopyKeys(doc []byte, to KeyStorage) error {
	src, err := parseKeyFile(FileStorage("being copied"), doc)
	if err != nil {
		return err
	}
	err = to.Store(doc, true)
	if !errors.Is(err, gatehouse.ErrConflict) {
		return err
	}
	have, err := to.Load()
	if err != nil {
		return err
	}
	dst, err := parseKeyFile(to, have)
	if err != nil {
		return err
	}
	if !sameKeys(src, dst) {
		return fmt.Errorf("token: %s already holds other signing keys: %w", to, gatehouse.ErrConflict)
	}
	return nil
}

// sameKeys reports whether a and b hold the same keys in the same order.
func sameKeys(a, b *keyFile) bool {
	if len(a.Keys) != len(b.Keys) {
		return false
	}
	for i := range a.Keys {
		ka, kb := a.Keys[i], b.Keys[i]
		if ka.KID != kb.KID || ka.Alg != kb.Alg || ka.Key != kb.Key || !ka.ActivatesAt.Equal(kb.ActivatesAt) {
			return false
		}
	}
	return true
}
