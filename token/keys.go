package token

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-auth/gatehouse"
)

// Signing algorithms a KeySet can hold. A key is bound to its algorithm: it is only ever used
// with it.
const (
	AlgEdDSA = "EdDSA" // Ed25519, the default
	AlgES256 = "ES256" // ECDSA on P-256 with SHA-256
	AlgHS256 = "HS256" // HMAC with SHA-256; the secret never leaves the server
	// AlgRS256 is RSASSA-PKCS1-v1_5 with SHA-256 on a 2048-bit key: never an access-token
	// algorithm, only an extra one (KeyOptions.ExtraAlgs) for the OpenID Provider's ID tokens,
	// which OpenID Connect requires every provider to offer.
	AlgRS256 = "RS256"
)

// MinHMACSecret is the smallest accepted HS256 secret, in bytes.
const MinHMACSecret = 32

// unknownKIDReloadEvery is how often a token naming an unknown kid may make the key set re-read
// its file.
const unknownKIDReloadEvery = time.Second

// KeyOptions configures LoadKeySet and RotateFile.
type KeyOptions struct {
	// Alg is the signing algorithm: AlgEdDSA (the default when empty), AlgES256 or AlgHS256.
	Alg string
	// HMACSecret is the HS256 secret from the configuration, at least MinHMACSecret bytes.
	// When it is empty and Alg is HS256, a random 32-byte secret is generated and kept in the
	// key file. Other algorithms ignore it.
	HMACSecret []byte
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// PublishAhead is how long a key added by Rotate or by Maintain's schedule is published
	// (in the key file and the JWKS, verifying) before it signs: long enough for every
	// instance sharing the key file to load it and for JWKS consumers to fetch it, so that no
	// token is ever signed with a key a verifier cannot know yet. Zero: the new key signs at
	// once. The first key of a new file, or of a newly chosen algorithm, always signs at once.
	PublishAhead time.Duration
	// RequireKeys makes LoadKeySet refuse a key file that is missing or holds no key, with an
	// error wrapping ErrNoKeys, instead of creating a key: set it when tokens signed with the
	// file's keys may exist (the server already has accounts), so that a lost, emptied or
	// unmounted key file stops the server instead of being silently replaced.
	RequireKeys bool
	// ExtraAlgs are further asymmetric algorithms (EdDSA, ES256, RS256; not Alg) whose keys
	// the set keeps: one of each is added when missing, each rotation adds one of each, they
	// are published in the JWKS and retired like the others, but they never sign access
	// tokens; PrivateSigningKeyFor hands them to the OpenID Provider for ID tokens.
	ExtraAlgs []string
}

// ErrNoKeys is the error of LoadKeySet with KeyOptions.RequireKeys for a key file that is
// missing or holds no key.
var ErrNoKeys = errors.New("token: no signing key to keep using")

// KeySet holds the signing and verification keys of one key file. The newest active key of the
// configured algorithm signs (a key added with a publish-ahead time is active from its
// activates_at on); every key in the file verifies tokens of its own algorithm.
// Lookups read an immutable snapshot through an atomic pointer, so they take no lock.
type KeySet struct {
	store KeyStorage // nil for a remote key set
	opts  KeyOptions

	snap atomic.Pointer[snapshot]
	// mu serialises Reload and Rotate (readers never take it).
	mu sync.Mutex
	// lastUnknown is the Unix nanosecond time of the last reload caused by an unknown kid.
	lastUnknown atomic.Int64

	// fetch, for a remote key set (NewRemoteKeySet), returns the JWK Set; refetchEvery is the
	// least time between two fetches caused by unknown kids.
	fetch        func() ([]byte, error)
	refetchEvery time.Duration
}

// snapshot is an immutable view of the key file.
type snapshot struct {
	keys    []*key // in file order, oldest first
	byKID   map[string]*key
	signers []*key // the keys that may sign under the options, in file order
	// extra are the keys of each extra algorithm (KeyOptions.ExtraAlgs), in file order.
	extra  map[string][]*key
	jwks   []byte
	digest [sha256.Size]byte // of the file content it was built from
}

// LoadKeySet opens the key file at path, creating it (mode 0600, directory 0700) with one
// generated key of opts.Alg when it does not exist (with opts.RequireKeys: ErrNoKeys when it
// does not exist or holds no key). An existing file that cannot be read, is
// not valid, is readable by group or others, or holds a key that is too short is an error: it
// is never replaced. When the file holds no key of opts.Alg (for HS256 with opts.HMACSecret: no
// key with that secret), one is added and the file rewritten. HS256 secrets shorter than
// MinHMACSecret bytes are an error. It is OpenKeySet on FileStorage(path).
func LoadKeySet(path string, opts KeyOptions) (*KeySet, error) {
	return OpenKeySet(FileStorage(path), opts)
}

// OpenKeySet opens the keys kept in store, as LoadKeySet does for a file: when store holds
// nothing, it stores one generated key of opts.Alg (of processes starting at once, the first
// to store wins and the others load its key); a document that cannot be loaded or is not
// valid is an error, and is never replaced.
func OpenKeySet(store KeyStorage, opts KeyOptions) (*KeySet, error) {
	opts, err := normalizeKeyOptions(opts)
	if err != nil {
		return nil, err
	}
	ks := &KeySet{store: store, opts: opts}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	f, raw, err := loadOrCreateKeyFile(store, opts)
	if err != nil {
		return nil, err
	}
	if !f.hasSigningKey(opts) {
		if f, raw, err = ks.addSigningKey(); err != nil {
			return nil, err
		}
	}
	for _, alg := range opts.ExtraAlgs {
		if !f.hasKeyOf(alg) {
			if f, raw, err = ks.addExtraKey(alg); err != nil {
				return nil, err
			}
		}
	}
	if err := ks.install(f, raw); err != nil {
		return nil, err
	}
	return ks, nil
}

// addExtraKey adds a key of the extra algorithm alg under the storage's lock, unless one was
// added meanwhile. The caller holds ks.mu.
func (ks *KeySet) addExtraKey(alg string) (*keyFile, []byte, error) {
	unlock, err := ks.store.Lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	f, raw, err := ks.read()
	if err != nil || f.hasKeyOf(alg) {
		return f, raw, err
	}
	return addKeysAndWrite(ks.store, f, ks.opts.Now(), 0, false, alg)
}

// addSigningKey adds a key of the configured algorithm under the storage's lock, unless a key
// that can sign was added meanwhile. The caller holds ks.mu.
func (ks *KeySet) addSigningKey() (*keyFile, []byte, error) {
	unlock, err := ks.store.Lock()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	f, raw, err := ks.read()
	if err != nil || f.hasSigningKey(ks.opts) {
		return f, raw, err
	}
	return addKeyAndWrite(ks.store, f, ks.opts, ks.opts.HMACSecret, false, 0)
}

// read loads and parses the stored document.
func (ks *KeySet) read() (*keyFile, []byte, error) {
	raw, err := ks.store.Load()
	if err != nil {
		return nil, nil, err
	}
	f, err := parseKeyFile(ks.store, raw)
	if err != nil {
		return nil, nil, err
	}
	return f, raw, nil
}

// RotateFile adds a new signing key to the key file at path (creating the file first if
// needed) and returns the new key's kid. It is what `gatehouse keys rotate` runs; a running
// server picks the new key up on its next Reload.
func RotateFile(path string, opts KeyOptions) (kid string, err error) {
	return RotateKeys(FileStorage(path), opts)
}

// RotateKeys is RotateFile for keys kept in store.
func RotateKeys(store KeyStorage, opts KeyOptions) (kid string, err error) {
	ks, err := OpenKeySet(store, opts)
	if err != nil {
		return "", err
	}
	return ks.Rotate()
}

// Rotate adds a new key of the signing algorithm and writes the file; the new key becomes the
// signing key at once, or after KeyOptions.PublishAhead. Older keys stay for verification. It re-reads the file first so that a rotation made
// by another process is not lost. With HS256 and a configured HMACSecret it returns an error:
// that secret is changed in the configuration.
func (ks *KeySet) Rotate() (kid string, err error) {
	if ks.opts.Alg == AlgHS256 && len(ks.opts.HMACSecret) > 0 {
		return "", errors.New("token: the HS256 secret comes from the configuration; change it there to rotate")
	}
	if ks.store == nil {
		return "", errVerifyOnly
	}
	ks.mu.Lock()
	defer ks.mu.Unlock()
	unlock, err := ks.store.Lock()
	if err != nil {
		return "", err
	}
	defer unlock()
	f, _, err := ks.read()
	if err != nil {
		return "", err
	}
	f, raw, err := addKeysAndWrite(ks.store, f, ks.opts.Now(), ks.opts.PublishAhead, false, append([]string{ks.opts.Alg}, ks.opts.ExtraAlgs...)...)
	if err != nil {
		return "", err
	}
	if err := ks.install(f, raw); err != nil {
		return "", err
	}
	return f.Keys[len(f.Keys)-1-len(ks.opts.ExtraAlgs)].KID, nil
}

// Reload re-reads the key file and reports whether its content changed since the last load.
// On any error (unreadable, corrupt, no key of the signing algorithm any more) the keys in use
// stay as they were. The server calls it on a ticker, and Verify calls it (at most once a
// second) when a token names an unknown kid.
//
// A remote key set (NewRemoteKeySet) fetches its JWK Set again instead.
func (ks *KeySet) Reload() (changed bool, err error) {
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.fetch != nil {
		return ks.reloadRemote()
	}
	if ks.store == nil {
		return false, errVerifyOnly
	}
	raw, err := ks.store.Load()
	if err != nil {
		return false, err
	}
	if sha256.Sum256(raw) == ks.snap.Load().digest {
		return false, nil
	}
	f, err := parseKeyFile(ks.store, raw)
	if err != nil {
		return false, err
	}
	if !f.hasSigningKey(ks.opts) {
		return false, fmt.Errorf("token: %s: no %s signing key any more; keeping the loaded keys", ks.store, ks.opts.Alg)
	}
	return true, ks.install(f, raw)
}

// JWKS returns the RFC 7517 JWK Set of the public keys (EdDSA and ES256, never HMAC) as JSON.
// The slice is shared: callers must not modify it.
func (ks *KeySet) JWKS() []byte { return ks.snap.Load().jwks }

// SigningAlg returns the algorithm of the signing key.
func (ks *KeySet) SigningAlg() string { return ks.opts.Alg }

// SigningKID returns the kid of the current signing key.
func (ks *KeySet) SigningKID() string { return ks.signingKey().kid }

// signingKey returns the key that signs now: the newest signer whose activation time has come.
func (ks *KeySet) signingKey() *key { return ks.snap.Load().signingAt(ks.opts.Now()) }

// signingAt returns the newest signer active at now. When none is (only a hand-edited file
// can be so), the one that activates first signs: refusing to sign would stop every login.
// It returns nil for a key set that only verifies.
func (s *snapshot) signingAt(now time.Time) *key { return newestActive(s.signers, now) }

// newestActive returns the newest of signers active at now, or the one that activates first.
func newestActive(signers []*key, now time.Time) *key {
	var first *key
	for i := len(signers) - 1; i >= 0; i-- {
		k := signers[i]
		if !now.Before(k.activatesAt) {
			return k
		}
		if first == nil || k.activatesAt.Before(first.activatesAt) {
			first = k
		}
	}
	return first
}

// KIDs returns the kids of every key in the set, oldest first.
func (ks *KeySet) KIDs() []string {
	s := ks.snap.Load()
	kids := make([]string, len(s.keys))
	for i, k := range s.keys {
		kids[i] = k.kid
	}
	return kids
}

// Path returns the key file's path, or "" when the keys are not kept in a file.
func (ks *KeySet) Path() string {
	p, _ := ks.store.(FileStorage)
	return string(p)
}

// Storage returns where the keys are kept (nil for a remote key set).
func (ks *KeySet) Storage() KeyStorage { return ks.store }

// lookup returns the key with that kid, or nil.
func (ks *KeySet) lookup(kid string) *key { return ks.snap.Load().byKID[kid] }

// lookupOrReload returns the key with that kid; when it is unknown it reloads the file first,
// at most once per unknownKIDReloadEvery, so that keys rotated by another process are found
// while hostile kids cannot make the server read the file in a loop.
func (ks *KeySet) lookupOrReload(kid string) *key {
	if k := ks.lookup(kid); k != nil {
		return k
	}
	every := unknownKIDReloadEvery
	if ks.refetchEvery > 0 {
		every = ks.refetchEvery
	}
	now := ks.opts.Now().UnixNano()
	last := ks.lastUnknown.Load()
	if now-last < int64(every) && now >= last || !ks.lastUnknown.CompareAndSwap(last, now) {
		if ks.fetch != nil {
			// A fetch may be in flight (it holds mu): wait for it, then look again.
			ks.mu.Lock()
			ks.mu.Unlock() // an empty critical section: waiting is the point
			return ks.lookup(kid)
		}
		return nil
	}
	if _, err := ks.Reload(); err != nil {
		return nil
	}
	return ks.lookup(kid)
}

// install builds a snapshot of f and publishes it. The caller holds ks.mu.
func (ks *KeySet) install(f *keyFile, raw []byte) error {
	s, err := newSnapshot(f, ks.opts, raw)
	if err != nil {
		return fmt.Errorf("token: %s: %w", ks.store, err)
	}
	ks.snap.Store(s)
	return nil
}

func newSnapshot(f *keyFile, opts KeyOptions, raw []byte) (*snapshot, error) {
	s := &snapshot{byKID: make(map[string]*key, len(f.Keys)), digest: sha256.Sum256(raw)}
	for _, fk := range f.Keys {
		k, err := fk.decode()
		if err != nil {
			return nil, err
		}
		s.keys = append(s.keys, k)
		s.byKID[k.kid] = k
		if k.signs(opts) {
			s.signers = append(s.signers, k)
		}
		if slices.Contains(opts.ExtraAlgs, k.alg) {
			if s.extra == nil {
				s.extra = map[string][]*key{}
			}
			s.extra[k.alg] = append(s.extra[k.alg], k)
		}
	}
	if len(s.signers) == 0 {
		return nil, fmt.Errorf("no %s signing key", opts.Alg)
	}
	jwks, err := buildJWKS(s.keys)
	if err != nil {
		return nil, err
	}
	s.jwks = jwks
	return s, nil
}

func normalizeKeyOptions(opts KeyOptions) (KeyOptions, error) {
	if opts.Alg == "" {
		opts.Alg = AlgEdDSA
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	switch opts.Alg {
	case AlgEdDSA, AlgES256:
		opts.HMACSecret = nil
	case AlgHS256:
		if len(opts.HMACSecret) > 0 && len(opts.HMACSecret) < MinHMACSecret {
			return opts, errors.New("token: HS256 secret must be at least 32 bytes")
		}
	default:
		return opts, fmt.Errorf("token: unsupported signing algorithm %q (want EdDSA, ES256 or HS256)", opts.Alg)
	}
	for _, a := range opts.ExtraAlgs {
		if a == opts.Alg || a != AlgEdDSA && a != AlgES256 && a != AlgRS256 {
			return opts, fmt.Errorf("token: extra algorithm %q must be EdDSA, ES256 or RS256, and not the signing algorithm", a)
		}
	}
	return opts, nil
}

// loadOrCreateKeyFile loads and parses the document of store, or stores one with a new key
// when there is none. Of processes starting at once on an empty storage, the first to store
// wins and the others load its key.
func loadOrCreateKeyFile(store KeyStorage, opts KeyOptions) (*keyFile, []byte, error) {
	raw, err := store.Load()
	if errors.Is(err, gatehouse.ErrNotFound) && opts.RequireKeys {
		return nil, nil, fmt.Errorf("%w: nothing is stored in the %s", ErrNoKeys, store)
	}
	if errors.Is(err, gatehouse.ErrNotFound) {
		f, created, werr := addKeyAndWrite(store, &keyFile{Version: keyFileVersion}, opts, opts.HMACSecret, true, 0)
		if !errors.Is(werr, gatehouse.ErrConflict) {
			return f, created, werr
		}
		raw, err = store.Load()
	}
	if err != nil {
		return nil, nil, err
	}
	f, err := parseKeyFile(store, raw)
	if err == nil && len(f.Keys) == 0 && opts.RequireKeys {
		return nil, nil, fmt.Errorf("%w: the %s holds no key", ErrNoKeys, store)
	}
	return f, raw, err
}

// addKeysAndWrite appends a new key of each of algs to f, active after ahead, and stores the
// result (only if nothing is stored yet, with create). It never makes an HS256 key.
func addKeysAndWrite(store KeyStorage, f *keyFile, now time.Time, ahead time.Duration, create bool, algs ...string) (*keyFile, []byte, error) {
	next := &keyFile{Version: keyFileVersion, Keys: f.Keys[:len(f.Keys):len(f.Keys)]}
	for _, alg := range algs {
		fk, err := generateKey(alg, nil, now, ahead)
		if err != nil {
			return nil, nil, err
		}
		next.Keys = append(next.Keys, fk)
	}
	raw, err := encodeKeyFile(next)
	if err != nil {
		return nil, nil, err
	}
	if err := store.Store(raw, create); err != nil {
		return nil, nil, err
	}
	return next, raw, nil
}

// addKeyAndWrite appends a new key of opts.Alg to f (using secret for HS256 when given), active
// after ahead, and stores the result (only if nothing is stored yet, with create).
func addKeyAndWrite(store KeyStorage, f *keyFile, opts KeyOptions, secret []byte, create bool, ahead time.Duration) (*keyFile, []byte, error) {
	fk, err := generateKey(opts.Alg, secret, opts.Now(), ahead)
	if err != nil {
		return nil, nil, err
	}
	next := &keyFile{Version: keyFileVersion, Keys: append(f.Keys[:len(f.Keys):len(f.Keys)], fk)}
	raw, err := encodeKeyFile(next)
	if err != nil {
		return nil, nil, err
	}
	if err := store.Store(raw, create); err != nil {
		return nil, nil, err
	}
	return next, raw, nil
}

// PrivateSigningKey returns the key that signs now: its kid, its algorithm and its private key
// (ed25519.PrivateKey for EdDSA, *ecdsa.PrivateKey for ES256), for a component that signs
// tokens of its own with gatehouse's keys, such as ID tokens of the OpenID Provider. ok is
// false for HS256: a shared secret must not sign tokens that other parties verify.
// PrivateSigningKeyFor returns the key of alg that signs now: the signing key when alg is the
// signing algorithm, else the newest active key of the extra algorithm alg (KeyOptions.ExtraAlgs).
// ok is false for HS256 and for an algorithm the set has no key of.
func (ks *KeySet) PrivateSigningKeyFor(alg string) (kid string, private any, ok bool) {
	if alg == ks.opts.Alg {
		kid, _, private, ok = ks.PrivateSigningKey()
		return kid, private, ok
	}
	k := newestActive(ks.snap.Load().extra[alg], ks.opts.Now())
	if k == nil || k.alg == AlgHS256 {
		return "", nil, false
	}
	return k.kid, k.sign, true
}

// ExtraAlgs returns the extra algorithms the set keeps keys of (KeyOptions.ExtraAlgs).
func (ks *KeySet) ExtraAlgs() []string { return slices.Clone(ks.opts.ExtraAlgs) }

func (ks *KeySet) PrivateSigningKey() (kid, alg string, private any, ok bool) {
	k := ks.signingKey()
	if k == nil || k.alg == AlgHS256 {
		return "", "", nil, false
	}
	return k.kid, k.alg, k.sign, true
}
