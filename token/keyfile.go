package token

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/gatehouse-auth/gatehouse"
)

const keyFileVersion = 1

// maxKeyFileSize bounds what LoadKeySet and Reload read.
const maxKeyFileSize = 1 << 20

// maxKIDLen bounds the kids accepted from the key file and from tokens.
const maxKIDLen = 128

// keyFile is the JSON layout of the key file:
//
//	{"version": 1, "keys": [{"kid": "...", "alg": "EdDSA", "created_at": "...", "key": "<base64url>"}]}
//
// A key added by a rotation with KeyOptions.PublishAhead also has "activates_at": it is published
// (JWKS) and verifies from the start, but signs only from that time on.
//
// key is the Ed25519 seed (32 bytes), the P-256 private scalar (32 bytes, big-endian), the
// RSA private key (PKCS #1 DER, at least 2048 bits) or the HMAC secret (at least 32 bytes). Keys are appended, so the file lists them oldest first.
type keyFile struct {
	Version int       `json:"version"`
	Keys    []fileKey `json:"keys"`
}

type fileKey struct {
	KID       string    `json:"kid"`
	Alg       string    `json:"alg"`
	CreatedAt time.Time `json:"created_at"`
	// ActivatesAt, when set, is the time from which the key may sign.
	ActivatesAt time.Time `json:"activates_at,omitzero"`
	Key         string    `json:"key"`
}

// activeFrom is when fk began, or begins, to sign: its activation time, else its creation.
func (fk fileKey) activeFrom() time.Time {
	if fk.ActivatesAt.After(fk.CreatedAt) {
		return fk.ActivatesAt
	}
	return fk.CreatedAt
}

// key is a decoded key: the private half signs, verify is what the JWT library verifies with
// (ed25519.PublicKey, *ecdsa.PublicKey or the HMAC secret).
type key struct {
	kid       string
	alg       string
	createdAt time.Time
	// activatesAt is when the key may start signing (the zero time: at once).
	activatesAt time.Time
	method      jwt.SigningMethod
	sign        any
	verify      any
	secret      []byte // HS256 only
}

// signs reports whether k may be the signing key under opts.
func (k *key) signs(opts KeyOptions) bool {
	if k.alg != opts.Alg {
		return false
	}
	if k.alg == AlgHS256 && len(opts.HMACSecret) > 0 {
		return subtle.ConstantTimeCompare(k.secret, opts.HMACSecret) == 1
	}
	return true
}

// hasKeyOf reports whether f holds a usable key of alg.
func (f *keyFile) hasKeyOf(alg string) bool {
	for _, fk := range f.Keys {
		if k, err := fk.decode(); err == nil && k.alg == alg {
			return true
		}
	}
	return false
}

// hasSigningKey reports whether f holds a key that can sign under opts.
func (f *keyFile) hasSigningKey(opts KeyOptions) bool {
	for _, fk := range f.Keys {
		if k, err := fk.decode(); err == nil && k.signs(opts) {
			return true
		}
	}
	return false
}

// readKeyFile reads the key file, refusing one that group or others may read.
func readKeyFile(path string) ([]byte, error) {
	fh, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, err
		}
		return nil, fmt.Errorf("token: cannot read key file: %w", err)
	}
	defer fh.Close()
	st, err := fh.Stat()
	if err != nil {
		return nil, fmt.Errorf("token: cannot read key file: %w", err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("token: cannot read key file %s: not a regular file", path)
	}
	if perm := st.Mode().Perm(); perm&0o077 != 0 {
		return nil, fmt.Errorf("token: key file %s has mode %04o: it must not be accessible by group or others (chmod 600 it)", path, perm)
	}
	raw, err := io.ReadAll(io.LimitReader(fh, maxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("token: cannot read key file: %w", err)
	}
	if len(raw) > maxKeyFileSize {
		return nil, fmt.Errorf("token: key file %s is larger than %d bytes", path, maxKeyFileSize)
	}
	return raw, nil
}

// parseKeyFile decodes and checks every key of the document read from store.
func parseKeyFile(store KeyStorage, raw []byte) (*keyFile, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	var f keyFile
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("token: %s is corrupt: %w", store, err)
	}
	if dec.More() {
		return nil, fmt.Errorf("token: %s is corrupt: trailing data", store)
	}
	if f.Version != keyFileVersion {
		return nil, fmt.Errorf("token: %s: unsupported version %d", store, f.Version)
	}
	seen := make(map[string]bool, len(f.Keys))
	for i, fk := range f.Keys {
		if _, err := fk.decode(); err != nil {
			return nil, fmt.Errorf("token: %s: key %d: %w", store, i, err)
		}
		if seen[fk.KID] {
			return nil, fmt.Errorf("token: %s: duplicate kid %q", store, fk.KID)
		}
		seen[fk.KID] = true
	}
	return &f, nil
}

// decode checks fk and returns the usable key.
func (fk fileKey) decode() (*key, error) {
	if fk.KID == "" || len(fk.KID) > maxKIDLen {
		return nil, fmt.Errorf("kid must have 1 to %d characters", maxKIDLen)
	}
	b, err := base64.RawURLEncoding.DecodeString(fk.Key)
	if err != nil {
		return nil, fmt.Errorf("kid %q: key is not base64url: %w", fk.KID, err)
	}
	k := &key{kid: fk.KID, alg: fk.Alg, createdAt: fk.CreatedAt, activatesAt: fk.ActivatesAt}
	switch fk.Alg {
	case AlgEdDSA:
		err = k.setEd25519(b)
	case AlgES256:
		err = k.setES256(b)
	case AlgHS256:
		err = k.setHS256(b)
	case AlgRS256:
		err = k.setRS256(b)
	default:
		err = fmt.Errorf("unsupported alg %q", fk.Alg)
	}
	if err != nil {
		return nil, fmt.Errorf("kid %q: %w", fk.KID, err)
	}
	return k, nil
}

func (k *key) setEd25519(seed []byte) error {
	if len(seed) != ed25519.SeedSize {
		return fmt.Errorf("Ed25519 seed has %d bytes, want %d", len(seed), ed25519.SeedSize)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	k.method, k.sign, k.verify = jwt.SigningMethodEdDSA, priv, priv.Public().(ed25519.PublicKey)
	return nil
}

func (k *key) setES256(d []byte) error {
	if len(d) != 32 {
		return fmt.Errorf("P-256 private key has %d bytes, want 32", len(d))
	}
	priv, err := ecdsa.ParseRawPrivateKey(elliptic.P256(), d)
	if err != nil {
		return fmt.Errorf("invalid P-256 private key: %w", err)
	}
	k.method, k.sign, k.verify = jwt.SigningMethodES256, priv, &priv.PublicKey
	return nil
}

// minRSABits is the smallest RSA key accepted (NIST SP 800-57: 2048 bits until 2030).
const minRSABits = 2048

func (k *key) setRS256(der []byte) error {
	priv, err := x509.ParsePKCS1PrivateKey(der)
	if err != nil {
		return fmt.Errorf("invalid RSA private key: %w", err)
	}
	if priv.N.BitLen() < minRSABits {
		return fmt.Errorf("RSA key has %d bits, want at least %d", priv.N.BitLen(), minRSABits)
	}
	k.method, k.sign, k.verify = jwt.SigningMethodRS256, priv, &priv.PublicKey
	return nil
}

func (k *key) setHS256(secret []byte) error {
	if len(secret) < MinHMACSecret {
		return fmt.Errorf("HS256 secret has %d bytes: it must be at least %d bytes", len(secret), MinHMACSecret)
	}
	k.method, k.sign, k.verify, k.secret = jwt.SigningMethodHS256, secret, secret, secret
	return nil
}

// generateKey makes a new key of alg with a random kid, signing from now + ahead when ahead is
// positive. For HS256 it uses secret when given, else 32 random bytes.
func generateKey(alg string, secret []byte, now time.Time, ahead time.Duration) (fileKey, error) {
	var raw []byte
	switch alg {
	case AlgEdDSA:
		raw = make([]byte, ed25519.SeedSize)
		_, _ = rand.Read(raw)
	case AlgES256:
		priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fileKey{}, fmt.Errorf("token: generate ES256 key: %w", err)
		}
		if raw, err = priv.Bytes(); err != nil {
			return fileKey{}, fmt.Errorf("token: generate ES256 key: %w", err)
		}
	case AlgRS256:
		priv, err := rsa.GenerateKey(rand.Reader, minRSABits)
		if err != nil {
			return fileKey{}, fmt.Errorf("token: generate RS256 key: %w", err)
		}
		raw = x509.MarshalPKCS1PrivateKey(priv)
	case AlgHS256:
		raw = append([]byte(nil), secret...)
		if len(raw) == 0 {
			raw = make([]byte, MinHMACSecret)
			_, _ = rand.Read(raw)
		}
	default:
		return fileKey{}, fmt.Errorf("token: unsupported signing algorithm %q", alg)
	}
	fk := fileKey{KID: newKID(), Alg: alg, CreatedAt: now.UTC().Truncate(time.Second), Key: base64.RawURLEncoding.EncodeToString(raw)}
	if ahead > 0 {
		// Rounded up to the second, like created_at is rounded down: never earlier than asked.
		fk.ActivatesAt = now.UTC().Add(ahead + time.Second - 1).Truncate(time.Second)
	}
	return fk, nil
}

// newKID returns 12 random bytes in base64url (16 characters).
func newKID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// encodeKeyFile returns the JSON document of f, as the key file holds it.
func encodeKeyFile(f *keyFile) ([]byte, error) {
	raw, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("token: encode key file: %w", err)
	}
	return append(raw, '\n'), nil
}

// writeKeyBytes writes raw to path atomically: a 0600 temporary file in the same directory
// (created 0700 if missing), fsync, rename, fsync of the directory. With exclusive, it never
// replaces an existing file (a hard link instead of the rename; an error wrapping
// gatehouse.ErrConflict when another process created the file first).
func writeKeyBytes(path string, raw []byte, exclusive bool) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("token: create key directory: %w", err)
	}
	tmp, err := os.CreateTemp(dir, ".keys-*.tmp")
	if err != nil {
		return fmt.Errorf("token: write key file: %w", err)
	}
	defer os.Remove(tmp.Name()) // a no-op after the rename
	if err := writeSync(tmp, raw); err != nil {
		return fmt.Errorf("token: write key file: %w", err)
	}
	if err := publishKeyFile(tmp.Name(), path, exclusive); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// publishKeyFile moves the written temporary file to path.
func publishKeyFile(tmp, path string, exclusive bool) error {
	if exclusive {
		err := os.Link(tmp, path)
		switch {
		case err == nil:
			return nil
		case errors.Is(err, os.ErrExist):
			return fmt.Errorf("token: key file %s already exists: %w", path, gatehouse.ErrConflict)
		}
		// The file system cannot link: fall back to the rename.
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("token: write key file: %w", err)
	}
	return nil
}

func writeSync(fh *os.File, raw []byte) error {
	err := fh.Chmod(0o600)
	if err == nil {
		_, err = fh.Write(raw)
	}
	if err == nil {
		err = fh.Sync()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	return err
}

// syncDir makes a rename durable. Some systems cannot fsync a directory; the rename is still
// atomic there, so errors are ignored.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync()
		d.Close()
	}
}
