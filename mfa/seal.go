package mfa

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
)

// KeySize is the size of a factor key, in bytes (AES-256). It is the size and the text format
// of the server's key-encryption key, so "gatehouse keys new-kek" makes one.
const KeySize = 32

// sealMagic starts every sealed secret: a format tag, also bound into the encryption, so that
// a blob of another format is never opened as this one.
var sealMagic = []byte("gatehouse-factor-aes256gcm-v1:")

// keyIDSize is the size of the key id that follows the format tag: the first bytes of the
// SHA-256 of a key derived from the key (never the key itself), so that a sealed secret names
// the key that opens it and keys can be rotated.
const keyIDSize = 4

// ErrWrongKey is the error of a sealed secret that none of the sealer's keys opens: it was
// sealed under a key the server no longer has, for another user, or it was altered.
var ErrWrongKey = errors.New("mfa: no factor key opens the sealed secret")

// Sealer encrypts factor secrets (TOTP shared secrets) before they are stored, with
// AES-256-GCM under a server key, so that a copy of the database (a dump, a backup, its
// administrator) holds no usable secret. Each secret is bound to its user: a sealed secret
// copied to another user's row does not open.
//
// A Sealer holds one or more keys: the first seals, every one opens. To rotate, put a new key
// first and keep the old ones as long as secrets sealed under them are in use: an enrolment
// made after the rotation is sealed under the new key (Open reports when an older key opened a
// secret).
type Sealer struct {
	keys []sealerKey
}

type sealerKey struct {
	id   [keyIDSize]byte
	aead cipher.AEAD
}

// NewSealer returns a Sealer with keys (each KeySize bytes); the first one seals.
func NewSealer(keys ...[]byte) (*Sealer, error) {
	if len(keys) == 0 {
		return nil, errors.New("mfa: a sealer needs at least one factor key")
	}
	s := &Sealer{}
	for i, k := range keys {
		if len(k) != KeySize {
			return nil, fmt.Errorf("mfa: factor key %d has %d bytes, not %d", i+1, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		sk := sealerKey{aead: aead}
		idKey, err := hkdf.Key(sha256.New, k, nil, "gatehouse factor key id", sha256.Size)
		if err != nil {
			return nil, err
		}
		copy(sk.id[:], idKey)
		s.keys = append(s.keys, sk)
	}
	return s, nil
}

// DeriveKey derives a factor key from another secret key (such as the server's key-encryption
// key) with HKDF-SHA256 and a label of its own, so that the two keys are independent: neither
// can be computed from the other, and one key is never used for two purposes.
func DeriveKey(secret []byte) ([]byte, error) {
	if len(secret) < KeySize {
		return nil, fmt.Errorf("mfa: a key to derive from needs at least %d bytes", KeySize)
	}
	return hkdf.Key(sha256.New, secret, nil, "gatehouse factor secrets v1", KeySize)
}

// additional returns the data bound into the encryption of userID's secret.
func additional(userID string) []byte {
	return append(append(bytes.Clone(sealMagic), userID...), 0)
}

// Seal encrypts secret for userID under the first key, with a fresh random nonce.
func (s *Sealer) Seal(userID string, secret []byte) []byte {
	k := s.keys[0]
	nonce := make([]byte, k.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append(append(bytes.Clone(sealMagic), k.id[:]...), nonce...)
	return k.aead.Seal(out, nonce, secret, additional(userID))
}

// Open decrypts a secret sealed for userID. stale is true when a key other than the first
// opened it: the caller should seal it again. It returns an error wrapping ErrWrongKey when no
// key opens it.
func (s *Sealer) Open(userID string, sealed []byte) (secret []byte, stale bool, err error) {
	rest, ok := bytes.CutPrefix(sealed, sealMagic)
	if !ok || len(rest) < keyIDSize {
		return nil, false, fmt.Errorf("%w: not a sealed factor secret", ErrWrongKey)
	}
	id, rest := rest[:keyIDSize], rest[keyIDSize:]
	for i, k := range s.keys {
		n := k.aead.NonceSize()
		if !bytes.Equal(k.id[:], id) || len(rest) < n+k.aead.Overhead() {
			continue
		}
		secret, err := k.aead.Open(nil, rest[:n], rest[n:], additional(userID))
		if err != nil {
			return nil, false, fmt.Errorf("%w: the secret was altered, or sealed for another user", ErrWrongKey)
		}
		return secret, i > 0, nil
	}
	return nil, false, fmt.Errorf("%w: sealed under a key this server does not have", ErrWrongKey)
}
