package argon2

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Params are the argon2id cost parameters. They travel inside every encoded hash, so a change
// of parameters never invalidates stored hashes: Verify reads the old ones, and reports that the
// hash should be refreshed.
type Params struct {
	Memory  uint32 // memory in KiB
	Time    uint32 // number of passes over the memory
	Threads uint8  // degree of parallelism (lanes)
	SaltLen uint32 // salt length in bytes
	KeyLen  uint32 // derived key length in bytes
}

// DefaultParams are the parameters OWASP's Password Storage Cheat Sheet recommends for argon2id:
// 19 MiB of memory, 2 passes, 1 lane, with a 16-byte salt and a 32-byte key.
var DefaultParams = Params{Memory: 19 * 1024, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Limits on parameters. Decode rejects an encoded hash outside them, so that a hostile or
// corrupted stored hash cannot make Verify allocate gigabytes or spin for minutes; New rejects
// parameters outside them, so that every hash the Hasher makes can be verified again.
const (
	MaxMemory  = 1 << 20 // KiB (1 GiB)
	MaxTime    = 100
	MaxThreads = 64
	MinSaltLen = 8 // the reference implementation's minimum
	MaxSaltLen = 64
	MinKeyLen  = 16 // 128 bits; shorter keys make false matches plausible
	MaxKeyLen  = 128

	// maxEncodedLen bounds the input Decode looks at; the longest valid encoding (1 GiB,
	// 100 passes, 64 lanes, 64-byte salt, 128-byte key) is about 300 bytes.
	maxEncodedLen = 512
)

// ErrInvalidHash is wrapped by every error Decode returns: the encoded hash is malformed, is
// not argon2id version 19, or has parameters outside the limits.
var ErrInvalidHash = errors.New("argon2: invalid encoded hash")

// Validate reports whether p lies within the limits above: 1 <= Threads <= MaxThreads,
// 8*Threads <= Memory <= MaxMemory, 1 <= Time <= MaxTime, MinSaltLen <= SaltLen <= MaxSaltLen
// and MinKeyLen <= KeyLen <= MaxKeyLen.
func (p Params) Validate() error {
	switch {
	case p.Threads < 1 || p.Threads > MaxThreads:
		return fmt.Errorf("argon2: parallelism %d not in [1, %d]", p.Threads, MaxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > MaxMemory:
		return fmt.Errorf("argon2: memory %d KiB not in [8*parallelism, %d]", p.Memory, MaxMemory)
	case p.Time < 1 || p.Time > MaxTime:
		return fmt.Errorf("argon2: time %d not in [1, %d]", p.Time, MaxTime)
	case p.SaltLen < MinSaltLen || p.SaltLen > MaxSaltLen:
		return fmt.Errorf("argon2: salt length %d not in [%d, %d]", p.SaltLen, MinSaltLen, MaxSaltLen)
	case p.KeyLen < MinKeyLen || p.KeyLen > MaxKeyLen:
		return fmt.Errorf("argon2: key length %d not in [%d, %d]", p.KeyLen, MinKeyLen, MaxKeyLen)
	}
	return nil
}

// Encode returns the PHC string form of an argon2id hash,
// "$argon2id$v=19$m=<memory>,t=<time>,p=<threads>$<salt>$<key>", with salt and key in unpadded
// standard base64: the format of the reference implementation and of libsodium, so that hashes
// move between them and gatehouse. p.SaltLen and p.KeyLen are ignored; the lengths of salt and
// key are what they are.
func Encode(p Params, salt, key []byte) string {
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=19$m=%d,t=%d,p=%d$%s$%s",
		p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Decode parses a PHC string made by Encode (or by the reference implementation). It is strict:
// the algorithm must be argon2id, the version 19, the parameters exactly "m=,t=,p=" in that
// order with canonical decimal numbers, salt and key canonical unpadded standard base64, and
// everything within the limits of Params.Validate. The returned Params carry the lengths of
// salt and key. Every error wraps ErrInvalidHash; Decode never panics.
func Decode(encoded string) (p Params, salt, key []byte, err error) {
	if len(encoded) > maxEncodedLen {
		return Params{}, nil, nil, fmt.Errorf("%w: longer than %d bytes", ErrInvalidHash, maxEncodedLen)
	}
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" {
		return Params{}, nil, nil, fmt.Errorf("%w: want 5 fields separated by $", ErrInvalidHash)
	}
	if parts[1] != "argon2id" {
		return Params{}, nil, nil, fmt.Errorf("%w: algorithm is not argon2id", ErrInvalidHash)
	}
	if parts[2] != "v=19" {
		return Params{}, nil, nil, fmt.Errorf("%w: version is not v=19", ErrInvalidHash)
	}
	if p, err = decodeCosts(parts[3]); err != nil {
		return Params{}, nil, nil, err
	}
	if salt, err = decodeB64("salt", parts[4]); err != nil {
		return Params{}, nil, nil, err
	}
	if key, err = decodeB64("key", parts[5]); err != nil {
		return Params{}, nil, nil, err
	}
	p.SaltLen, p.KeyLen = uint32(len(salt)), uint32(len(key))
	if err := p.Validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %v", ErrInvalidHash, err)
	}
	return p, salt, key, nil
}

// decodeCosts parses "m=<memory>,t=<time>,p=<threads>".
func decodeCosts(s string) (Params, error) {
	fields := strings.Split(s, ",")
	if len(fields) != 3 {
		return Params{}, fmt.Errorf("%w: want parameters m=,t=,p=", ErrInvalidHash)
	}
	var vals [3]uint32
	for i, name := range []string{"m=", "t=", "p="} {
		digits, ok := strings.CutPrefix(fields[i], name)
		if !ok {
			return Params{}, fmt.Errorf("%w: want parameters m=,t=,p= in that order", ErrInvalidHash)
		}
		v, err := parseUint32(digits)
		if err != nil {
			return Params{}, fmt.Errorf("%w: parameter %s%q: %v", ErrInvalidHash, name, digits, err)
		}
		vals[i] = v
	}
	if vals[2] > MaxThreads {
		return Params{}, fmt.Errorf("%w: parallelism %d over %d", ErrInvalidHash, vals[2], MaxThreads)
	}
	return Params{Memory: vals[0], Time: vals[1], Threads: uint8(vals[2])}, nil
}

// parseUint32 accepts only canonical decimal: ASCII digits, no sign, no leading zero.
func parseUint32(s string) (uint32, error) {
	if s == "" || len(s) > 10 || (len(s) > 1 && s[0] == '0') {
		return 0, errors.New("not a canonical decimal number")
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, errors.New("not a canonical decimal number")
		}
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return uint32(v), nil
}

// decodeB64 decodes canonical unpadded standard base64. The alphabet check comes first because
// the decoder silently skips CR and LF, which would give one hash many spellings.
func decodeB64(field, s string) ([]byte, error) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/') {
			return nil, fmt.Errorf("%w: %s is not unpadded standard base64", ErrInvalidHash, field)
		}
	}
	b, err := base64.RawStdEncoding.Strict().DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalidHash, field, err)
	}
	return b, nil
}
