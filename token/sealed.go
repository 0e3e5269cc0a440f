package token

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
)

// KEKSize is the size of a key-encryption key, in bytes (AES-256).
const KEKSize = 32

// sealMagic starts every sealed document: a format tag, also the additional data of the
// encryption, so that a document of another format is never decrypted as this one.
var sealMagic = []byte("gatehouse-keys-aes256gcm-v1:")

// ErrWrongKEK is the error of a sealed storage whose document the key-encryption key does not
// open: a wrong key, or a document sealed under another one (or altered).
var ErrWrongKEK = errors.New("token: the key-encryption key does not open the stored signing keys")

// sealedStorage keeps the document of its inner storage encrypted.
type sealedStorage struct {
	inner KeyStorage
	aead  cipher.AEAD
}

// SealedStorage returns a KeyStorage that keeps the key document in inner encrypted with
// AES-256-GCM under kek (KEKSize bytes), a fresh random nonce each time it stores, so that
// whoever reads inner (a database dump, a backup of it, its administrator) holds no usable
// key. Load returns an error wrapping ErrWrongKEK when kek does not open the stored document;
// callers must then refuse to go on, never store new keys over it.
func SealedStorage(inner KeyStorage, kek []byte) (KeyStorage, error) {
	if len(kek) != KEKSize {
		return nil, fmt.Errorf("token: a key-encryption key has %d bytes, not %d", KEKSize, len(kek))
	}
	block, err := aes.NewCipher(kek)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &sealedStorage{inner: inner, aead: aead}, nil
}

// Load reads and opens the stored document.
func (s *sealedStorage) Load() ([]byte, error) {
	sealed, err := s.inner.Load()
	if err != nil {
		return nil, err
	}
	rest, ok := bytes.CutPrefix(sealed, sealMagic)
	n := s.aead.NonceSize()
	if !ok || len(rest) < n+s.aead.Overhead() {
		return nil, fmt.Errorf("token: %s does not hold sealed signing keys (%d bytes of another format)", s.inner, len(sealed))
	}
	doc, err := s.aead.Open(nil, rest[:n], rest[n:], sealMagic)
	if err != nil {
		return nil, fmt.Errorf("%w in %s: a wrong key-encryption key, or keys sealed under another one", ErrWrongKEK, s.inner)
	}
	return doc, nil
}

// Store seals doc and stores it.
func (s *sealedStorage) Store(doc []byte, create bool) error {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce)
	out := append(append(append([]byte(nil), sealMagic...), nonce...), s.aead.Seal(nil, nonce, doc, sealMagic)...)
	return s.inner.Store(out, create)
}

func (s *sealedStorage) Lock() (func(), error) { return s.inner.Lock() }
func (s *sealedStorage) String() string        { return s.inner.String() + " (sealed)" }

// ParseKEK decodes a key-encryption key as a file or an environment variable holds it: 32
// bytes in base64 (standard or URL alphabet, padded or not) or in hex, surrounding white space
// ignored. "openssl rand -base64 32" and "gatehouse keys new-kek" make one.
func ParseKEK(text []byte) ([]byte, error) {
	s := string(bytes.TrimSpace(text))
	if len(s) == 2*KEKSize {
		if b, err := hex.DecodeString(s); err == nil {
			return b, nil
		}
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KEKSize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("token: a key-encryption key must be %d random bytes in base64 or hex (openssl rand -base64 32); this one is not", KEKSize)
}

// NewKEK returns a new key-encryption key from crypto/rand, in base64.
func NewKEK() string {
	b := make([]byte, KEKSize)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// Reseal stores the key document of old in next, under old's lock: old and next are the same
// storage sealed under two key-encryption keys, the one in use and its replacement. The
// document is checked before it is stored; on any error nothing changes.
func Reseal(old, next KeyStorage) error {
	unlock, err := old.Lock()
	if err != nil {
		return err
	}
	defer unlock()
	doc, _, err := ReadKeys(old)
	if err != nil {
		return err
	}
	return next.Store(doc, false)
}
