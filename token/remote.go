package token

import (
	"crypto/sha256"
	"errors"
	"time"
)

// RemoteOptions configures NewRemoteKeySet.
type RemoteOptions struct {
	// MinRefetch is the least time between two fetches caused by tokens naming an unknown kid;
	// default one second. Reload is not limited by it.
	MinRefetch time.Duration
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewRemoteKeySet returns a verify-only KeySet holding the EdDSA and ES256 keys of the JWK Set
// that fetch returns (parsed as ParseJWKS does), such as a gatehouse server's
// /.well-known/jwks.json. fetch is called once now: an error, or a set with no usable key, is
// returned. It is called again by Reload, and when a token names a kid the set does not hold, at
// most once per MinRefetch; a token that arrives while such a fetch is in flight waits for it.
// A failed fetch keeps the keys in use. Keys are only ever taken from fetch, never from a token.
//
// A Service on this set needs Config.Algorithms, as the set has no signing algorithm.
func NewRemoteKeySet(fetch func() ([]byte, error), opts RemoteOptions) (*KeySet, error) {
	if fetch == nil {
		return nil, errors.New("token: NewRemoteKeySet needs a fetch function")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.MinRefetch <= 0 {
		opts.MinRefetch = unknownKIDReloadEvery
	}
	ks := &KeySet{opts: KeyOptions{Now: opts.Now}, fetch: fetch, refetchEvery: opts.MinRefetch}
	raw, err := fetch()
	if err != nil {
		return nil, err
	}
	s, err := parseJWKSSnapshot(raw)
	if err != nil {
		return nil, err
	}
	ks.snap.Store(s)
	return ks, nil
}

// reloadRemote fetches the JWK Set again. The caller holds ks.mu.
func (ks *KeySet) reloadRemote() (changed bool, err error) {
	raw, err := ks.fetch()
	if err != nil {
		return false, err
	}
	if sha256.Sum256(raw) == ks.snap.Load().digest {
		return false, nil
	}
	s, err := parseJWKSSnapshot(raw)
	if err != nil {
		return false, err
	}
	ks.snap.Store(s)
	return true, nil
}
