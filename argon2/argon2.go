// Package argon2 implements gatehouse.PasswordHasher with argon2id (golang.org/x/crypto/argon2).
//
// Hashes are PHC strings, "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>", the format of the
// reference implementation, so they move to and from other systems. The parameters travel in
// the hash: changing them never locks anyone out, and Verify reports when a stored hash was made
// with other parameters so that the caller can store a fresh one after a successful login.
//
// argon2id is memory-hard on purpose, so a burst of logins could exhaust memory. A Hasher runs
// at most Options.MaxConcurrent hashes at once (about MaxConcurrent * Params.Memory KiB), and a
// caller that cannot start within Options.MaxWait gets gatehouse.ErrBusy instead of queueing
// forever.
package argon2

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"errors"
	"fmt"
	"runtime"
	"time"

	"github.com/gatehouse-auth/gatehouse"
	"golang.org/x/crypto/argon2"
)

var _ gatehouse.PasswordHasher = (*Hasher)(nil)

// DefaultMaxWait is how long a caller waits for a hashing slot by default.
const DefaultMaxWait = 2 * time.Second

// Options configure a Hasher.
type Options struct {
	// Params are the parameters of new hashes. Each zero field takes its value from
	// DefaultParams.
	Params Params
	// MaxConcurrent is the number of hashes computed at once; zero or negative means
	// runtime.NumCPU().
	MaxConcurrent int
	// MaxWait is how long a caller waits for a slot before getting gatehouse.ErrBusy; zero or
	// negative means DefaultMaxWait (2 s).
	MaxWait time.Duration
}

// Hasher hashes and verifies passwords with argon2id. It is safe for concurrent use.
type Hasher struct {
	params  Params
	maxWait time.Duration
	sem     *semaphore
	dummy   string

	// holding, when set (by tests only), runs while a slot is held, before the key is derived.
	holding func()
}

// New returns a Hasher. It panics if the parameters (after defaults) fail Params.Validate:
// such parameters are a programming or configuration error, which callers can rule out first
// with Params.Validate.
func New(opts Options) *Hasher {
	p := withDefaults(opts.Params)
	if err := p.Validate(); err != nil {
		panic(err)
	}
	if opts.MaxConcurrent <= 0 {
		opts.MaxConcurrent = runtime.NumCPU()
	}
	if opts.MaxWait <= 0 {
		opts.MaxWait = DefaultMaxWait
	}
	h := &Hasher{
		params:  p,
		maxWait: opts.MaxWait,
		sem:     newSemaphore(int64(opts.MaxConcurrent) * int64(p.Memory)),
	}
	h.dummy = Encode(p, randomBytes(p.SaltLen), randomBytes(p.KeyLen))
	return h
}

func withDefaults(p Params) Params {
	d := DefaultParams
	if p.Memory == 0 {
		p.Memory = d.Memory
	}
	if p.Time == 0 {
		p.Time = d.Time
	}
	if p.Threads == 0 {
		p.Threads = d.Threads
	}
	if p.SaltLen == 0 {
		p.SaltLen = d.SaltLen
	}
	if p.KeyLen == 0 {
		p.KeyLen = d.KeyLen
	}
	return p
}

func randomBytes(n uint32) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+); it crashes instead.
	return b
}

// Params returns the parameters of new hashes.
func (h *Hasher) Params() Params { return h.params }

// Hash returns the PHC string of a salted argon2id hash of password. It returns an error
// wrapping gatehouse.ErrBusy when no slot frees up within MaxWait or before ctx is done.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	salt := randomBytes(h.params.SaltLen)
	key, err := h.derive(ctx, h.params, password, salt)
	if err != nil {
		return "", err
	}
	return Encode(h.params, salt, key), nil
}

// Verify reports whether password matches the PHC string encoded, comparing in constant time.
// rehash is true when the password matches and encoded was made with parameters other than
// the Hasher's (including salt and key lengths). It returns an error wrapping ErrInvalidHash
// when encoded does not Decode, and one wrapping gatehouse.ErrBusy as Hash does.
func (h *Hasher) Verify(ctx context.Context, encoded, password string) (ok, rehash bool, err error) {
	p, salt, key, err := Decode(encoded)
	if err != nil {
		return false, false, err
	}
	got, err := h.derive(ctx, p, password, salt)
	if err != nil {
		return false, false, err
	}
	ok = subtle.ConstantTimeCompare(got, key) == 1
	return ok, ok && p != h.params, nil
}

// DummyHash returns an encoded hash with the Hasher's parameters that no password matches (a
// random key under a random salt, made once in New). Verifying a password against it costs
// exactly what verifying against a real hash costs, so logins for unknown users take as long
// as logins for known ones.
func (h *Hasher) DummyHash() string { return h.dummy }

// InFlight returns the number of hashes being computed now.
func (h *Hasher) InFlight() int {
	n, _ := h.sem.counts()
	return n
}

// Waiting returns the number of callers waiting for a slot.
func (h *Hasher) Waiting() int {
	_, n := h.sem.counts()
	return n
}

// derive computes the argon2id key while holding a slot of the semaphore.
func (h *Hasher) derive(ctx context.Context, p Params, password string, salt []byte) ([]byte, error) {
	w := h.weight(p.Memory)
	if err := h.sem.acquire(ctx, w, h.maxWait); err != nil {
		var ae *acquireError
		if errors.As(err, &ae) && ae.ctxErr != nil {
			return nil, fmt.Errorf("argon2: no hashing slot before the request ended: %w: %w", gatehouse.ErrBusy, ae.ctxErr)
		}
		return nil, fmt.Errorf("argon2: no hashing slot within %v: %w", h.maxWait, gatehouse.ErrBusy)
	}
	defer h.sem.release(w)
	if h.holding != nil {
		h.holding()
	}
	return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen), nil
}

// weight is the share of the memory budget one hash of memory KiB holds: at least one slot
// (so at most MaxConcurrent hashes run at once) and at most the whole budget (so a stored hash
// with more memory than the current parameters runs alone instead of never).
func (h *Hasher) weight(memory uint32) int64 {
	w := max(int64(memory), int64(h.params.Memory))
	return min(w, h.sem.size)
}
