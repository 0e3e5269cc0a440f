// Package gatehouse holds the domain types of the gatehouse authentication server and the small
// interfaces that its adapters implement: UserStore, SessionStore, RefreshStore, RevocationStore and
// PasswordHasher. It imports only the standard library; every backend (memory, SQLite, Redis,
// PostgreSQL) lives in a package of its own, and cmd/gatehouse wires them together.
//
// gatehouse answers "which user sent this request?" in two ways: a stateful opaque session id in a
// cookie, looked up in a SessionStore, and a stateless signed JWT access token that carries the
// user's identity. The hybrid pairs a short-lived access token with a rotating refresh token, and
// revocation (per token id and per user "not before" time) covers both.
package gatehouse

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base32"
	"encoding/base64"
	"encoding/binary"
	"time"
)

// Now is the default clock. Every component that reads the time takes a func() time.Time so
// that tests can inject their own.
func Now() time.Time { return time.Now() }

// Hash is the SHA-256 digest of a secret (a session id or a refresh token). Stores keep only
// hashes, never the secrets themselves.
type Hash [sha256.Size]byte

// HashSecret returns the SHA-256 digest of secret. For secrets of the usual size it does not
// allocate (the bytes are copied to a stack buffer).
func HashSecret(secret string) Hash {
	var buf [64]byte
	if len(secret) > len(buf) {
		return sha256.Sum256([]byte(secret))
	}
	return sha256.Sum256(append(buf[:0], secret...))
}

// SecretBytes is the number of random bytes in a session id or refresh token (256 bits).
const SecretBytes = 32

// NewSecret returns SecretBytes bytes from crypto/rand, encoded as unpadded base64url
// (43 characters).
func NewSecret() string {
	var b [SecretBytes]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never returns an error (Go 1.24+); it crashes instead.
	return base64.RawURLEncoding.EncodeToString(b[:])
}

// ValidSecret reports whether s has the exact shape NewSecret produces. Callers use it to
// reject hostile cookies and tokens before hashing or looking anything up. It does not allocate.
func ValidSecret(s string) bool {
	if len(s) != secretLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		if b64Value(s[i]) < 0 {
			return false
		}
	}
	// 32 bytes are 256 bits; the 43rd character carries only 4 of its 6 bits. Reject
	// non-canonical encodings (low 2 bits set) so that one secret has exactly one spelling.
	return b64Value(s[secretLen-1])&3 == 0
}

var secretLen = base64.RawURLEncoding.EncodedLen(SecretBytes)

// b64Value returns the value of a base64url character, or -1.
func b64Value(c byte) int {
	switch {
	case c >= 'A' && c <= 'Z':
		return int(c - 'A')
	case c >= 'a' && c <= 'z':
		return int(c-'a') + 26
	case c >= '0' && c <= '9':
		return int(c-'0') + 52
	case c == '-':
		return 62
	case c == '_':
		return 63
	}
	return -1
}

var idEncoding = base32.NewEncoding("0123456789abcdefghjkmnpqrstvwxyz").WithPadding(base32.NoPadding)

// NewID returns a new opaque identifier (user ids, session handles, refresh families, token
// ids): 48 bits of milliseconds since the Unix epoch followed by 80 random bits, in lower-case
// Crockford base32 (26 characters). Ids created later sort after earlier ones, which keeps
// pagination stable, and the random part makes them unguessable.
func NewID(now time.Time) string {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], uint64(now.UnixMilli())<<16)
	_, _ = rand.Read(b[6:])
	return idEncoding.EncodeToString(b[:])
}

// IDTime returns the time, to the millisecond, that NewID stamped into id; ok is false when
// id does not have the shape of an id.
func IDTime(id string) (t time.Time, ok bool) {
	if !ValidID(id) {
		return time.Time{}, false
	}
	b, err := idEncoding.DecodeString(id)
	if err != nil || len(b) != 16 {
		return time.Time{}, false
	}
	return time.UnixMilli(int64(binary.BigEndian.Uint64(b[:8]) >> 16)), true
}

// ValidID reports whether s has the shape of an id made by NewID. Handlers use it to answer
// not_found for garbage without asking a store.
func ValidID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z') || c == 'i' || c == 'l' || c == 'o' || c == 'u' {
			return false
		}
	}
	return true
}

// SessionHandle returns the public handle of the session whose secret hashes to h: the first
// 128 bits of h in NewID's alphabet (26 characters; ValidID accepts it). A handle can be shown
// and used to revoke its session but never to authenticate: that takes the secret, a preimage
// of all 256 bits of h. Deriving the handle from h lets a store find a session by its handle
// without keeping an index of handles (the Redis store does so).
func SessionHandle(h Hash) string { return idEncoding.EncodeToString(h[:16]) }

// IDBytes returns the 16 bytes that the id s (as NewID or SessionHandle write it) encodes, and
// false if s is not the canonical spelling of 16 bytes.
func IDBytes(s string) (b [16]byte, ok bool) {
	if !ValidID(s) {
		return b, false
	}
	n, err := idEncoding.Decode(b[:], []byte(s))
	if err != nil || n != len(b) || idEncoding.EncodeToString(b[:]) != s {
		return b, false
	}
	return b, true
}
